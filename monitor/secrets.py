"""Secrets the configuration names but never holds.

A channel key ending in ``_env`` names an environment variable (``webhook_url_env =
"PANTAU_SLACK_WEBHOOK_URL"``); one ending in ``_credential`` names a systemd credential
(``LoadCredential=`` in the unit; systemd puts it in ``$CREDENTIALS_DIRECTORY``). Either way the
value ends up under the key without the suffix (``webhook_url``). The environment is passed in
by whoever reads it at the edge of the program; nothing here reads ``os.environ``.

The same works one table down, for a webhook's headers: ``headers = {Authorization_env =
"PANTAU_HOOK_AUTH"}`` sends ``Authorization`` with the variable's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from monitor.config import ChannelSettings
from monitor.errors import ConfigError

ENV_SUFFIX = "_env"
CREDENTIAL_SUFFIX = "_credential"


class _Unavailable(Exception):
    """The secret a reference names cannot be had; the message says why."""


def _secret(key: str, ref: object, env: Mapping[str, str]) -> str | None:
    """The value ``key = ref`` points at; None when ``key`` is no reference.
    Raises _Unavailable when it is one that cannot be resolved."""
    if key.endswith(ENV_SUFFIX):
        value = env.get(str(ref))
        if not value:
            raise _Unavailable(f"environment variable {ref} is not set")
        return value
    if key.endswith(CREDENTIAL_SUFFIX):
        cred_dir = env.get("CREDENTIALS_DIRECTORY")
        if not cred_dir:
            raise _Unavailable(
                "no $CREDENTIALS_DIRECTORY (set LoadCredential= in the systemd unit)"
            )
        try:
            return (Path(cred_dir) / str(ref)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _Unavailable(f"cannot read credential {ref}: {exc.strerror}") from exc
    return None


def _plain_key(key: str) -> str:
    """``webhook_url_env`` -> ``webhook_url`` (the key the secret is given to the channel as)."""
    if key.endswith(ENV_SUFFIX):
        return key[: -len(ENV_SUFFIX)]
    return key.removesuffix(CREDENTIAL_SUFFIX)


def resolve_secrets(
    options: Mapping[str, Any], env: Mapping[str, str], *, channel: str
) -> dict[str, Any]:
    """Replace ``X_env`` / ``X_credential`` references by the secret values they name.

    Raises ConfigError naming the channel and key when one cannot be resolved."""
    return _resolve(options, env, channel=channel, prefix="")


def _resolve(
    options: Mapping[str, Any], env: Mapping[str, str], *, channel: str, prefix: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Mapping) and not prefix:  # a table of headers
            out[key] = _resolve(value, env, channel=channel, prefix=f"{key}.")
            continue
        try:
            secret = _secret(key, value, env)
        except _Unavailable as exc:
            raise ConfigError(f"alert channel {channel!r}: {prefix}{key}: {exc}") from exc.__cause__
        if secret is None:
            out[key] = value
        else:
            out[_plain_key(key)] = secret
    return out


def configured_secrets(channels: Iterable[ChannelSettings], env: Mapping[str, str]) -> list[str]:
    """The secret values the channels' references point at, for redacting logs (missing ones
    are skipped: start-up reports those)."""
    found: list[str] = []
    for ch in channels:
        pairs = list(ch.options.items())
        for table in [v for _, v in pairs if isinstance(v, Mapping)]:
            pairs += table.items()  # the headers' references
        for key, ref in pairs:
            try:
                value = _secret(key, ref, env)
            except _Unavailable:
                continue
            if value:
                found.append(value)
    return found
