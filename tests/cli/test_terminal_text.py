"""Feed text never drives the operator's terminal: escape sequences and control characters in
stored titles are removed from everything printed for a terminal (console alerts, human log
lines, ``pantau tail``, ``search``, ``alerts list``), while the database and every ``--json``
output keep the text exactly.

The feed parser already drops C0 controls from feed fields, but a database also holds text from
older versions, other tools and paths the parser does not clean (C1 controls, page text), so the
hostile title is written into a real replayed database here and read back through the commands.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from monitor.alert.channels import test_message
from monitor.alert.console import ConsoleChannel
from monitor.cli import alerts as _alerts  # noqa: F401  (registers the commands)
from monitor.cli import app
from monitor.cli import search as _search  # noqa: F401
from monitor.cli import tail as _tail  # noqa: F401
from monitor.daemon.logs import setup_logging
from monitor.demo.replay import run_replay
from monitor.paths import default_seeds_dir
from storage.engine import make_engine, session_scope
from storage.tables import AlertRow, ArticleRow, Event
from tests import factories

PLAIN = "Chat Sekjen NATO Bocor ke Publik: Manuver Politik Trump Picu Kontroversi"
# What `&#27;]0;pwned&#7;` (retitle the terminal window) and `ESC[2J` (clear the screen) decode to.
HOSTILE = "\x1b]0;pwned\x07Chat Sekjen\x1b[2J" + PLAIN.removeprefix("Chat Sekjen")
CONTROLS = ("\x1b", "\x07", "\x9b")


def _retitled(payload: str) -> str:
    return payload.replace(json.dumps(PLAIN)[1:-1], json.dumps(HOSTILE)[1:-1])


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seeds replayed into SQLite, then one article's title made hostile wherever it is
    stored (the article, its match event, its alert)."""
    db = tmp_path_factory.mktemp("hostile") / "pantau.db"
    report = asyncio.run(
        run_replay(default_seeds_dir(), factories.settings(db), alert_stream=io.StringIO())
    )
    assert report.summary()["alerts"] == 5
    engine = make_engine(f"sqlite:///{db}")
    try:
        with session_scope(engine) as session:
            article = session.exec(select(ArticleRow).where(ArticleRow.title == PLAIN)).one()
            article.title = HOSTILE
            session.add(article)
            for row in [*session.exec(select(Event)).all(), *session.exec(select(AlertRow)).all()]:
                if json.dumps(PLAIN)[1:-1] in row.payload:
                    row.payload = _retitled(row.payload)
                    session.add(row)
        with session_scope(engine) as session:
            assert session.exec(select(ArticleRow).where(ArticleRow.title == HOSTILE)).one()
    finally:
        engine.dispose()
    yield db


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def assert_clean(output: str) -> None:
    assert not any(c in output for c in CONTROLS), repr(output)
    assert "Chat Sekjen" in output  # the title is still shown, only its controls are gone


@pytest.mark.parametrize(
    ("command", "title_of"),
    [
        (["tail", "--lines", "10"], lambda row: row["data"]["title"]),
        (["search", "Sekjen NATO"], lambda row: row["title"]),
        (["alerts", "list"], lambda row: row["title"]),
    ],
    ids=["tail", "search", "alerts-list"],
)
def test_escape_sequences_in_stored_titles_never_reach_the_terminal_and_json_keeps_them(
    hostile_db: Path, command: list[str], title_of: Callable[[dict[str, Any]], str]
) -> None:
    assert_clean(cli(*command, "--db", str(hostile_db)))
    out = cli(*command, "--db", str(hostile_db), "--json")
    assert "\x1b" not in out  # json writes it as \u001b
    assert HOSTILE in [title_of(json.loads(line)) for line in out.splitlines()]


async def test_console_alert_shows_the_title_without_its_escape_sequences() -> None:
    message = replace(test_message(), title=HOSTILE)
    human, as_json = io.StringIO(), io.StringIO()
    await ConsoleChannel("console", human).send(message)
    await ConsoleChannel("console-json", as_json, json=True).send(message)
    line = human.getvalue()
    assert_clean(line)
    assert line.count("\n") == 1 and "Chat Sekjen NATO Bocor" in line
    assert line.rstrip("\n").endswith("<https://example.org/pantau-test>")
    assert json.loads(as_json.getvalue())["title"] == HOSTILE


def test_human_log_lines_drop_escape_sequences_and_json_logs_keep_them_exactly() -> None:
    human, as_json = io.StringIO(), io.StringIO()
    log = logging.getLogger("monitor.test.terminal")
    setup_logging(json=False, env={}, stream=human)
    log.warning("entry %s skipped: %s", "https://example.org/a", HOSTILE)
    setup_logging(json=True, env={}, stream=as_json)
    log.warning("entry %s skipped: %s", "https://example.org/a", HOSTILE)
    assert_clean(human.getvalue())
    assert human.getvalue().count("\n") == 1
    assert json.loads(as_json.getvalue())["message"].endswith(HOSTILE)
