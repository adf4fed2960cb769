"""The CLI never misleads its operator: flags look like flags, exit codes tell what happened,
tables fit an 80-column terminal."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from monitor.cli import _register, app
from tests.loopback import LoopbackServer, Response

CLEAN_ENV: dict[str, str | None] = {"PANTAU_CONFIG": None, "PANTAU_DATABASE_URL": None}
ROOT = Path(__file__).resolve().parents[2]
SEED_000 = next((ROOT / "seeds").glob("000_*.txt"))


def pantau(*args: str, env: dict[str, str] | None = None) -> Result:
    _register()
    return CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})


def every_command() -> list[list[str]]:
    """The argument path of the root, every group and every command of ``pantau``."""
    _register()
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        # typer 0.29 ships its own copy of click: its groups are not ``click.Group``.
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_boolean_option_shows_as_a_flag_in_help() -> None:
    commands = every_command()
    assert ["run"] in commands and ["feeds", "list"] in commands and ["alerts", "test"] in commands
    for path in commands:
        result = pantau(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, (path, result.output)
    run_help = pantau("run", "--help").output
    assert "--once " in run_help and "--json" not in run_help
    assert "--json  " in pantau("feeds", "list", "--help").output


def test_match_on_a_missing_file_exits_2_with_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = pantau("match", str(missing))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {missing}: no such file"]


def _config(tmp_path: Path, feeds: list[tuple[str, str]]) -> Path:
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(
        "".join(f'[[feed]]\nurl = "{url}"\nname = "{name}"\n\n' for url, name in feeds),
        encoding="utf-8",
    )
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "pantau.db"}"\n',
        encoding="utf-8",
    )
    return config


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/rss"  # the port was free a moment ago: nothing listens


LONG_NAME = "Portal Berita Internasional — Rubrik Eropa, Ukraina dan Rusia, Berita Terkini Hari Ini"
LONG_PATH = "/rss/internasional/eropa/ukraina-dan-rusia/berita-terkini-yang-sangat-panjang.xml"


def test_run_once_exits_non_zero_with_one_summary_line_when_every_feed_failed(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    loopback.route(LONG_PATH, Response(500, b"boom"))
    config = _config(tmp_path, [(loopback.url(LONG_PATH), LONG_NAME), (_refused_url(), "mati")])
    result = pantau("run", "--once", "--allow-private", "--config", str(config))
    assert result.exit_code == 1, result.output
    summary = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(summary) == 1
    assert "every feed failed" in summary[0] and "2 feed(s) polled: 2 error" in summary[0]
    assert "HTTP 500" in summary[0]

    # One feed answering is not a failed run.
    loopback.route("/ok.xml", Response(200, b"<rss version='2.0'><channel></channel></rss>"))
    (tmp_path / "ok").mkdir()
    ok = _config(tmp_path / "ok", [(loopback.url("/ok.xml"), "hidup"), (_refused_url(), "mati")])
    result = pantau("run", "--once", "--allow-private", "--config", str(ok))
    assert result.exit_code == 0, result.output
    assert "2 feed(s) polled" in result.stderr and "every feed failed" not in result.stderr

    # After the failed run, the feed list fits an 80-column terminal, one line per cell.
    result = pantau("feeds", "list", "--config", str(config), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert any(line.startswith("│ Portal Berita") and "…" in line for line in lines)
    assert any("│ http://127.0.0." in line and "…" in line for line in lines), result.stdout
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 4  # two feeds, name over URL, nothing wrapped
    # The status and time columns are not squeezed out: the last poll shows its minute.
    assert all(" healthy " in row and re.search(r"\d\d-\d\d \d\d:\d\d", row) for row in rows[::2])


@pytest.fixture(autouse=True)
def _no_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PANTAU_CONFIG", raising=False)
