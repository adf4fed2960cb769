"""Every benchmark runs end to end in its tiny mode and reports its figures.

No timing is asserted here (timing belongs to ``python -m benchmarks``); these tests only prove
the benchmark code still runs against the current components and keeps its promises about the
corpus (size, reproducibility, text lengths).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import (
    bench_alert,
    bench_matcher,
    bench_memory,
    bench_parse,
    bench_pipeline,
    bench_polling,
    bench_storage,
)
from benchmarks.__main__ import main, table
from benchmarks.common import Figure, Result
from benchmarks.corpus import MAX_TEXT, MIN_TEXT, TEMPLATES, build_pages, page
from monitor.extract.article import extract_article
from tests.dbfixtures import POSTGRES_ENV

pytestmark = pytest.mark.timeout(300)


def _figures_are_complete(result: Result) -> None:
    assert result.figures
    for f in result.figures:
        assert isinstance(f, Figure)
        assert f.value is not None or f.note, f"{f.name}: no value and no reason"


def test_corpus_is_reproducible_and_varied() -> None:
    first = build_pages(40)
    again = build_pages(40)
    assert [p.html for p in first] == [p.html for p in again]
    assert page(7, seed=1).html != page(7, seed=2).html
    assert {p.template for p in first} == set(TEMPLATES)
    sizes = [p.article.text_bytes for p in first]
    assert min(sizes) >= MIN_TEXT and max(sizes) <= MAX_TEXT + 4096
    assert len({p.url for p in first}) == len(first)


def test_every_template_yields_an_extractable_article() -> None:
    pages = build_pages(60)
    for template in TEMPLATES:
        sample = next(p for p in pages if p.template == template)
        extracted = extract_article(sample.html, sample.url)
        assert sample.article.paragraphs[0][:60] in extracted.body, template


@pytest.mark.parametrize(
    "bench",
    [bench_pipeline.run, bench_matcher.run, bench_parse.run, bench_memory.run],
    ids=["pipeline", "matcher", "parse", "memory"],
)
def test_benchmark_runs_in_tiny_mode(bench: Callable[[str], Result]) -> None:
    _figures_are_complete(bench("tiny"))


def test_storage_benchmark_writes_to_sqlite_and_says_why_postgres_is_missing() -> None:
    result = bench_storage.run("tiny", postgres_url=None)
    _figures_are_complete(result)
    postgres = next(f for f in result.figures if "PostgreSQL" in f.name)
    assert postgres.value is None and "no PostgreSQL" in postgres.note


@pytest.mark.slow
def test_daemon_benchmarks_poll_a_loopback_site_and_receive_alerts() -> None:
    polling = bench_polling.run("tiny")
    _figures_are_complete(polling)
    statuses = polling.details["rounds"][0]["statuses"]
    assert statuses.get("not_modified", 0) > statuses.get("ok", 0) > 0
    alert = bench_alert.run("tiny")
    _figures_are_complete(alert)
    assert alert.figures[0].value == len(alert.details["end_to_end_s"]) > 0


def test_command_prints_a_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    out = tmp_path / "bench.json"
    code = main(["--tiny", "--only", "parse,storage", "--out", str(out), "--postgres", ""])
    assert code == 0
    printed = capsys.readouterr().out
    assert "7 feed parsing" in printed and "6 storage" in printed
    data = json.loads(out.read_text())
    assert {f["item"] for f in data["figures"]} == {"6 storage", "7 feed parsing"}
    assert all({"value", "target", "met", "unit"} <= set(f) for f in data["figures"])


def test_table_marks_missed_targets_and_unmeasurable_figures() -> None:
    from benchmarks.common import Target

    text = table(
        [
            Result(
                "x",
                [
                    Figure("9 demo", "fast enough", 3.0, "s", Target("<=", 2)),
                    Figure("9 demo", "peer", None, "x", note="not installed"),
                ],
            )
        ]
    )
    assert "MISSED" in text and "not measurable" in text and "not installed" in text


def test_profile_module_is_importable() -> None:
    import benchmarks.profile as profile

    assert {"pipeline", "matcher", "polling"} <= set(profile.WORKLOADS)
    assert sys.modules["benchmarks.profile"] is profile
