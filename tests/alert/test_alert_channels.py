from __future__ import annotations

import io
import socket
import ssl
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from monitor.alert._http import describe_network_error
from monitor.alert.channels import Channel, build_channel, test_channel
from monitor.alert.console import ConsoleChannel
from monitor.alert.email import EmailChannel, build_email
from monitor.alert.message import DigestMessage, emphasise, format_wib
from monitor.alert.slack import SlackChannel
from monitor.alert.webhook import WebhookChannel
from monitor.errors import AlertDeliveryError, ConfigError
from tests.alert_servers import free_port, sample_alert
from tests.loopback import LoopbackServer, Response


def test_channels_are_built_from_config_tables() -> None:
    slack = build_channel("desk", {"type": "slack", "webhook_url": "https://hooks.slack.com/s/x"})
    hook = build_channel(
        "ops", {"type": "webhook", "url": "https://ops.example/h", "headers": {"X-K": "v"}}
    )
    mail = build_channel(
        "mail",
        {"type": "email", "host": "smtp.example.org", "security": "tls", "sender": "p@x.org"}
        | {"recipients": ["a@x.org"], "username": "p", "password": "hunter2-pw"},
    )
    out = io.StringIO()
    console = build_channel("log", {"type": "console", "json": True}, stdout=out)
    assert isinstance(slack, SlackChannel) and isinstance(hook, WebhookChannel)
    assert isinstance(mail, EmailChannel) and mail.port == 465 and mail.recipients == ("a@x.org",)
    assert isinstance(console, ConsoleChannel) and console.json
    assert all(isinstance(c, Channel) for c in (slack, hook, mail, console))
    assert repr(slack) == "SlackChannel(name='desk', target='https://hooks.slack.com/…')"
    assert "hunter2" not in repr(mail)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"type": "pager"}, "type: must be one of apprise, console, email, jsonl, slack, webhook"),
        ({"type": "slack"}, "webhook_url: is required"),
        ({"type": "slack", "webhook_url": "ftp://x/y"}, "webhook_url: not an http(s) URL"),
        ({"type": "slack", "webhook_url": "https://h/x", "timout": 3}, "timout: unknown key"),
        ({"type": "webhook", "url": "https://h/x", "timeout": -1}, "timeout: must be a positive"),
        (
            {"type": "email", "host": "h", "sender": "s@x", "recipients": []},
            "recipients: must be a non-empty list",
        ),
        (
            {"type": "email", "host": "h", "sender": "s@x", "recipients": "a@x", "security": "ssl"},
            "security: must be one of starttls, tls, none",
        ),
    ],
)
def test_bad_channel_config_names_the_channel_and_key(
    options: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_channel("desk", options)
    assert str(caught.value).startswith("alert channel 'desk': ")
    assert complaint in str(caught.value)


async def test_test_channel_reports_success_in_plain_words(loopback: LoopbackServer) -> None:
    loopback.route("/hook/secret", Response(200))
    hook = WebhookChannel("ops", loopback.url("/hook/secret"))
    line = await test_channel(hook)
    await hook.aclose()
    assert line == f"Test message delivered to channel 'ops' (http://127.0.0.1:{loopback.port}/…)."
    assert "please ignore" in loopback.requests[0].body.decode()


async def test_test_channel_failure_says_what_failed() -> None:
    hook = WebhookChannel("ops", f"http://127.0.0.1:{free_port()}/hook/secret")
    with pytest.raises(AlertDeliveryError) as caught:
        await test_channel(hook)
    await hook.aclose()
    assert str(caught.value).startswith("ops: connection refused by http://127.0.0.1:")


def test_emphasis_marks_whole_words_in_any_case() -> None:
    segments = emphasise("nato, NATO-Rusia dan Natoria; putin", ["NATO", "Putin"])
    assert [s.text for s in segments if s.emphasis] == ["nato", "NATO", "putin"]
    assert "".join(s.text for s in segments) == "nato, NATO-Rusia dan Natoria; putin"


def test_times_are_shown_in_western_indonesia_time() -> None:
    assert format_wib(datetime(2026, 11, 21, 10, 0, tzinfo=UTC)) == "21 Nov 2026 17:00 WIB"
    assert format_wib(datetime(2026, 11, 21, 20, 30, tzinfo=UTC)) == "22 Nov 2026 03:30 WIB"
    assert format_wib(None) == "time unknown"


def test_email_subject_stays_one_line_even_for_hostile_titles() -> None:
    hostile = replace(sample_alert(), title="Putin\r\nBcc: victim@example.org")
    mail = build_email(hostile, sender="p@alerts.example.org", recipients=("a@example.org",))
    assert mail["Bcc"] is None
    assert mail["Subject"] == "[Pantau] Vladimir Putin — Putin Bcc: victim@example.org"


def test_digest_email_subject_is_the_digest_title() -> None:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    digest = DigestMessage(
        "3 new articles mention NATO in the last hour", (sample_alert(),), now, now
    )
    mail = build_email(digest, sender="p@alerts.example.org", recipients=("a@example.org",))
    assert mail["Subject"] == "[Pantau] 3 new articles mention NATO in the last hour"
    assert mail["References"] is None


def _chained(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("cause", "words", "transient"),
    [
        (socket.gaierror(-2, "Name or service not known"), "DNS lookup failed", True),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS certificate", False),
        (ssl.SSLError(1, "wrong version number"), "TLS handshake", True),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused", True),
    ],
)
def test_network_failures_are_named_in_plain_words(
    cause: BaseException, words: str, transient: bool
) -> None:
    error = _chained(httpx.ConnectError("boom"), cause)
    reason, is_transient = describe_network_error(error, "https://hooks.slack.com/…")
    assert words in reason and "https://hooks.slack.com/…" in reason
    assert is_transient is transient
