"""Matching stays linear in the text, and its shortcuts change nothing a user sees.

A hostile 735 KB page dense with offices ("Sekjen NATO", "Presiden AS", "Menlu Rusia") and
names once froze the daemon for 76 s: every role mention was compared with every name mention.
The work is counted (``Matcher.match_counted``), not timed, so the proof holds on any machine.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.match.matcher import Lexicon, Matcher, MatchWork, matched_text
from monitor.models import MatchResult, TermHit

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2025, 6, 1, 12, tzinfo=UTC)
# Offices next to their holders, offices alone, other people's offices, a name that is an
# exclusion ("Melania Trump"), and a clitic: every kind of pairwise decision, many times over.
UNIT = (
    "Sekjen NATO Mark Rutte bertemu Presiden AS Donald Trump, sementara Menlu Rusia "
    "Sergei Lavrov dan Presiden Rusia Vladimir Putin menanggapi; Melania Trump hadir. "
    "Presiden AS mengatakan Sekjen NATO dan Menlu Rusia akan bertemu lagi di Brussel, "
    "kata juru bicara Rutte kepada Putin dan Lavrov soal Rusianya.\n"
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(Lexicon.load(ROOT / "config"))


def hostile(units: int, *, lines: bool = True) -> str:
    page = UNIT * units
    return page if lines else page.replace("\n", " ")


def counted(matcher: Matcher, body: str) -> tuple[MatchResult, MatchWork]:
    return matcher.match_counted("Hostile page", body, DAY)


@pytest.mark.parametrize("lines", [True, False], ids=["paragraphs", "one-line"])
def test_work_on_a_page_dense_with_offices_and_names_grows_linearly(
    matcher: Matcher, lines: bool
) -> None:
    small_result, small = counted(matcher, hostile(60, lines=lines))
    big_result, big = counted(matcher, hostile(240, lines=lines))
    # Four times the page gives four times the mentions...
    assert big.role_mentions == 4 * small.role_mentions > 0
    assert big.found >= 4 * small.found - 8
    # ... and about four times the comparisons: mentions x mentions would give sixteen.
    assert small.role_candidates > 0
    assert big.role_candidates <= 4.2 * small.role_candidates
    assert big.exclusion_checks <= 4.2 * small.exclusion_checks
    # The answer scales with the page too: each mention still finds its person.
    small_counts = {a.name: a.count for a in small_result.actors}
    big_counts = {a.name: a.count for a in big_result.actors}
    assert (
        set(small_counts)
        == set(big_counts)
        == {
            "Mark Rutte",
            "Donald Trump",
            "Sergei Lavrov",
            "Vladimir Putin",
        }
    )
    for name, count in small_counts.items():
        assert abs(big_counts[name] - 4 * count) <= 4


def test_comparisons_per_office_stay_bounded_by_the_name_window(matcher: Matcher) -> None:
    # However many names the page holds, an office is only compared with the names written
    # within ``name_window`` characters of it.
    _, work = counted(matcher, hostile(200))
    assert work.role_candidates <= 4 * work.role_mentions


def test_an_office_still_goes_to_the_holder_named_beside_it(matcher: Matcher) -> None:
    body = (
        "Sekjen NATO Jens Stoltenberg bertemu Perdana Menteri Inggris di London.\n\n"
        "Presiden AS kemudian menelepon Sekjen NATO soal Ukraina."
    )
    # On 2025-06-01 the office holder is Mark Rutte, but the text names Stoltenberg beside
    # the office: the name wins, and the later bare "Sekjen NATO" is Rutte by the date.
    result = matcher.match("Rapat NATO", body, DAY)
    names = {a.name: a.via for a in result.actors}
    assert names["Jens Stoltenberg"] == "name"
    assert names["Donald Trump"] == "role"


def test_results_read_and_travel_between_processes_unchanged(matcher: Matcher) -> None:
    body = (
        "Sekjen NATO Mark Rutte mengatakan aliansi siap membantu Ukraina.\n\n"
        "Presiden Rusia Vladimir Putin menolak usulan itu, sementara Presiden AS Donald Trump "
        "meminta perundingan."
    )
    result = matcher.match("NATO dan Ukraina", body, DAY)
    text = matched_text("NATO dan Ukraina", body)
    hits = [h for t in result.topics for h in t.hits] + [h for a in result.actors for h in a.hits]
    assert hits
    for h in hits:
        # A hit is a TermHit like any other: its span points at the term, its snippet shows it.
        plain = TermHit(h.term, h.span, h.snippet)
        assert h == plain and plain == h and hash(h) == hash(plain)
        assert text[h.span.start : h.span.end].lower() == h.term.lower()
        assert text[h.span.start : h.span.end] in h.snippet
    travelled = pickle.loads(pickle.dumps(result))
    assert travelled == result
    assert {type(h) for t in travelled.topics for h in t.hits} == {TermHit}


def test_a_rights_reserved_footer_naming_someone_is_not_an_actor(matcher: Matcher) -> None:
    body = (
        "Menlu Sugiono bertemu mitranya di Jakarta untuk membahas perdagangan.\n"
        "Putin Media Group, Jakarta. All Rights Reserved."
    )
    assert "Vladimir Putin" not in {a.name for a in matcher.match("Diplomasi", body, DAY).actors}
    assert "Putin Media" not in matched_text("Diplomasi", body)
