"""WAIT's ``duration`` and ``until`` inputs, parsed without reading the clock.

Durations are Conductor's: one or more ``<number><unit>`` groups, units ``d``/``day(s)``,
``h``/``hr(s)``/``hour(s)``, ``m``/``min(s)``/``minute(s)``, ``s``/``sec(s)``/``second(s)``,
as in ``"30s"``, ``"5m"``, ``"1h 2m"``, ``"2 days"``; a bare number is seconds.

``until`` takes ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]`` and ISO-8601 timestamps,
with an optional zone: ``Z``, ``UTC``, ``GMT``, an offset (``+02:00``) or an
IANA name (``Europe/Paris``); without one, UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

_UNITS: Final = {
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
_GROUP: Final = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)\s*,?")
_MAX_SECONDS: Final = 100 * 365 * 86400


def parse_duration(value: Any) -> int | None:
    """Seconds, or None when ``value`` is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_SECONDS else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        seconds = int(text)
        return seconds if seconds <= _MAX_SECONDS else None
    total, pos = 0, 0
    while pos < len(text):
        match = _GROUP.match(text, pos)
        if match is None:
            return None
        unit = _UNITS.get(match.group(2).lower())
        if unit is None:
            return None
        total += int(match.group(1)) * unit
        pos = match.end()
    return total if total <= _MAX_SECONDS else None


def _zone(name: str) -> tzinfo | None:
    if name.upper() in ("Z", "UTC", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except Exception:
        return None


def parse_until(value: Any) -> int | None:
    """Epoch milliseconds, or None when ``value`` is not a date-time."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        head, _, zone_name = text.rpartition(" ")
        if head:
            try:
                moment = datetime.fromisoformat(head + zone_name)  # "... +02:00"
            except ValueError:
                zone = _zone(zone_name)
                if zone is not None:
                    try:
                        moment = datetime.fromisoformat(head.strip()).replace(tzinfo=zone)
                    except ValueError:
                        moment = None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return int(moment.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None
