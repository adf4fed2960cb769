"""Operator commands: status, config check, alerts list/retry/test (typer's runner, real DB,
real loopback webhook recorders)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import monitor.cli.alerts
import monitor.cli.status  # noqa: F401  (registers status and config check)
from monitor.cli import app
from tests.loopback import LoopbackServer, Response, serve
from tests.seeded import copy_db, replay_seeds

CLEAN_ENV: dict[str, str | None] = {"PANTAU_CONFIG": None, "PANTAU_DATABASE_URL": None}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})


def channels_toml(hook_url: str) -> str:
    return f"""
[[alerts.rules]]
name = "default"
channels = ["console", "hook"]

[[alerts.channels]]
name = "console"
type = "console"

[[alerts.channels]]
name = "hook"
type = "webhook"
url = "{hook_url}"
"""


@pytest.fixture(scope="module")
def outbox_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Seeds replayed with two channels: console delivers, the webhook refuses (HTTP 400)."""
    with serve() as hook:
        hook.route("/hook", Response(400, b"bad payload"))
        db = tmp_path_factory.mktemp("cli") / "pantau.db"
        replay_seeds(
            db,
            alerts={
                "rules": [{"name": "default", "channels": ["console", "hook"]}],
                "channels": [
                    {"name": "console", "type": "console"},
                    {"name": "hook", "type": "webhook", "url": hook.url("/hook")},
                ],
            },
        )
        yield db


@pytest.fixture
def db(outbox_db: Path, tmp_path: Path) -> Path:
    return copy_db(outbox_db, tmp_path)


# --- status ---------------------------------------------------------------------------------


def test_status_json_counts_todays_matches_feeds_and_alerts(db: Path) -> None:
    result = run("status", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["feeds"] == {"total": 1, "healthy": 1, "unhealthy": 0}
    assert doc["matches_today"] == 5
    assert doc["alerts"] == {"pending": 0, "failed": 5}


def test_status_screen_says_what_needs_attention(db: Path) -> None:
    result = run("status", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "1 healthy / 1 watched" in result.stdout
    assert "5 matching articles" in result.stdout
    assert "5 failed (pantau alerts list --failed)" in result.stdout


# --- config check ---------------------------------------------------------------------------


def test_config_check_accepts_a_valid_file_and_summarises_it(tmp_path: Path) -> None:
    cfg = tmp_path / "pantau.toml"
    cfg.write_text(channels_toml("http://127.0.0.1:9/hook") + "\n[status]\nenabled = true\n")
    result = run("config", "check", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert f"{cfg}: configuration is valid" in result.stdout
    assert "hook (webhook)" in result.stdout
    assert "on, http://127.0.0.1:8787/" in result.stdout


def test_config_check_names_file_key_and_reason_without_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "pantau.toml"
    cfg.write_text("[schedule]\nglobal_concurrency = 0\n")
    result = run("config", "check", "--config", str(cfg))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {cfg}: schedule.global_concurrency: Input should be greater than 0"
    )
    assert "Traceback" not in result.output


def test_config_check_reports_a_missing_secret(tmp_path: Path) -> None:
    cfg = tmp_path / "pantau.toml"
    cfg.write_text(
        '[[alerts.channels]]\nname = "console"\ntype = "console"\n\n'
        '[[alerts.channels]]\nname = "slack"\ntype = "slack"\n'
        'webhook_url_env = "PANTAU_TEST_SLACK_URL"\n'
    )
    result = run("config", "check", "--config", str(cfg), env={"PANTAU_TEST_SLACK_URL": None})
    assert result.exit_code == 2
    assert "alert channel 'slack'" in result.stderr
    assert "PANTAU_TEST_SLACK_URL is not set" in result.stderr


def test_config_check_reports_a_file_that_is_not_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "pantau.toml"
    cfg.write_text("[schedule\n")
    result = run("config", "check", "--config", str(cfg))
    assert result.exit_code == 2
    assert f"{cfg}: not valid TOML" in result.stderr
    assert "Traceback" not in result.output


# --- alerts list / retry ------------------------------------------------------------------------


def test_alerts_list_json_shows_every_alert_newest_first(db: Path) -> None:
    result = run("alerts", "list", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 10
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert {(r["channel"], r["status"]) for r in rows} == {("console", "sent"), ("hook", "failed")}


def test_alerts_list_failed_says_why_each_failed(db: Path) -> None:
    result = run("alerts", "list", "--failed", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5
    assert all(r["channel"] == "hook" and "HTTP 400" in r["error"] for r in rows)
    table = run("alerts", "list", "--failed", "--db", str(db))
    assert "Failed alerts" in table.stdout and "pantau alerts retry" in table.stdout


def test_alerts_retry_puts_failed_alerts_back_in_the_queue(db: Path) -> None:
    result = run("alerts", "retry", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "5 failed alert(s) put back in the queue" in result.stdout
    assert run("alerts", "list", "--failed", "--db", str(db), "--json").stdout == ""
    status = json.loads(run("status", "--db", str(db), "--json").stdout)
    assert status["alerts"] == {"pending": 5, "failed": 0}
    again = run("alerts", "retry", "--db", str(db), "--json")
    assert json.loads(again.stdout) == {"requeued": 0}


# --- alerts test ------------------------------------------------------------------------------


def config_with_hook(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "pantau.toml"
    cfg.write_text(channels_toml(url))
    return cfg


def test_alerts_test_delivers_a_labelled_test_message(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    cfg = config_with_hook(tmp_path, loopback.url("/hook"))
    result = run("alerts", "test", "--channel", "hook", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert "Test message delivered to channel 'hook'" in result.stdout
    [request] = loopback.requests_for("/hook")
    assert request.method == "POST"
    assert "Pantau test message" in json.loads(request.body)["title"]


def test_alerts_test_explains_an_http_refusal(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.route("/hook", Response(403, b"invalid_token"))
    cfg = config_with_hook(tmp_path, loopback.url("/hook"))
    result = run("alerts", "test", "--channel", "hook", "--config", str(cfg))
    assert result.exit_code == 1
    assert "failed: hook: request refused from" in result.stderr
    assert "(HTTP 403): invalid_token" in result.stderr
    assert "hint: the server refused our credentials" in result.stderr
    assert "Traceback" not in result.output


def test_alerts_test_explains_that_nothing_listens(tmp_path: Path) -> None:
    with serve() as gone:
        url = gone.url("/hook")  # a port that was just free, closed again below
    cfg = config_with_hook(tmp_path, url)
    result = run("alerts", "test", "--channel", "hook", "--config", str(cfg))
    assert result.exit_code == 1
    assert "connection refused" in result.stderr
    assert "hint: nothing listens there" in result.stderr


def test_alerts_test_with_an_unknown_channel_lists_the_defined_ones(tmp_path: Path) -> None:
    cfg = config_with_hook(tmp_path, "http://127.0.0.1:9/hook")
    result = run("alerts", "test", "--channel", "pager", "--config", str(cfg))
    assert result.exit_code == 2
    assert "no channel named 'pager' (defined: console, hook)" in result.stderr
