"""parse_date: every shape of date Indonesian feeds write, to the exact UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.parse.dates import parse_date
from monitor.timeofday import WIB, WIT, WITA


def utc(
    year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


RFC822_INDONESIAN = [
    ("Sab, 21 Nov 2026 10:00:00 +0700", utc(2026, 11, 21, 3, 0, 0)),
    ("Sen, 10 Nov 2025 08:00:00 +0700", utc(2025, 11, 10, 1, 0, 0)),
    ("Sel, 11 Nov 2025 23:30:00 +0700", utc(2025, 11, 11, 16, 30, 0)),
    ("Rab, 12 Nov 2025 06:59:59 +0700", utc(2025, 11, 11, 23, 59, 59)),
    ("Kam, 13 Nov 2025 12:00:00 WIB", utc(2025, 11, 13, 5, 0, 0)),
    ("Jum, 14 Nov 2025 12:00:00 WITA", utc(2025, 11, 14, 4, 0, 0)),
    ("Min, 16 Nov 2025 12:00:00 WIT", utc(2025, 11, 16, 3, 0, 0)),
    ("Sen, 18 Agu 2025 10:00:00 +0700", utc(2025, 8, 18, 3, 0, 0)),
    ("Sen, 18 Agt 2025 10:00:00 +0700", utc(2025, 8, 18, 3, 0, 0)),
    ("Sen, 13 Okt 2025 10:00:00 +0700", utc(2025, 10, 13, 3, 0, 0)),
    ("Sen, 01 Des 2025 00:15:00 +0700", utc(2025, 11, 30, 17, 15, 0)),
    ("Sel, 20 Mei 2025 10:00:00 +0700", utc(2025, 5, 20, 3, 0, 0)),
    ("Sen, 03 Peb 2025 10:00:00 +0700", utc(2025, 2, 3, 3, 0, 0)),
    ("Sen, 03 Feb 2025 10:00:00 +0700", utc(2025, 2, 3, 3, 0, 0)),
    ("Rab, 01 Jan 2025 03:00:00 +0700", utc(2024, 12, 31, 20, 0, 0)),
    ("Sab, 21 Nov 26 10:00:00 +0700", utc(2026, 11, 21, 3, 0, 0)),
    ("Sab., 21 Nop. 2026 10:00 WIB", utc(2026, 11, 21, 3, 0, 0)),
]

LONG_FORMS = [
    ("Senin, 10 November 2025", utc(2025, 11, 9, 17, 0, 0)),
    ("10 Agustus 2025 14:30 WIB", utc(2025, 8, 10, 7, 30, 0)),
    ("10 Agustus 2025 14.30 WIB", utc(2025, 8, 10, 7, 30, 0)),
    ("Selasa, 10/11/2025 09:15 WIB", utc(2025, 11, 10, 2, 15, 0)),
    ("Selasa, 10-11-2025 09:15 WIB", utc(2025, 11, 10, 2, 15, 0)),
    ("Kamis, 2 Januari 2025 pukul 07.05 WIB", utc(2025, 1, 2, 0, 5, 0)),
    ("Jumat, 17 Oktober 2025 - 16:45 WITA", utc(2025, 10, 17, 8, 45, 0)),
    ("Jum'at, 17 Oktober 2025 | 16:45 WIT", utc(2025, 10, 17, 7, 45, 0)),
    ("Sabtu, 27 Desember 2025 20:00", utc(2025, 12, 27, 13, 0, 0)),
    ("Minggu, 1 Maret 2026 06:00 WIB", utc(2026, 2, 28, 23, 0, 0)),
    ("Rabu, 4 Pebruari 2026 10:00 WIB", utc(2026, 2, 4, 3, 0, 0)),
    ("30 Juni 2025 23:59:59 WIB", utc(2025, 6, 30, 16, 59, 59)),
    ("1 Juli 2025", utc(2025, 6, 30, 17, 0, 0)),
    ("5 September 2025 08:00 WIB", utc(2025, 9, 5, 1, 0, 0)),
    ("12 April 2025 10:00 WIB", utc(2025, 4, 12, 3, 0, 0)),
    ("10 Nopember 2025 10:00 WIB", utc(2025, 11, 10, 3, 0, 0)),
]

ZONE_SPELLINGS = [
    ("10 Agustus 2025 14:30WIB", utc(2025, 8, 10, 7, 30, 0)),
    ("10 agustus 2025 14:30 wib", utc(2025, 8, 10, 7, 30, 0)),
    ("10 Agt 2025 14.30wib", utc(2025, 8, 10, 7, 30, 0)),
    ("10 Agustus 2025 14:30 WITA", utc(2025, 8, 10, 6, 30, 0)),
    ("10 Agustus 2025 14:30 WIT", utc(2025, 8, 10, 5, 30, 0)),
    ("Sen, 10 Nov 2025 10:00:00 +07:00", utc(2025, 11, 10, 3, 0, 0)),
    ("Sen, 10 Nov 2025 10:00:00 +0800", utc(2025, 11, 10, 2, 0, 0)),
    ("Sen, 10 Nov 2025 10:00:00 -0500", utc(2025, 11, 10, 15, 0, 0)),
    ("Sen, 10 Nov 2025 10:00:00 GMT+7", utc(2025, 11, 10, 3, 0, 0)),
    ("Sen, 10 Nov 2025 10:00:00 UTC+07:00", utc(2025, 11, 10, 3, 0, 0)),
    ("Mon, 10 Nov 2025 10:00:00 GMT", utc(2025, 11, 10, 10, 0, 0)),
    ("Mon, 10 Nov 2025 10:00:00 UTC", utc(2025, 11, 10, 10, 0, 0)),
    ("Mon, 10 Nov 2025 10:00:00 UT", utc(2025, 11, 10, 10, 0, 0)),
    ("Mon, 10 Nov 2025 10:00:00 Z", utc(2025, 11, 10, 10, 0, 0)),
    ("Mon, 10 Nov 2025 10:00:00 EST", utc(2025, 11, 10, 15, 0, 0)),
    ("Mon, 10 Nov 2025 10:00:00 PDT", utc(2025, 11, 10, 17, 0, 0)),
]

ENGLISH_AND_ISO = [
    ("Thu, 01 Jan 2004 19:48:21 GMT", utc(2004, 1, 1, 19, 48, 21)),
    ("Fri, 28 Apr 2017 07:50:21 +0700", utc(2017, 4, 28, 0, 50, 21)),
    ("Friday, 28 April 2017 07:50 +0700", utc(2017, 4, 28, 0, 50, 0)),
    ("Nov 10, 2025 2:30 pm EST", utc(2025, 11, 10, 19, 30, 0)),
    ("Nov 10, 2025 12:05 am", utc(2025, 11, 9, 17, 5, 0)),
    ("2025-11-10T09:15:00+07:00", utc(2025, 11, 10, 2, 15, 0)),
    ("2025-11-10T02:15:00Z", utc(2025, 11, 10, 2, 15, 0)),
    ("2025-11-10T02:15:00.123Z", utc(2025, 11, 10, 2, 15, 0) + timedelta(milliseconds=123)),
    ("2003-12-31T10:14:55.123456789Z", utc(2003, 12, 31, 10, 14, 55, 123456)),
    ("2025-11-10T09:15:00", utc(2025, 11, 10, 2, 15, 0)),
    ("2025-11-10 09:15:00", utc(2025, 11, 10, 2, 15, 0)),
    ("2025-11-10", utc(2025, 11, 9, 17, 0, 0)),
    ("20251110T091500+0700", utc(2025, 11, 10, 2, 15, 0)),
    ("2025-11-10 09:15 WIB", utc(2025, 11, 10, 2, 15, 0)),
    ("2025-11-10T09:15:00 WITA", utc(2025, 11, 10, 1, 15, 0)),
    ("  Sen, 10 Nov 2025 08:00:00 +0700\n", utc(2025, 11, 10, 1, 0, 0)),
    ("Sat, 31 Dec 2016 23:59:60 GMT", utc(2016, 12, 31, 23, 59, 59)),
]


@pytest.mark.parametrize(
    ("raw", "expected"), RFC822_INDONESIAN + LONG_FORMS + ZONE_SPELLINGS + ENGLISH_AND_ISO
)
def test_date_string_parses_to_exact_utc_instant(raw: str, expected: datetime) -> None:
    parsed = parse_date(raw)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "default_tz", "expected"),
    [
        ("10 Agustus 2025 14:30", WIB, utc(2025, 8, 10, 7, 30, 0)),
        ("10 Agustus 2025 14:30", WITA, utc(2025, 8, 10, 6, 30, 0)),
        ("10 Agustus 2025 14:30", WIT, utc(2025, 8, 10, 5, 30, 0)),
        ("10 Agustus 2025 14:30", UTC, utc(2025, 8, 10, 14, 30, 0)),
        ("2025-08-10T14:30:00", WITA, utc(2025, 8, 10, 6, 30, 0)),
        # an explicit zone always beats the feed's default
        ("10 Agustus 2025 14:30 WIB", UTC, utc(2025, 8, 10, 7, 30, 0)),
        ("2025-08-10T14:30:00+00:00", WIB, utc(2025, 8, 10, 14, 30, 0)),
    ],
)
def test_date_without_zone_is_taken_in_the_feed_default_zone(
    raw: str, default_tz: timezone, expected: datetime
) -> None:
    assert parse_date(raw, default_tz=default_tz) == expected


def test_indonesian_zone_constants_have_the_legal_offsets() -> None:
    assert WIB.utcoffset(None) == timedelta(hours=7)
    assert WITA.utcoffset(None) == timedelta(hours=8)
    assert WIT.utcoffset(None) == timedelta(hours=9)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "garbage",
        "kemarin",  # "yesterday": relative dates are not guessed
        "Sen, 31 Nov 2025 10:00:00 +0700",  # no 31 November
        "2025-02-30",
        "Sen, 10 Nov 2025 25:00:00 +0700",
        "10 Nov 2025 10:00 +2500",
        "10 November",  # no year
        "November 2025",  # no day
        "13 pm 10 Nov 2025",
        "10 Nov 2025 10:00 Mars Standard Time",
        "x" * 500,
    ],
)
def test_unparseable_value_gives_none_instead_of_raising(raw: str | None) -> None:
    assert parse_date(raw) is None
