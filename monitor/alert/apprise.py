"""Apprise: every other notification service (Telegram, Discord, Teams, Matrix, ntfy, …).

Optional: ``pip install 'pantau[apprise]'``. The channel takes Apprise URLs
(``tgram://bot-token/chat-id``, ``json://host/path``, …); they carry tokens, so the config
names them through ``url_env``/``urls_env`` like every other secret, and messages and
``repr`` show only the services' schemes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.alert.message import AlertMessage, DigestMessage, plain_text, subject
from monitor.errors import AlertDeliveryError, ConfigError


def _load_apprise() -> Any:
    try:
        import apprise
    except ImportError as exc:
        raise ConfigError(
            "an apprise channel needs the Apprise library: pip install 'pantau[apprise]'"
        ) from exc
    return apprise


class AppriseChannel:
    """Sends the plain-text rendering of an alert to every configured Apprise URL."""

    kind = "apprise"

    def __init__(self, name: str, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("an apprise channel needs at least one URL")
        apprise = _load_apprise()
        self.name = name
        self._apprise = apprise.Apprise()
        for url in urls:
            if not self._apprise.add(url):
                scheme = url.split("://", 1)[0] if "://" in url else "?"
                raise ValueError(f"Apprise does not understand a {scheme}:// URL")
        self.target = ", ".join(sorted({u.split("://", 1)[0] + "://…" for u in urls}))

    def __repr__(self) -> str:
        return f"AppriseChannel(name={self.name!r}, target={self.target!r})"

    async def send(self, message: AlertMessage | DigestMessage) -> None:
        ok = await self._apprise.async_notify(body=plain_text(message), title=subject(message))
        if not ok:
            # Apprise reports per-service failures in its own log only; retrying is the
            # outbox's job, so the failure is transient.
            raise AlertDeliveryError(
                f"{self.name}: Apprise could not deliver to {self.target} "
                "(see the apprise log lines for the service's answer)",
                channel=self.name,
                transient=True,
            )

    async def aclose(self) -> None:
        """Apprise keeps no connections open."""
