"""Email channel: a multipart/alternative message (plain text + HTML) sent with aiosmtplib.

``build_email`` is pure (message in, ``EmailMessage`` out); ``EmailChannel`` only connects and
sends. SMTP failures become ``AlertDeliveryError`` in plain words — connection refused, DNS,
TLS, authentication failed (535, permanent), recipient refused — and never carry the password.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal

import aiosmtplib

from monitor.alert._http import describe_network_error
from monitor.alert.message import (
    AlertMessage,
    DigestMessage,
    Segment,
    actor_label,
    emphasised_snippets,
    format_wib,
    headline_actors,
    plain_text,
    subject,
    topic_label,
)
from monitor.errors import AlertDeliveryError

Security = Literal["starttls", "tls", "none"]
MAX_SUBJECT = 200


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_link(url: str, text: str) -> str:
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{_e(url)}">{_e(text)}</a>'
    return _e(text)


def html_segments(segments: tuple[Segment, ...]) -> str:
    return "".join(f"<strong>{_e(s.text)}</strong>" if s.emphasis else _e(s.text) for s in segments)


def alert_html(message: AlertMessage) -> str:
    parts = []
    if message.follow_up:
        parts.append(f"<p><strong>Follow-up:</strong> {_e(message.follow_up)}</p>")
    parts.append(f"<h2>{_html_link(message.url, message.title)}</h2>")
    parts.append(
        f'<p style="color:#555">{_e(message.source)} · {_e(format_wib(message.published))}</p>'
    )
    if message.actors:
        actors = "; ".join(_e(actor_label(a, message.title)) for a in message.actors)
        parts.append(f"<p><strong>Actors:</strong> {actors}</p>")
    if message.topics:
        topics = "; ".join(_e(topic_label(t)) for t in message.topics)
        parts.append(f"<p><strong>Topics:</strong> {topics}</p>")
    for segments in emphasised_snippets(message):
        parts.append(f"<blockquote>{html_segments(segments)}</blockquote>")
    if message.also_reported_by:
        also = _e(", ".join(message.also_reported_by))
        parts.append(f"<p>Also reported by: {also}</p>")
    parts.append(f'<p style="color:#888">Rule {_e(message.rule)} · story {message.story_id}</p>')
    return "\n".join(parts)


def digest_html(digest: DigestMessage) -> str:
    window = f"{format_wib(digest.window_start)} – {format_wib(digest.window_end)}"
    items = []
    for item in digest.items:
        who = headline_actors(item)
        tail = f" · {_e(who)}" if who else ""
        items.append(
            f"<li>{_html_link(item.url, item.title)} — {_e(item.source)}"
            f" · {_e(format_wib(item.published))}{tail}</li>"
        )
    return (
        f'<h2>{_e(digest.title)}</h2>\n<p style="color:#555">{_e(window)}</p>\n'
        f"<ul>\n{chr(10).join(items)}\n</ul>"
    )


def message_html(message: AlertMessage | DigestMessage) -> str:
    body = digest_html(message) if isinstance(message, DigestMessage) else alert_html(message)
    return f'<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n{body}\n</body></html>\n'


def msgid_domain_of(sender: str) -> str:
    """Message-ID domain: the sender's mail domain (stable, unlike the machine's hostname)."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2]
    return domain or "pantau.invalid"


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _set_subject(email: EmailMessage, text: str) -> None:
    """Set Subject; a non-ASCII one is RFC 2047-encoded here, in whole encoded-words.

    Python's own header folder (3.11, 3.12) can end a line with an empty encoded-word
    (``=?utf-8?q??=``) when a fold falls before a non-ASCII word; mail clients show it as junk.
    The pre-encoded value is pure ASCII, already folded within 78 columns, so it is sent as is.
    """
    if text.isascii():
        email["Subject"] = text
        return
    encoded = Header(text, "utf-8", header_name="Subject").encode(linesep="\n", maxlinelen=76)
    email.set_raw("Subject", encoded)


