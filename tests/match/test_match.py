"""Matching behaviour an analyst relies on: seeds, roles by date, spelling, traps, explanations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.match.matcher import Lexicon, Matcher, matched_text
from monitor.models import MatchResult

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(Lexicon.load(ROOT / "config"))


def on(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def actors(result: MatchResult) -> set[str]:
    return {a.name for a in result.actors}


def verdicts(result: MatchResult) -> dict[str, str]:
    return {t.name: "substantive" if t.substantive else "passing" for t in result.topics}


def seed(prefix: str) -> str:
    (path,) = (ROOT / "seeds").glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


SEEDS = [
    ("000", "2026-02-02", {"nato"}, {"Donald Trump", "Mark Rutte"}),
    (
        "001",
        "2025-11-10",
        {"nato", "ukraine", "us_russia"},
        {"Jens Stoltenberg", "Vladimir Putin", "Joe Biden", "Volodymyr Zelensky"},
    ),
    ("002", "2024-10-01", {"nato", "ukraine"}, {"Jens Stoltenberg", "Mark Rutte", "Donald Trump"}),
    ("003", "2024-06-28", {"nato", "ukraine", "us_russia"}, {"Jens Stoltenberg", "Vladimir Putin"}),
    (
        "004",
        "2026-02-06",
        {"us_russia", "ukraine", "nato"},
        {"Lloyd Austin", "Sergei Shoigu", "Jens Stoltenberg", "Josep Borrell", "Joe Biden"},
    ),
]


@pytest.mark.parametrize(("prefix", "day", "topics", "people"), SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_articles_yield_the_expected_topics_and_actors(
    matcher: Matcher, prefix: str, day: str, topics: set[str], people: set[str]
) -> None:
    text = seed(prefix)
    title, _, body = text.strip().partition("\n")
    result = matcher.match(title, body, on(day))
    assert set(result.substantive_topics) == topics
    assert people <= actors(result)


def test_seed_000_resolves_sekjen_nato_to_rutte_by_role(matcher: Matcher) -> None:
    result = matcher.match("", seed("000"), on("2026-02-02"))
    rutte = next(a for a in result.actors if a.name == "Mark Rutte")
    assert rutte.via == "role"
    assert {h.term for h in rutte.hits} <= {"Sekjen NATO", "Sekretaris Jenderal NATO"}
    assert actors(result) == {"Mark Rutte", "Donald Trump"}  # "mantan Presiden AS" is Trump


def test_seed_002_us_russia_is_only_a_passing_mention(matcher: Matcher) -> None:
    result = matcher.match("", seed("002"), on("2024-10-01"))
    assert verdicts(result).get("us_russia") == "passing"


def test_sekjen_nato_in_2023_is_stoltenberg_and_in_2025_is_rutte(matcher: Matcher) -> None:
    text = "Sekjen NATO mengatakan aliansi akan terus mendukung Ukraina."
    assert actors(matcher.match("Pernyataan", text, on("2023-03-01"))) == {"Jens Stoltenberg"}
    assert actors(matcher.match("Pernyataan", text, on("2025-03-01"))) == {"Mark Rutte"}


def test_role_changes_hands_on_the_configured_day(matcher: Matcher) -> None:
    text = "Menhan Rusia meninjau pabrik amunisi di Tula."
    assert actors(matcher.match("", text, on("2024-05-11"))) == {"Sergei Shoigu"}
    assert actors(matcher.match("", text, on("2024-05-12"))) == {"Andrei Belousov"}
    assert actors(matcher.match("", "Menhan AS tiba di Manila.", on("2024-11-01"))) == {
        "Lloyd Austin"
    }
    assert actors(matcher.match("", "Presiden AS berpidato.", on("2023-06-01"))) == {"Joe Biden"}
    assert actors(matcher.match("", "Presiden AS berpidato.", on("2025-06-01"))) == {"Donald Trump"}


def test_a_name_next_to_the_role_wins_over_the_date(matcher: Matcher) -> None:
    text = "Stoltenberg mengutip Presiden AS saat itu, Joe Biden, soal Perang Dunia III."
    assert actors(matcher.match("", text, on("2025-11-10"))) == {"Jens Stoltenberg", "Joe Biden"}


def test_former_before_a_role_resolves_to_the_previous_holder(matcher: Matcher) -> None:
    result = matcher.match("", "Mantan Sekjen NATO mengkritik Eropa.", on("2025-06-01"))
    assert actors(result) == {"Jens Stoltenberg"}
    result = matcher.match("", "Mantan Presiden AS dirawat di rumah sakit.", on("2026-01-10"))
    assert actors(result) == {"Joe Biden"}


def test_an_election_for_an_office_names_nobody(matcher: Matcher) -> None:
    result = matcher.match(
        "", "Diaspora bersiap menghadapi pemilihan presiden AS.", on("2024-10-01")
    )
    assert actors(result) == set()


@pytest.mark.parametrize(
    "spelling", ["Zelensky", "Zelenskyy", "Zelenskiy", "Zelenski", "ZELENSKY", "Zelenský"]
)
def test_zelensky_spelling_variants_all_resolve(matcher: Matcher, spelling: str) -> None:
    result = matcher.match("", f"{spelling} berbicara di depan parlemen.", on("2024-01-01"))
    assert actors(result) == {"Volodymyr Zelensky"}


def test_shoygu_and_kiev_old_spellings_match(matcher: Matcher) -> None:
    result = matcher.match("", "Shoygu tiba di Kiev, kata pejabat.", on("2023-01-01"))
    assert actors(result) == {"Sergei Shoigu"}
    assert "ukraine" in verdicts(result)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("Pasukan AS tiba.", True),
        ("He spoke as a friend of us all.", False),
        ("As expected, the vote passed.", False),
        ("Ia membeli Kartu AS baru.", False),
        ("AS Roma menang 2-0 atas Lazio.", False),
        ("Harga emas naik ke US$2.000 per ons.", False),
        ("Rupiah melemah ke Rp15.000 per dolar AS.", False),
    ],
)
def test_as_means_the_us_only_in_capitals_and_outside_known_names(
    matcher: Matcher, text: str, fires: bool
) -> None:
    result = matcher.match("", f"{text} Rusia menanggapi pernyataan itu.", on("2024-01-01"))
    assert ("us_russia" in verdicts(result)) is fires


def test_nato_is_case_sensitive_but_accepts_british_nato(matcher: Matcher) -> None:
    assert "nato" in verdicts(matcher.match("", "Nato allies met.", on("2024-01-01")))
    assert "nato" in verdicts(matcher.match("", "NATO allies met.", on("2024-01-01")))
    assert "nato" not in verdicts(matcher.match("", "nato allies met.", on("2024-01-01")))


def test_hashtag_with_glued_words_mentions_nato(matcher: Matcher) -> None:
    result = matcher.match("", "Tagar #ChatSekjenNATOBocor jadi trending.", on("2026-01-01"))
    assert "nato" in verdicts(result)


def test_hyphenated_compounds_and_clitics_are_split(matcher: Matcher) -> None:
    assert "ukraine" in verdicts(matcher.match("", "Perang Rusia-Ukraina berlanjut.", None))
    assert "ukraine" in verdicts(matcher.match("", "Soal Ukrainanya sendiri lain cerita.", None))
    assert "nato" in verdicts(matcher.match("", "Kebijakan NATO-nya berubah.", None))
    result = matcher.match("AS-Rusia Sepakat Dialog Militer", "Kedua negara sepakat.", None)
    assert verdicts(result).get("us_russia") == "substantive"


@pytest.mark.parametrize(
    "text", ["Kerajaan Prusia berdiri pada 1701.", "Presiden Belarusia bicara."]
)
def test_russia_does_not_fire_inside_other_words(matcher: Matcher, text: str) -> None:
    result = matcher.match("", f"{text} Washington diam.", None)
    assert result.topics == ()


def test_traps_in_sports_and_media_news_match_nothing(matcher: Matcher) -> None:
    texts = [
        "The Washington Post cut 240 jobs as ad revenue fell.",
        "SXSW opened in Austin, Texas, on Friday.",
        "AS Monaco kembali ke puncak klasemen Ligue 1.",
        "Sinner beat Daniil Medvedev in the quarter-finals of the US Open.",
        "Resep ayam Kiev renyah ala restoran.",
    ]
    for text in texts:
        assert matcher.match("", text, on("2024-06-01")).is_empty, text


def test_short_forms_count_only_after_the_full_name(matcher: Matcher) -> None:
    assert actors(matcher.match("", "Austin said the plan was ready.", None)) == set()
    result = matcher.match("", "Lloyd Austin spoke. Later Austin said the plan was ready.", None)
    austin = next(a for a in result.actors if a.name == "Lloyd Austin")
    assert austin.count == 2


def test_furniture_lines_do_not_raise_matches(matcher: Matcher) -> None:
    body = (
        "Timnas menang 2-0 atas Guinea di laga uji coba.\n"
        "Baca juga: Putin Lantik Menteri Pertahanan Baru\n"
        "Tags: NATO, Ukraina, Zelensky\n"
        "Pelatih memuji kerja keras para pemain."
    )
    assert matcher.match("Timnas Menang", body, on("2024-05-20")).is_empty


def test_a_one_line_mention_is_passing_and_a_story_is_substantive(matcher: Matcher) -> None:
    passing = matcher.match(
        "Rupiah Melemah",
        "Rupiah melemah 60 poin.\nAnalis menyebut dampak perang di Ukraina.\nBI terus memantau.",
        None,
    )
    assert verdicts(passing) == {"ukraine": "passing"}
    story = matcher.match(
        "Serangan Drone di Kyiv",
        "Rusia meluncurkan drone ke Kyiv.\nPemerintah Ukraina mengecam serangan itu.",
        None,
    )
    assert verdicts(story)["ukraine"] == "substantive"


def test_every_hit_records_term_span_and_snippet(matcher: Matcher) -> None:
    title, body = "Putin Bertemu Trump", "Presiden Rusia Vladimir Putin tiba di Alaska."
    result = matcher.match(title, body, on("2025-08-15"))
    text = matched_text(title, body)
    putin = next(a for a in result.actors if a.name == "Vladimir Putin")
    assert putin.via == "name" and putin.count == 2
    for hit in putin.hits:
        assert text[hit.span.start : hit.span.end].casefold() == hit.term.casefold()
        assert hit.term in hit.snippet
        assert len(hit.snippet) <= 130
    for topic in result.topics:
        assert all(h.snippet and h.span.end > h.span.start for h in topic.hits)


def test_snippets_are_short_and_whitespace_collapsed(matcher: Matcher) -> None:
    body = ("kata " * 60) + "Zelensky\n\n  menolak   usulan itu. " + ("lagi " * 60)
    hit = matcher.match("", body, None).actors[0].hits[0]
    assert "  " not in hit.snippet and "\n" not in hit.snippet
    assert 60 <= len(hit.snippet) <= 130


def test_published_none_means_today(matcher: Matcher) -> None:
    expected = "Mark Rutte" if datetime.now(UTC).date().isoformat() >= "2024-10-01" else "Jens"
    assert actors(matcher.match("", "Sekjen NATO berbicara.", None)) == {expected}


def test_matching_the_same_matcher_many_times_is_stable(matcher: Matcher) -> None:
    first = matcher.match("", seed("004"), on("2026-02-06"))
    for _ in range(3):
        assert matcher.match("", seed("004"), on("2026-02-06")) == first
