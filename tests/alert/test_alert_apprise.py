"""The optional Apprise channel (pantau[apprise]) against a real HTTP server on 127.0.0.1,
through Apprise's own json:// service."""

from __future__ import annotations

import json

import pytest

from monitor.config import load_settings
from monitor.daemon.runtime import build_channels
from monitor.errors import AlertDeliveryError, ConfigError
from tests.alert_servers import sample_alert
from tests.loopback import LoopbackServer, Response

pytest.importorskip("apprise", reason="the apprise extra is not installed")


def _channels(urls: str) -> dict[str, object]:
    settings = load_settings(
        None,
        env={},
        overrides={"alerts": {"channels": [{"name": "more", "type": "apprise",
                                            "urls_env": "PANTAU_APPRISE_URLS"}],
                              "rules": [{"name": "default", "channels": ["more"]}]}},
    )  # fmt: skip
    return dict(build_channels(settings.alerts.channels, {"PANTAU_APPRISE_URLS": urls}))


async def test_apprise_channel_delivers_title_and_snippet_to_the_service(
    loopback: LoopbackServer,
) -> None:
    loopback.route("/hook/secret-token", Response(200, b"ok"))
    channel = _channels(f"json://127.0.0.1:{loopback.port}/hook/secret-token")["more"]
    await channel.send(sample_alert())  # type: ignore[attr-defined]
    (request,) = loopback.requests_for("/hook/secret-token")
    payload = json.loads(request.body)
    assert "Vladimir Putin" in payload["title"]
    assert "Putin" in payload["message"] and "Detik" in payload["message"]
    assert "secret-token" not in repr(channel)


async def test_apprise_failure_is_a_transient_delivery_error_without_the_url(
    loopback: LoopbackServer,
) -> None:
    loopback.route("/hook/secret-token", Response(500, b"down"))
    channel = _channels(f"json://127.0.0.1:{loopback.port}/hook/secret-token")["more"]
    with pytest.raises(AlertDeliveryError) as info:
        await channel.send(sample_alert())  # type: ignore[attr-defined]
    assert info.value.transient
    assert "secret-token" not in info.value.message


def test_an_unknown_apprise_url_is_a_config_error_naming_the_channel() -> None:
    with pytest.raises(ConfigError, match=r"more.*urls"):
        _channels("nosuchservice://x")
