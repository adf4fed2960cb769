"""``pantau tail``: matches from the database, as rich lines or JSON lines, now and as they come;
reading SQLite (``--db``) and PostgreSQL (``--config``)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli import tail as _tail  # noqa: F401  (registers the command)
from monitor.cli.tail import parse_since
from monitor.daemon.runtime import open_engine
from monitor.demo.replay import run_replay
from monitor.demo.sitebuilder import load_corpus
from monitor.paths import default_seeds_dir
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
SEEDS = default_seeds_dir()
TITLES = {d.title for d in load_corpus(SEEDS).docs}


def _replay(db: str) -> None:
    report = asyncio.run(run_replay(SEEDS, factories.settings(db), alert_stream=io.StringIO()))
    assert report.summary()["stored"] == 5


def db_args(url: str, directory: Path) -> list[str]:
    """How an operator points ``pantau tail`` at the database: ``--db`` for a SQLite file,
    a configuration file naming the URL otherwise."""
    if url.startswith("sqlite:///"):
        return ["--db", url.removeprefix("sqlite:///")]
    config = directory / "pantau.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return ["--config", str(config)]


@pytest.fixture(scope="module")
def replayed(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``tail`` arguments naming a database the seeds were replayed into."""
    _replay(module_db_url)
    return db_args(module_db_url, tmp_path_factory.mktemp("tail"))


def tail(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["tail", *args])
    return result.exit_code, result.output


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_tail_prints_the_recent_matches_as_json_lines(replayed: list[str]) -> None:
    code, output = tail("--json", *replayed)
    assert code == 0, output
    lines = json_lines(output)
    assert {line["type"] for line in lines} == {"match"}
    assert {line["data"]["title"] for line in lines} == TITLES  # type: ignore[index]
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids)
    first = lines[0]["data"]
    assert set(first) >= {"article_id", "story_id", "url", "source", "topics", "actors"}  # type: ignore[arg-type]


def test_tail_keeps_only_the_asked_actor_and_topic(replayed: list[str]) -> None:
    code, output = tail("--json", "--actor", "mark rutte", "--topic", "nato", *replayed)
    assert code == 0, output
    lines = json_lines(output)
    assert any(str(line["data"]["title"]).startswith("Chat Sekjen NATO") for line in lines)  # type: ignore[index]
    for line in lines:
        assert "Mark Rutte" in {a["name"] for a in line["data"]["actors"]}  # type: ignore[index]


def test_tail_lines_for_people_show_source_actors_topics_title_and_link(
    replayed: list[str],
) -> None:
    code, output = tail("-n", "2", *replayed)
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 2
    for line in lines:
        assert "WIB" in line and " — " in line and "<https://warta.pantau.example/" in line
    assert any(t in output for t in TITLES)


def test_since_in_the_future_prints_nothing_and_a_day_back_prints_everything(
    replayed: list[str],
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert tail("--json", "--since", tomorrow, *replayed) == (0, "")
    code, output = tail("--json", "--since", "1d", *replayed)
    assert code == 0
    assert len(json_lines(output)) == 5


def test_since_takes_durations_and_dates_in_wib() -> None:
    now = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("2026-02-02", now) == datetime(2026, 2, 1, 17, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="give a duration like 30m"):
        parse_since("last week", now)


def test_tail_refuses_unknown_types_and_missing_databases_without_traceback(
    tmp_path: Path,
) -> None:
    code, output = tail("--type", "mach", "--db", str(tmp_path / "x.db"))
    assert code == 2 and "unknown event type 'mach'" in output
    code, output = tail("--db", str(tmp_path / "nothing-here.db"))
    assert code == 2 and "no Pantau database here" in output
    assert "Traceback" not in output
    assert not (tmp_path / "nothing-here.db").exists()


def _lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_tail_follow_json_prints_a_match_stored_by_another_process(
    tmp_path: Path, db_url: str
) -> None:
    # Design bound: a line appears within one --interval (0.5 s) of the commit; the generous
    # timeout below only keeps a loaded CI machine from failing the test.
    db = db_url
    open_engine(
        factories.settings(db)
    ).dispose()  # an empty Pantau database, as a fresh daemon leaves
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monitor.cli import main; main()",
            "tail",
            "--follow",
            "--json",
            *db_args(db, tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        lines = _lines_of(proc)
        single = tmp_path / "one"
        single.mkdir()
        shutil.copy(SEEDS / "manifest.toml", single)
        shutil.copy(next(SEEDS.glob("000_*.txt")), single)
        report = asyncio.run(run_replay(single, factories.settings(db), alert_stream=io.StringIO()))
        assert report.summary()["stored"] == 1
        line = json.loads(lines.get(timeout=10))
        assert line["type"] == "match"
        assert str(line["data"]["title"]).startswith("Chat Sekjen NATO Bocor")
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
        assert proc.stdout is not None
        proc.stdout.close()
