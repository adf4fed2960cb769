"""Indonesian time zones and times of day, as the configuration and every stage name them.

Indonesia keeps three fixed zones without daylight saving: WIB (+07:00, Java and Sumatra,
where most portals publish), WITA (+08:00) and WIT (+09:00). WIB is Pantau's default wherever
a time has no zone of its own: a feed date without one, a digest hour, quiet hours, the
dashboard's days. Everything here is pure and imports nothing of Pantau, so the settings layer
can validate with it without importing a pipeline stage.
"""

from __future__ import annotations

import re
from datetime import UTC, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WIB = timezone(timedelta(hours=7), "WIB")
WITA = timezone(timedelta(hours=8), "WITA")
WIT = timezone(timedelta(hours=9), "WIT")

_NAMED: dict[str, tzinfo] = {"wib": WIB, "wita": WITA, "wit": WIT, "utc": UTC}
_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_zone(name: str) -> tzinfo:
    """WIB/WITA/WIT/UTC (any case) or an IANA zone name ("Asia/Makassar").

    Raises ValueError with an operator-readable reason."""
    known = _NAMED.get(name.strip().lower())
    if known is not None:
        return known
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use WIB, WITA, WIT or an IANA name such as Asia/Jakarta)"
        ) from exc


def parse_clock(text: str) -> time:
    """'07:00' -> time(7, 0); raises ValueError with an operator-readable reason."""
    m = _CLOCK.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a time of day like '07:00' (24-hour HH:MM)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_window(text: str) -> tuple[time, time] | None:
    """'22:00-06:00' -> (start, end), a daily window that may cross midnight; '' -> None.

    Raises ValueError when malformed or empty (start == end)."""
    if not text.strip():
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a window like '22:00-06:00'")
    try:
        window = parse_clock(start), parse_clock(end)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a window like '22:00-06:00': {exc}") from exc
    if window[0] == window[1]:
        raise ValueError(f"{text!r} starts and ends at the same time; leave it empty for none")
    return window
