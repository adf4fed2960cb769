"""Date strings from Indonesian feeds -> aware UTC datetimes.

feedparser's own date handling knows English names only and reads unknown zone
abbreviations such as ``WIB`` as UTC (seven hours wrong), so every raw date string a
feed carries goes through :func:`parse_date` instead. Accepted shapes:

* RFC 822 with English or Indonesian day/month names: ``Sab, 21 Nov 2026 10:00:00 +0700``
* long Indonesian forms: ``Senin, 10 November 2025``, ``10 Agustus 2025 14.30 WIB``,
  ``Selasa, 10/11/2025 09:15 WIB`` (numeric dates are day-first, as written in Indonesia)
* ISO 8601 / W3C-DTF: ``2025-11-10T09:15:00+07:00``, ``2025-11-10T02:15:00Z``
* zones: WIB (+07:00), WITA (+08:00), WIT (+09:00), GMT/UTC/UT/Z, US RFC 822 names,
  numeric offsets (``+0700``, ``+07:00``, ``GMT+7``). No zone means ``default_tz``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from monitor.timeofday import WIB, WIT, WITA

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("jan", "januari", "january"),
        ("feb", "peb", "februari", "pebruari", "february"),
        ("mar", "maret", "march"),
        ("apr", "april"),
        ("mei", "may"),
        ("jun", "juni", "june"),
        ("jul", "juli", "july"),
        ("agu", "agt", "ags", "agus", "agustus", "aug", "august"),
        ("sep", "sept", "september"),
        ("okt", "oktober", "oct", "october"),
        ("nov", "nop", "november", "nopember"),
        ("des", "desember", "dec", "december"),
    ),
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _number

# Day names carry no information we need; they are recognised only so they are not
# mistaken for garbage (which makes the whole string unparseable).
_DAY_NAMES = frozenset(
    "sen senin sel selasa rab rabu kam kamis jum jumat sab sabtu min minggu ahad"  # noqa: SIM905
    " mon monday tue tues tuesday wed wednesday thu thur thurs thursday fri friday"
    " sat saturday sun sunday".split()
)
_FILLER = frozenset(("pukul", "jam", "at", "on", "t"))

_ZONES: dict[str, tzinfo] = {
    "wib": WIB,
    "wita": WITA,
    "wit": WIT,
    "gmt": UTC,
    "utc": UTC,
    "ut": UTC,
    "z": UTC,
    "est": timezone(timedelta(hours=-5)),
    "edt": timezone(timedelta(hours=-4)),
    "cst": timezone(timedelta(hours=-6)),
    "cdt": timezone(timedelta(hours=-5)),
    "mst": timezone(timedelta(hours=-7)),
    "mdt": timezone(timedelta(hours=-6)),
    "pst": timezone(timedelta(hours=-8)),
    "pdt": timezone(timedelta(hours=-7)),
}

_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2})(?:[.,]\d+)?)?")
_DATE = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})")
_OFFSET = re.compile(r"(?:gmt|utc|ut)?([+-])(\d{1,2})(?::?(\d{2}))?")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=[+-]?\d)")
_SEPARATORS = re.compile(r"[,;()\[\]|]|\s[-–—]\s")


class _Fields:
    """Mutable scratch pad for one parse; never escapes :func:`_parse_tokens`."""

    def __init__(self) -> None:
        self.year: int | None = None
        self.month: int | None = None
        self.day: int | None = None
        self.time: tuple[int, int, int] | None = None
        self.tz: tzinfo | None = None
        self.pm: bool | None = None


def parse_date(value: str | None, *, default_tz: tzinfo = WIB) -> datetime | None:
    """Parse a feed date string into an aware UTC datetime; None when it is not a date."""
    if not value or len(value) > 200:
        return None
    text = value.strip()
    try:
        parsed = _parse_iso(text) or _parse_tokens(text)
    except (ValueError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _parse_iso(text: str) -> datetime | None:
    if not re.fullmatch(r"\d{4}-?\d{2}-?\d{2}(?:[Tt ][\d:.,]+(?:[Zz]|[+-][\d:]+)?)?", text):
        return None
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def _parse_tokens(text: str) -> datetime | None:
    text = text.lower().replace("jum'at", "jumat")
    text = _SEPARATORS.sub(" ", text)
    text = _DIGIT_LETTER.sub(" ", text)
    fields = _Fields()
    for token in text.split():
        if not _take(fields, token.strip(".")):
            return None
    return _build(fields)


def _take(f: _Fields, token: str) -> bool:
    """Record what one token says; False when it cannot be part of a date."""
    if not token or token in _DAY_NAMES or token in _FILLER:
        return True
    if token in _MONTHS and f.month is None:
        f.month = _MONTHS[token]
        return True
    if token in _ZONES and f.tz is None:
        f.tz = _ZONES[token]
        return True
    if token in ("am", "pm") and f.pm is None:
        f.pm = token == "pm"
        return True
    if token.isdigit():
        return _take_number(f, token)
    if (m := _DATE.fullmatch(token)) and f.day is None:
        return _take_numeric_date(f, m)
    if (m := _TIME.fullmatch(token)) and f.time is None:
        f.time = (int(m[1]), int(m[2]), int(m[3] or 0))
        return True
    if (m := _OFFSET.fullmatch(token)) and (f.tz is None or f.tz is UTC):
        minutes = int(m[2]) * 60 + int(m[3] or 0)
        f.tz = timezone(timedelta(minutes=-minutes if m[1] == "-" else minutes))
        return True
    return False


def _take_number(f: _Fields, token: str) -> bool:
    if len(token) == 4 and f.year is None:
        f.year = int(token)
    elif len(token) <= 2 and f.day is None:
        f.day = int(token)
    elif len(token) == 2 and f.year is None:
        f.year = _century(int(token))
    else:
        return False
    return True


def _take_numeric_date(f: _Fields, m: re.Match[str]) -> bool:
    first, _, middle, last = m.groups()
    if len(first) == 4:
        f.year, f.month, f.day = int(first), int(middle), int(last)
    elif len(last) in (2, 4) and len(first) <= 2:
        f.day, f.month = int(first), int(middle)
        f.year = int(last) if len(last) == 4 else _century(int(last))
    else:
        return False
    return True


def _century(two_digit_year: int) -> int:
    return 2000 + two_digit_year if two_digit_year < 70 else 1900 + two_digit_year


def _build(f: _Fields) -> datetime | None:
    if f.year is None or f.month is None or f.day is None:
        return None
    hour, minute, second = f.time or (0, 0, 0)
    if f.pm is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if f.pm else 0)
    second = min(second, 59)  # leap second "23:59:60"
    return datetime(f.year, f.month, f.day, hour, minute, second, tzinfo=f.tz)
