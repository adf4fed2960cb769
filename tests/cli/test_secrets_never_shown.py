"""Secrets never show up where an operator (or whoever reads over their shoulder, or their
terminal scrollback, or a bug report) would see them: not in ``repr``/``str`` of the settings,
not in the errors of ``pantau tail`` or ``status``; and a secret written into the configuration
file itself is pointed out with the way to move it to the environment or a credential."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli import status as _status  # noqa: F401  (registers the commands)
from monitor.cli import tail as _tail  # noqa: F401
from monitor.config import load_settings
from monitor.secrets import configured_secrets, resolve_secrets

DB_PASSWORD = "hunter2-db-pass"
SMTP_PASSWORD = "smtp-s3cret-pass"
SLACK_TOKEN = "T000/B000/slacktokenXYZ"
BEARER = "bearer-token-abc123"
SECRETS = (DB_PASSWORD, SMTP_PASSWORD, SLACK_TOKEN, BEARER)
# Nothing listens on port 1: the database cannot be reached.
UNREACHABLE = f"postgresql://pantau:{DB_PASSWORD}@127.0.0.1:1/pantau"


def config_with_secrets(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text("# no feeds\n", encoding="utf-8")
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'feeds_file = "{feeds}"\n'
        f'[database]\nurl = "{UNREACHABLE}"\n'
        '[[alerts.channels]]\nname = "desk"\ntype = "email"\nhost = "smtp.example.org"\n'
        f'sender = "p@example.org"\nrecipients = ["d@example.org"]\npassword = "{SMTP_PASSWORD}"\n'
        '[[alerts.channels]]\nname = "slack"\ntype = "slack"\n'
        f'webhook_url = "https://hooks.slack.com/services/{SLACK_TOKEN}"\n'
        '[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl = "https://hooks.example/in"\n'
        f'headers = {{Authorization = "Bearer {BEARER}", "Content-Language" = "id"}}\n'
        '[[alerts.rules]]\nname = "all"\nchannels = ["desk", "slack", "hook"]\n',
        encoding="utf-8",
    )
    return config


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in {text!r}"


def test_repr_and_str_of_the_settings_show_no_secret(tmp_path: Path) -> None:
    settings = load_settings(config_with_secrets(tmp_path), env={})
    for shown in (repr(settings), str(settings), repr(settings.alerts), repr(settings.database)):
        assert_no_secret(shown)
    assert "postgresql://pantau:***@127.0.0.1:1/pantau" in repr(settings)
    assert "'Content-Language': 'id'" in repr(settings)  # what is not secret is still shown
    # The values themselves are intact for the code that needs them.
    assert settings.database_url == UNREACHABLE
    assert settings.alerts.channels[0].options["password"] == SMTP_PASSWORD


def test_tail_names_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["tail", "--config", str(config_with_secrets(tmp_path))])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "pantau:***@127.0.0.1:1/pantau" in result.output
    assert_no_secret(result.output)


def test_config_check_warns_of_each_secret_in_the_file_and_how_to_move_it(
    tmp_path: Path,
) -> None:
    config = config_with_secrets(tmp_path)
    result = CliRunner().invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output  # valid, just unsafe
    out = " ".join(result.output.split())
    assert_no_secret(out)
    assert "pantau:***@127.0.0.1:1/pantau" in out
    expected = [
        "database.url: the database password is written in the configuration file",
        "PANTAU_DATABASE_URL",
        "alerts.channels.0.password (channel 'desk'): a secret written in the configuration",
        'password_env = "PANTAU_DESK_PASSWORD"',
        'password_credential = "desk_password"',
        "LoadCredential=desk_password:",
        "alerts.channels.1.webhook_url (channel 'slack')",
        'webhook_url_env = "PANTAU_SLACK_WEBHOOK_URL"',
        "alerts.channels.2.headers.Authorization (channel 'hook')",
        'Authorization_env = "PANTAU_HOOK_AUTHORIZATION"',
    ]
    for fragment in expected:
        assert fragment in out, f"{fragment!r} not in {out!r}"
    assert "Content-Language" not in out and "alerts.channels.2.url" not in out


def test_a_secret_in_the_file_is_logged_as_a_warning_at_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    load_settings(config_with_secrets(tmp_path), env={})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert all("configuration file" in w for w in warnings)
    assert_no_secret("\n".join(warnings))


def test_no_warning_when_the_file_only_names_where_secrets_are(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "pantau.toml"
    config.write_text(
        '[database]\nurl = "postgresql://pantau@db.internal/pantau"\n'
        '[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl = "https://hooks.example/in"\n'
        'headers = {Authorization_env = "PANTAU_HOOK_AUTHORIZATION"}\n'
        '[[alerts.rules]]\nname = "all"\nchannels = ["hook"]\n',
        encoding="utf-8",
    )
    caplog.set_level(logging.WARNING)
    settings = load_settings(config, env={})
    assert [r.getMessage() for r in caplog.records] == []
    # The header's reference is resolved like any other channel secret, and redacted in logs.
    env = {"PANTAU_HOOK_AUTHORIZATION": f"Bearer {BEARER}"}
    options = resolve_secrets(settings.alerts.channels[0].options, env, channel="hook")
    assert options["headers"] == {"Authorization": f"Bearer {BEARER}"}
    assert configured_secrets(settings.alerts.channels, env) == [f"Bearer {BEARER}"]