def build_email(
    message: AlertMessage | DigestMessage,
    *,
    sender: str,
    recipients: tuple[str, ...],
    list_unsubscribe: str | None = None,
    now: datetime | None = None,
    msgid_domain: str | None = None,
) -> EmailMessage:
    domain = msgid_domain or msgid_domain_of(sender)
    email = EmailMessage()
    _set_subject(email, _one_line(subject(message), MAX_SUBJECT))
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate((now or datetime.now(UTC)).timestamp(), usegmt=True)
    email["Message-ID"] = make_msgid(domain=domain)
    if isinstance(message, AlertMessage):
        # Follow-ups of one story thread together in mail clients.
        email["References"] = f"<story-{message.story_id}@{domain}>"
    if list_unsubscribe:
        value = list_unsubscribe.strip()
        email["List-Unsubscribe"] = value if value.startswith("<") else f"<{value}>"
    email.set_content(plain_text(message) + "\n")
    email.add_alternative(message_html(message), subtype="html")
    return email


def describe_smtp_error(exc: BaseException, where: str) -> tuple[str, bool]:
    """(plain-words reason, transient) for an SMTP failure."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return (
            f"authentication failed at {where} (SMTP {exc.code}: {exc.message}); "
            "check username and password",
            400 <= exc.code < 500,
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
        return f"recipient refused by {where}: {refused}", all(
            400 <= r.code < 500 for r in exc.recipients
        )
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return f"sender {exc.sender} refused by {where} ({exc.code} {exc.message})", (
            400 <= exc.code < 500
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPConnectError
    ):
        return f"{where} answered SMTP {exc.code}: {exc.message}", 400 <= exc.code < 500
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or "not supported by server" in str(exc):
        if "starttls" in str(exc).lower():
            return f"{where} does not offer STARTTLS (try security = tls or none)", False
        if "auth" in str(exc).lower():
            return f"{where} does not offer AUTH (login needs STARTTLS or tls?)", False
        return f"{where} does not support what the config asks for: {exc}", False
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected) and "unexpectedly" in str(exc):
        return f"{where} closed the connection unexpectedly", True
    reason, transient = describe_network_error(exc, where)
    if reason.startswith("network error") and isinstance(exc, aiosmtplib.SMTPException):
        reason = f"SMTP error from {where}: {exc}"
    return reason, transient


class EmailChannel:
    """Sends each alert as one email to all recipients."""

    kind = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: tuple[str, ...],
        username: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        timeout: float = 20,
        list_unsubscribe: str | None = None,
        tls_verify: bool = True,
        cafile: str | None = None,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        if not recipients:
            raise ValueError("an email channel needs at least one recipient")
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = tuple(recipients)
        self.username = username
        self._password = password
        self.security: Security = security
        self.timeout = timeout
        self.list_unsubscribe = list_unsubscribe
        self.tls_verify = tls_verify
        self.cafile = cafile
        self.target = f"smtp://{host}:{port}"

    def __repr__(self) -> str:
        return (
            f"EmailChannel(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"security={self.security!r}, username={self.username!r}, "
            f"recipients={self.recipients!r})"
        )

    def build(self, message: AlertMessage | DigestMessage) -> EmailMessage:
        return build_email(
            message,
            sender=self.sender,
            recipients=self.recipients,
            list_unsubscribe=self.list_unsubscribe,
        )

    async def send(self, message: AlertMessage | DigestMessage) -> None:
        email = self.build(message)
        try:
            refused, _ = await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=(self._password or "") if self.username else None,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                validate_certs=self.tls_verify,
                cert_bundle=self.cafile,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            reason, transient = describe_smtp_error(exc, f"SMTP server {self.host}:{self.port}")
            if self._password:
                reason = reason.replace(self._password, "***")
            raise AlertDeliveryError(
                f"{self.name}: {reason}", channel=self.name, transient=transient
            ) from None
        if refused:
            # Delivered to the others: retrying would send them a duplicate, so it is permanent.
            detail = "; ".join(f"{rcpt} ({r.code} {r.message})" for rcpt, r in refused.items())
            delivered = len(self.recipients) - len(refused)
            raise AlertDeliveryError(
                f"{self.name}: recipient refused by SMTP server {self.host}:{self.port}: "
                f"{detail}; delivered to the other {delivered}",
                channel=self.name,
                transient=False,
            )

    async def aclose(self) -> None:
        """One connection per send; nothing kept open."""
