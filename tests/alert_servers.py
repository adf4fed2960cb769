"""Real servers and sample data for the alert-channel tests.

``smtp_server``: an aiosmtpd server on 127.0.0.1 that keeps every message it accepts, parsed with
``email.policy.default``; optionally with AUTH (one user) and STARTTLS (a self-signed certificate
made at test time with the ``openssl`` command). ``scripted``: a loopback route answering with a
fixed sequence of responses (the last one repeats). ``sample_alert``: a realistic alert.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.alert.message import AlertMessage
from monitor.models import ActorMention, Span, TermHit, TopicScore
from tests.loopback import Request, Response, RouteFn


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SelfSignedCert:
    cert: Path
    key: Path


def make_self_signed_cert(directory: Path) -> SelfSignedCert | None:
    """A certificate for 127.0.0.1/localhost, or None when no ``openssl`` command exists."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return SelfSignedCert(cert, key)


@dataclass
class SmtpServer:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse_recipients: set[str] = field(default_factory=set)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.server.refuse_recipients:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.server.messages.append(parsed)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


@contextmanager
def smtp_server(
    *,
    username: str | None = None,
    password: str | None = None,
    starttls_cert: SelfSignedCert | None = None,
) -> Iterator[SmtpServer]:
    """A running SMTP server on 127.0.0.1; AUTH when ``username`` is given, STARTTLS with a cert."""
    record = SmtpServer(port=free_port())

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        if isinstance(auth_data, LoginPassword):
            record.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    kwargs: dict[str, Any] = {}
    if username is not None:
        # Without TLS, AUTH is offered but not required (aiosmtpd warns against requiring it).
        with_tls = starttls_cert is not None
        kwargs |= {"authenticator": authenticator, "auth_required": with_tls}
        kwargs["auth_require_tls"] = with_tls
    if starttls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(starttls_cert.cert, starttls_cert.key)
        kwargs |= {"tls_context": context, "require_starttls": True}
    controller = Controller(
        _Handler(record), hostname="127.0.0.1", port=record.port, ready_timeout=10, **kwargs
    )
    controller.start()
    try:
        yield record
    finally:
        controller.stop()


def scripted(*responses: Response) -> RouteFn:
    """A route answering with ``responses`` in turn; the last one repeats."""
    queue = list(responses)

    def route(request: Request) -> Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route


SNIPPET = (
    "Presiden Rusia Vladimir Putin menegaskan bahwa ekspansi NATO ke timur & <perbatasan> "
    "Ukraina adalah ancaman."
)


def _hit(term: str, snippet: str = SNIPPET) -> TermHit:
    start = snippet.find(term)
    return TermHit(term, Span(start, start + len(term)), snippet)


def sample_alert(
    n: int = 1,
    *,
    title: str | None = None,
    actor: str = "Vladimir Putin",
    also_reported_by: tuple[str, ...] = ("Detik", "Tempo"),
    follow_up: str | None = None,
) -> AlertMessage:
    """An alert as the pipeline would build it from a Kompas article about Putin and NATO."""
    term = "Putin" if actor == "Vladimir Putin" else actor
    return AlertMessage(
        story_id=100 + n,
        article_id=n,
        rule="rusia-nato",
        title=title or f"Putin peringatkan NATO soal Ukraina #{n}",
        url=f"https://www.kompas.com/global/read/2026/11/21/{n}/putin-nato?utm=x&a=b",
        source="Kompas",
        published=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        topics=(
            TopicScore("NATO", 0.91, True, (_hit("NATO"),)),
            TopicScore("Ukraine war", 0.35, False, (_hit("Ukraina"),)),
        ),
        actors=(ActorMention(actor, "alias", 2, (_hit(term),)),),
        also_reported_by=also_reported_by,
        follow_up=follow_up,
    )
