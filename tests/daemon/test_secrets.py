"""Secrets named by ``*_env`` / ``*_credential`` keys (monitor.secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.secrets import resolve_secrets


def test_references_are_replaced_by_the_values_they_name(tmp_path: Path) -> None:
    (tmp_path / "smtp_password").write_text("s3cret\n")
    options = {"webhook_url_env": "SLACK_URL", "password_credential": "smtp_password", "port": 587}
    env = {"SLACK_URL": "https://hooks.example/x", "CREDENTIALS_DIRECTORY": str(tmp_path)}
    resolved = resolve_secrets(options, env, channel="desk")
    assert resolved == {"webhook_url": "https://hooks.example/x", "password": "s3cret", "port": 587}


@pytest.mark.parametrize(
    ("options", "env", "reason"),
    [
        (
            {"url_env": "NOPE"},
            {},
            "'desk': url_env: environment variable NOPE is not set",
        ),
        ({"password_credential": "p"}, {}, "no $CREDENTIALS_DIRECTORY (set LoadCredential="),
        ({"password_credential": "p"}, {"CREDENTIALS_DIRECTORY": "/nonexistent"}, "cannot read"),
    ],
)
def test_an_unresolvable_reference_names_channel_key_and_reason(
    options: dict[str, str], env: dict[str, str], reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_secrets(options, env, channel="desk")
    assert reason in caught.value.message
