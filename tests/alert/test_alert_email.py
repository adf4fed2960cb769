from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from monitor.alert.channels import test_channel
from monitor.alert.email import EmailChannel
from monitor.alert.flood import make_digest
from monitor.errors import AlertDeliveryError
from tests.alert_servers import (
    SelfSignedCert,
    free_port,
    make_self_signed_cert,
    sample_alert,
    smtp_server,
)

NOW = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
SENDER = "Pantau <pantau@alerts.example.org>"


def channel(port: int, **overrides: object) -> EmailChannel:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "recipients": ("desk@example.org", "analyst@example.org"),
        "security": "none",
        "timeout": 5,
    }
    options.update(overrides)
    return EmailChannel("desk-email", **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCert:
    made = make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("no openssl command to make a test certificate")
    return made


async def test_alert_email_arrives_with_headers_and_both_parts() -> None:
    with smtp_server() as smtp:
        await channel(smtp.port, list_unsubscribe="mailto:unsub@example.org").send(
            sample_alert(follow_up="Now also reported by Tempo")
        )
    [mail] = smtp.messages
    assert mail["Subject"] == (
        "[Pantau] Follow-up: Vladimir Putin — Putin peringatkan NATO soal Ukraina #1"
    )
    assert mail["From"] == SENDER
    assert mail["To"] == "desk@example.org, analyst@example.org"
    assert parsedate_to_datetime(mail["Date"]).tzinfo is not None
    assert mail["Message-ID"].endswith("@alerts.example.org>")
    assert mail["List-Unsubscribe"] == "<mailto:unsub@example.org>"
    assert smtp.envelopes[0][1] == ["desk@example.org", "analyst@example.org"]

    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    assert "21 Nov 2026 17:00 WIB" in text
    assert "*Putin*" in text and "*NATO*" in text
    assert "Also reported by: Detik, Tempo" in text
    assert "Follow-up: Now also reported by Tempo" in text
    assert "Presiden Rusia Vladimir <strong>Putin</strong> menegaskan" in markup
    assert "ke timur &amp; &lt;perbatasan&gt;" in markup  # article text escaped, not markup
    assert 'href="https://www.kompas.com/global/read/2026/11/21/1/putin-nato?utm=x&amp;a=b"' in (
        markup
    )


async def test_digest_email_lists_every_item() -> None:
    items = [sample_alert(n) for n in range(1, 8)]
    digest = make_digest(items, window_start=NOW, window_end=NOW)
    with smtp_server() as smtp:
        await channel(smtp.port).send(digest)
    [mail] = smtp.messages
    assert mail["Subject"] == f"[Pantau] {digest.title}"
    html = mail.get_body(("html",))
    assert html is not None
    for item in items:
        assert item.title in html.get_content()


async def test_login_is_used_when_a_username_is_configured() -> None:
    with smtp_server(username="pantau", password="s3cret-pw") as smtp:
        await channel(smtp.port, username="pantau", password="s3cret-pw").send(sample_alert())
    assert smtp.logins == ["pantau"]
    assert len(smtp.messages) == 1


async def test_wrong_password_is_a_permanent_authentication_failure() -> None:
    with smtp_server(username="pantau", password="right") as smtp:
        sender = channel(smtp.port, username="pantau", password="wrong-pw-xyz")
        with pytest.raises(AlertDeliveryError) as caught:
            await sender.send(sample_alert())
    assert "authentication failed" in str(caught.value)
    assert "535" in str(caught.value)
    assert caught.value.transient is False
    assert caught.value.channel == "desk-email"
    assert "wrong-pw-xyz" not in str(caught.value) and "wrong-pw-xyz" not in repr(sender)
    assert smtp.messages == []


async def test_nothing_listening_is_a_transient_connection_refused() -> None:
    with pytest.raises(AlertDeliveryError) as caught:
        await channel(free_port()).send(sample_alert())
    assert "connection refused" in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    assert caught.value.transient is True


async def test_refused_recipient_is_named_and_the_others_still_get_it() -> None:
    with smtp_server() as smtp:
        smtp.refuse_recipients.add("analyst@example.org")
        with pytest.raises(AlertDeliveryError) as caught:
            await channel(smtp.port).send(sample_alert())
    assert "recipient refused" in str(caught.value)
    assert "analyst@example.org" in str(caught.value)
    assert "delivered to the other 1" in str(caught.value)
    assert caught.value.transient is False
    assert smtp.envelopes[0][1] == ["desk@example.org"]


async def test_all_recipients_refused_is_a_permanent_failure() -> None:
    with smtp_server() as smtp:
        smtp.refuse_recipients |= {"desk@example.org", "analyst@example.org"}
        with pytest.raises(AlertDeliveryError) as caught:
            await channel(smtp.port).send(sample_alert())
    assert "recipient refused" in str(caught.value)
    assert "desk@example.org" in str(caught.value)
    assert caught.value.transient is False
    assert smtp.messages == []


async def test_starttls_with_a_trusted_certificate_delivers(cert: SelfSignedCert) -> None:
    with smtp_server(starttls_cert=cert, username="pantau", password="pw") as smtp:
        sender = channel(
            smtp.port, security="starttls", cafile=str(cert.cert), username="pantau", password="pw"
        )
        line = await test_channel(sender)
    assert "desk-email" in line and "delivered" in line
    assert smtp.messages[0]["Subject"].startswith("[Pantau] Pantau — Pantau test message")


async def test_starttls_with_an_untrusted_certificate_says_tls(cert: SelfSignedCert) -> None:
    with smtp_server(starttls_cert=cert) as smtp, pytest.raises(AlertDeliveryError) as caught:
        await channel(smtp.port, security="starttls").send(sample_alert())
    assert "TLS certificate" in str(caught.value)
    assert caught.value.transient is False
    assert smtp.messages == []


async def test_starttls_without_verification_delivers(cert: SelfSignedCert) -> None:
    with smtp_server(starttls_cert=cert) as smtp:
        await channel(smtp.port, security="starttls", tls_verify=False).send(sample_alert())
    assert len(smtp.messages) == 1


async def test_plain_server_without_starttls_is_reported() -> None:
    with smtp_server() as smtp, pytest.raises(AlertDeliveryError) as caught:
        await channel(smtp.port, security="starttls").send(sample_alert())
    assert "STARTTLS" in str(caught.value)
    assert caught.value.transient is False
