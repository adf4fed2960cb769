"""Email subjects arrive readable: no empty encoded-word (``=?utf-8?q??=``) whatever the title
(a real SMTP server, aiosmtpd, receives the mail)."""

from __future__ import annotations

from monitor.alert.email import EmailChannel
from tests.alert_servers import sample_alert, smtp_server

# Python's header folder (3.11) leaves an empty encoded-word in the folded Subject of this
# alert: the fold falls just before a non-ASCII word.
TITLE = "kata di é Ukraina Putin yang Stoltenberg AS-Rusia Rusia Sekjen Sekjen Ukraina é"


def channel(port: int) -> EmailChannel:
    return EmailChannel(
        "desk-email",
        host="127.0.0.1",
        port=port,
        sender="Pantau <pantau@alerts.example.org>",
        recipients=("desk@example.org",),
        security="none",
        timeout=5,
    )


def raw_headers(text: str) -> str:
    return text.replace("\r\n", "\n").split("\n\n", 1)[0]


async def test_a_long_non_ascii_subject_has_no_empty_encoded_word() -> None:
    titles = [TITLE, "Putin — é", "Sekjen NATO “Rutte” bertemu Zelensky di Kyiv " * 3]
    with smtp_server() as smtp:
        for title in titles:
            await channel(smtp.port).send(sample_alert(title=title))
    assert len(smtp.messages) == len(titles)
    for title, mail in zip(titles, smtp.messages, strict=True):
        headers = raw_headers(mail.as_string())
        assert "?q??=" not in headers.lower() and "?b??=" not in headers.lower(), headers
        assert all(len(line) <= 78 for line in headers.splitlines()), headers
        shown = str(mail["Subject"])
        assert shown.startswith("[Pantau] Vladimir Putin — ")
        assert " ".join(title.split())[:100] in shown
