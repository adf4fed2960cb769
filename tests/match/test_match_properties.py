"""Property tests: the matcher never fails on any text and ignores layout and name casing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.extract.furniture import strip_furniture
from monitor.match.matcher import Lexicon, Matcher, matched_text
from monitor.models import MatchResult

ROOT = Path(__file__).resolve().parents[2]
MATCHER = Matcher(Lexicon.load(ROOT / "config"))
DAY = datetime(2024, 6, 1, 12, tzinfo=UTC)

NAMES = [
    ("Vladimir Putin", "Vladimir Putin"),
    ("Zelenskyy", "Volodymyr Zelensky"),
    ("Jens Stoltenberg", "Jens Stoltenberg"),
    ("Sergei Shoigu", "Sergei Shoigu"),
    ("Antony Blinken", "Antony Blinken"),
    ("Ursula von der Leyen", "Ursula von der Leyen"),
    ("Recep Tayyip Erdoğan", "Recep Tayyip Erdoğan"),
    ("Josep Borrell", "Josep Borrell"),
]
WHITESPACE = st.text(alphabet=" \t\n\u00a0\u2003\r", max_size=6)
FILLER = st.sampled_from(
    [
        "Kemarin",
        "pejabat itu mengatakan",
        "in a statement on Monday",
        "dalam kunjungan ke Jakarta",
        "menurut laporan",
        "officials said",
        "",
    ]
)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def summary(result: MatchResult) -> tuple[object, ...]:
    return (
        tuple((t.name, t.score, t.substantive) for t in result.topics),
        tuple((a.name, a.via, a.count) for a in result.actors),
    )


@SETTINGS
@given(
    title=st.text(max_size=200),
    body=st.text(max_size=2000),
    published=st.none() | st.datetimes(timezones=st.just(UTC)),
)
def test_any_unicode_input_matches_without_error(
    title: str, body: str, published: datetime | None
) -> None:
    result = MATCHER.match(title, body, published)
    text = matched_text(title, body)
    for actor in result.actors:
        for hit in actor.hits:
            assert 0 <= hit.span.start < hit.span.end <= len(text)


@SETTINGS
@given(
    body=st.text(alphabet=st.characters(codec="utf-8"), max_size=400), pick=st.sampled_from(NAMES)
)
def test_a_name_is_found_whatever_unicode_surrounds_it(body: str, pick: tuple[str, str]) -> None:
    written, canonical = pick
    result = MATCHER.match("", f"{body}\n{written} tiba.\n{body}", DAY)
    assert canonical in {a.name for a in result.actors}


@SETTINGS
@given(
    pick=st.sampled_from(NAMES),
    before=FILLER,
    after=FILLER,
    lead=WHITESPACE,
    trail=WHITESPACE,
    title_lead=WHITESPACE,
)
def test_matching_ignores_surrounding_whitespace(
    pick: tuple[str, str], before: str, after: str, lead: str, trail: str, title_lead: str
) -> None:
    body = f"{before} {pick[0]} {after} soal NATO dan Ukraina."
    plain = MATCHER.match("Berita", body, DAY)
    padded = MATCHER.match(f"{title_lead}Berita{title_lead}", f"{lead}{body}{trail}", DAY)
    assert summary(padded) == summary(plain)


@SETTINGS
@given(
    pick=st.sampled_from(NAMES),
    case=st.sampled_from([str.upper, str.lower, str.title, str.swapcase, str.casefold]),
    before=FILLER,
    after=FILLER,
)
def test_names_match_in_any_letter_case(
    pick: tuple[str, str], case: object, before: str, after: str
) -> None:
    written, canonical = pick
    assert callable(case)
    result = MATCHER.match("", f"{before} {case(written)} {after}.", DAY)
    assert canonical in {a.name for a in result.actors}


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                "Baca juga: Putin Ancam Barat",
                "Baca juga:",
                "Zelensky ke Jakarta",
                "Tags: NATO",
                "Share This Article",
                "Leave a Reply",
                "https://example.com/x",
                "",
                "  ",
                "Presiden Rusia Vladimir Putin tiba di Beijing.",
                "Sekjen NATO berbicara",
                "Foto: ANTARA",
            ]
        )
        | st.text(max_size=80),
        max_size=12,
    )
)
def test_stripping_furniture_is_idempotent(lines: list[str]) -> None:
    body = "\n".join(lines)
    once = strip_furniture(body)
    assert strip_furniture(once) == once


@pytest.mark.parametrize("written,canonical", NAMES)
def test_every_sample_name_is_tracked(written: str, canonical: str) -> None:
    assert canonical in {a.name for a in MATCHER.match("", written, DAY).actors}
