"""``make test`` installs the browser the dashboard's tests drive (Debian's Chromium headless shell), only when it is
missing."""

from __future__ import annotations

from tests.test_makefile import _planned


def test_make_test_installs_chromium_when_it_is_missing() -> None:
    planned = _planned("test")
    install = (
        "test -x /usr/bin/chromium-headless-shell || "
        "(apt-get update -qq && apt-get install -y -qq chromium-headless-shell)"
    )
    assert install in planned
    assert planned.index(install) < planned.index("bash scripts/run-tests .venv/bin/pytest")
