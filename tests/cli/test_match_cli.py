"""``pantau match``: JSON schema, tables, HTML input, role dates and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import monitor.cli.match  # noqa: F401  (registers the command)
from monitor.cli import app
from monitor.paths import default_config_dir, default_seeds_dir

ROOT = Path(__file__).resolve().parents[2]
SEED_000 = next((ROOT / "seeds").glob("000_*.txt"))
SEED_004 = next((ROOT / "seeds").glob("004_*.txt"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_json_output_has_one_line_per_file_with_the_stable_schema(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["match", "--json", "--date", "2026-02-02", str(SEED_000), str(SEED_004)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert set(first) == {"path", "title", "published", "topics", "actors"}
    assert first["path"] == str(SEED_000)
    assert first["title"] == "February 2, 2026"  # first non-empty line of a text file
    assert first["published"] == "2026-02-02"
    for topic in first["topics"]:
        # The stable keys, plus (added with the relevance model) its confidence and drivers.
        assert set(topic) == {"name", "score", "substantive", "confidence", "drivers"}
        assert 0.0 <= topic["confidence"] <= 1.0
        assert topic["drivers"] and all(set(d) == {"feature", "weight"} for d in topic["drivers"])
    for actor in first["actors"]:
        assert set(actor) == {"name", "via", "count", "snippets"}
        assert actor["snippets"] and all(isinstance(s, str) for s in actor["snippets"])
    rutte = next(a for a in first["actors"] if a["name"] == "Mark Rutte")
    assert rutte["via"] == "role"
    nato = next(t for t in first["topics"] if t["name"] == "nato")
    assert nato["substantive"] is True and nato["score"] > 0
    assert nato["confidence"] >= 0.5


def test_rules_only_matching_leaves_confidence_empty(runner: CliRunner) -> None:
    result = runner.invoke(app, ["match", "--json", "--model", "rules", str(SEED_000)])
    assert result.exit_code == 0, result.output
    topics = json.loads(result.stdout)["topics"]
    assert topics and all(t["confidence"] is None and t["drivers"] == [] for t in topics)


def test_a_missing_model_file_is_one_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["match", "--model", str(tmp_path / "none.json"), str(SEED_000)])
    assert result.exit_code == 2
    assert "relevance model not found" in result.output


def test_date_option_drives_role_resolution(runner: CliRunner, tmp_path: Path) -> None:
    doc = tmp_path / "sekjen.txt"
    doc.write_text("Pernyataan Sekjen NATO\n\nSekjen NATO meminta sekutu menambah anggaran.\n")
    names = {}
    for day in ("2023-05-01", "2025-05-01"):
        result = runner.invoke(app, ["match", "--json", "--date", day, str(doc)])
        assert result.exit_code == 0, result.output
        names[day] = {a["name"] for a in json.loads(result.stdout)["actors"]}
    assert names == {"2023-05-01": {"Jens Stoltenberg"}, "2025-05-01": {"Mark Rutte"}}


def test_html_files_are_extracted_before_matching(runner: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Zelensky di Brussel</title></head><body><article>"
        "<h1>Zelensky di Brussel</h1>"
        "<p>Presiden Ukraina Volodymyr Zelensky bertemu para pemimpin NATO di Brussel untuk "
        "membahas bantuan pertahanan udara menjelang musim dingin.</p>"
        "<p>Ia meminta sekutu mempercepat pengiriman sistem Patriot ke Ukraina.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["match", "--json", "--date", "2024-11-01", str(page)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert "Volodymyr Zelensky" in {a["name"] for a in line["actors"]}
    assert "ukraine" in {t["name"] for t in line["topics"]}


def test_table_output_lists_topics_and_actors(runner: CliRunner) -> None:
    result = runner.invoke(app, ["match", "--date", "2026-02-06", str(SEED_004)])
    assert result.exit_code == 0, result.output
    for word in ("us_russia", "Lloyd Austin", "Sergei Shoigu", "substantive"):
        assert word in result.stdout


def test_missing_file_exits_non_zero_with_one_clear_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["match", "--json", "does-not-exist.txt", str(SEED_000)])
    assert result.exit_code == 2  # a usage error, like a bad option
    assert result.stderr.strip() == "error: does-not-exist.txt: no such file"
    assert "Traceback" not in result.output
    assert len(result.stdout.splitlines()) == 1  # the good file is still reported


def test_directory_and_bad_date_and_bad_config_are_clear_errors(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["match", str(tmp_path)])
    assert result.exit_code != 0 and "is a directory" in result.stderr
    result = runner.invoke(app, ["match", "--date", "01/02/2024", str(SEED_000)])
    assert result.exit_code != 0 and "expected YYYY-MM-DD" in result.stderr
    result = runner.invoke(app, ["match", "--config-dir", str(tmp_path), str(SEED_000)])
    assert result.exit_code != 0 and "topics.toml: lexicon file not found" in result.stderr
    assert "Traceback" not in result.output


def test_default_config_dir_is_the_checkout_config_when_not_installed() -> None:
    assert default_config_dir() == ROOT / "config"
    assert default_seeds_dir() == ROOT / "seeds"
