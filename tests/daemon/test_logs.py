"""Logs: secrets never reach them; JSON lines under journald, readable text on a terminal."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import ChannelSettings
from monitor.daemon.logs import Redactor, setup_logging
from monitor.secrets import configured_secrets

SLACK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def capture(**kwargs: object) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    kwargs.setdefault("env", {})
    setup_logging(logging.DEBUG, stream=stream, **kwargs)  # type: ignore[arg-type]
    return stream, logging.getLogger("pantau.test")


def test_slack_webhook_url_is_redacted(restore_root_logger: None) -> None:
    stream, log = capture()
    log.warning("posting to %s failed", SLACK)
    out = stream.getvalue()
    assert "T0123ABCD" not in out and "abcdefghijklmnop" not in out
    assert "hooks.slack.com/services/***" in out


def test_password_in_a_url_is_redacted_but_user_and_host_stay(restore_root_logger: None) -> None:
    stream, log = capture()
    log.error("cannot connect to postgresql://pantau:s3cr3t-pw@db.internal:5432/pantau")
    out = stream.getvalue()
    assert "s3cr3t-pw" not in out
    assert "postgresql://pantau:***@db.internal:5432/pantau" in out


def test_registered_secret_is_redacted_also_when_url_encoded(restore_root_logger: None) -> None:
    stream, log = capture(secrets=["p@ss/word!"])
    log.info("SMTP login with p@ss/word! refused")
    log.info("retrying smtp://user:p%40ss%2Fword%21@mail.example.org")
    out = stream.getvalue()
    assert "p@ss/word!" not in out and "p%40ss%2Fword%21" not in out
    assert out.count("***") >= 2


def test_secret_registered_after_start_up_is_redacted(restore_root_logger: None) -> None:
    stream = io.StringIO()
    redacting = setup_logging(logging.INFO, stream=stream, env={})
    redacting.add_secret("late-registered-token")
    logging.getLogger("pantau.test").info("token=late-registered-token")
    assert "late-registered-token" not in stream.getvalue()


def test_traceback_text_is_redacted(restore_root_logger: None) -> None:
    stream, log = capture()
    try:
        raise RuntimeError(f"upstream said no to {SLACK}")
    except RuntimeError:
        log.exception("delivery crashed")
    out = stream.getvalue()
    assert "Traceback" in out and "RuntimeError" in out
    assert "T0123ABCD" not in out


def test_bearer_tokens_are_redacted() -> None:
    assert Redactor()("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9") == "Authorization: Bearer ***"


def test_very_short_secrets_do_not_mask_ordinary_words() -> None:
    assert Redactor(["a"])("a normal sentence") == "a normal sentence"


def test_under_journald_each_record_is_one_json_line_with_priority(
    restore_root_logger: None,
) -> None:
    stream, log = capture(env={"JOURNAL_STREAM": "8:12345"})
    log.warning("feed %s unhealthy", "kompas", extra={"feed": "kompas", "failures": 3})
    line = stream.getvalue().strip()
    assert line.startswith("<4>{")  # journald stores <4> as the entry's priority (warning)
    doc = json.loads(line[3:])
    assert doc["level"] == "warning"
    assert doc["message"] == "feed kompas unhealthy"
    assert doc["logger"] == "pantau.test"
    assert doc["feed"] == "kompas" and doc["failures"] == 3
    assert "time" in doc


def test_json_can_be_forced_and_has_no_priority_prefix_outside_journald(
    restore_root_logger: None,
) -> None:
    stream, log = capture(json=True)
    log.info("hello %s", SLACK)
    doc = json.loads(stream.getvalue())
    assert doc["message"] == "hello https://hooks.slack.com/services/***"


def test_on_a_terminal_lines_are_human_readable(restore_root_logger: None) -> None:
    stream, log = capture()
    log.info("polled %d feeds", 12)
    line = stream.getvalue().strip()
    assert line.endswith("INFO    pantau.test: polled 12 feeds")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_configured_secrets_come_from_env_and_credentials(tmp_path: Path) -> None:
    (tmp_path / "smtp_password").write_text("from-credential\n")
    channels = [
        ChannelSettings.model_validate(
            {"name": "slack", "type": "slack", "webhook_url_env": "SLACK_URL"}
        ),
        ChannelSettings.model_validate(
            {"name": "mail", "type": "email", "password_credential": "smtp_password"}
        ),
    ]
    env = {"SLACK_URL": SLACK, "CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert configured_secrets(channels, env) == [SLACK, "from-credential"]
