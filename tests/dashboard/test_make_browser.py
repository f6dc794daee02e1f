"""``make test`` installs the browser the dashboard's tests drive (Debian's chromium), only when it is missing."""

from __future__ import annotations

from tests.test_makefile import _planned


def test_make_test_installs_chromium_when_it_is_missing() -> None:
    planned = _planned("test")
    install = "test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)"
    assert install in planned
    assert planned.index(install) < planned.index("bash scripts/run-tests .venv/bin/pytest")
