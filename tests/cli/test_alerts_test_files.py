"""``pantau alerts test`` never writes a test record into a production JSON-lines file unless
the operator asks for it (a real webhook recorder, a real file)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

import monitor.cli.alerts  # noqa: F401  (registers the command group)
from monitor.cli import app
from tests.loopback import LoopbackServer, Response

CLEAN_ENV: dict[str, str | None] = {"PANTAU_CONFIG": None, "PANTAU_DATABASE_URL": None}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=CLEAN_ENV)


def config(tmp_path: Path, hook_url: str, archive: Path) -> Path:
    cfg = tmp_path / "pantau.toml"
    cfg.write_text(
        f"""
[[alerts.rules]]
name = "default"
channels = ["hook", "archive"]

[[alerts.channels]]
name = "hook"
type = "webhook"
url = "{hook_url}"

[[alerts.channels]]
name = "archive"
type = "jsonl"
path = "{archive}"
""",
        encoding="utf-8",
    )
    return cfg


def test_testing_every_channel_skips_the_jsonl_file_and_says_so(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    archive = tmp_path / "alerts.jsonl"
    archive.write_text('{"title": "a real alert"}\n', encoding="utf-8")
    cfg = config(tmp_path, loopback.url("/hook"), archive)

    result = run("alerts", "test", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert "Test message delivered to channel 'hook'" in result.stdout
    assert len(loopback.requests_for("/hook")) == 1
    assert archive.read_text(encoding="utf-8") == '{"title": "a real alert"}\n'
    said = " ".join(result.stderr.split())
    assert f"skipped: channel 'archive' (jsonl) appends to {archive}" in said
    assert "--channel archive or pass --include-files" in said


def test_the_jsonl_file_gets_a_test_record_only_when_asked(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    archive = tmp_path / "alerts.jsonl"
    cfg = config(tmp_path, loopback.url("/hook"), archive)

    result = run("alerts", "test", "--channel", "archive", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert loopback.requests_for("/hook") == []  # only the named channel
    [line] = archive.read_text(encoding="utf-8").splitlines()
    assert "Pantau test message" in json.loads(line)["title"]

    result = run("alerts", "test", "--include-files", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert len(archive.read_text(encoding="utf-8").splitlines()) == 2
    assert len(loopback.requests_for("/hook")) == 1
    assert "skipped" not in result.stderr
