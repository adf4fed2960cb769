"""Every status-server request passes here: the Host header is checked, security headers added.

**Host.** A web page on another site can make the operator's browser resolve its own name to
127.0.0.1 (DNS rebinding) and then read the dashboard and the event stream as same-origin. The
request still carries the attacker's name in ``Host``, so only the names this server answers
to are served: ``localhost``, ``127.0.0.1``, ``[::1]``, the configured bind address and
``status.allowed_hosts`` (add the name or address you browse to when binding beyond
loopback). Anything else gets ``421 Misdirected Request``; a request without a Host header
(HTTP/1.0 probes; browsers always send one) is served.

**Headers.** Every response carries ``X-Content-Type-Options: nosniff``,
``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and a Content-Security-Policy
(:data:`DEFAULT_CSP` unless the route set its own; ``frame-ancestors 'none'`` is always in it).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_MISDIRECTED = (
    b"this status server does not answer to that host name; browse to it as localhost or "
    b"127.0.0.1, or add the name to [status] allowed_hosts\n"
)


def host_name(header: str) -> str:
    """The name of a Host header value, lower-cased, without port and IPv6 brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def allowed_host_names(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a server bound to ``bind_host`` answers to (wildcard binds add nothing)."""
    names = {*_LOCAL_NAMES, *(host_name(h) for h in extra)}
    if bind_host not in ("", "0.0.0.0", "::"):
        names.add(host_name(bind_host if ":" not in bind_host else f"[{bind_host}]"))
    return frozenset(names)


class HostGuard:
    """ASGI middleware: refuse unknown Host names, add the security headers."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is not None and host_name(host) not in self.allowed:
            await _refuse(send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _secure(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, secured)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _secure(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {k.lower() for k, _ in headers}
    out = [(k, v) for k, v in headers if k.lower() != b"content-security-policy"]
    csp = next((v for k, v in headers if k.lower() == b"content-security-policy"), None)
    if csp is None:
        csp = DEFAULT_CSP.encode()
    elif b"frame-ancestors" not in csp:
        csp += b"; frame-ancestors 'none'"
    out.append((b"content-security-policy", csp))
    out += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
    return out


async def _refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 421,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(_MISDIRECTED)).encode()),
                *_SECURITY_HEADERS,
                (b"content-security-policy", DEFAULT_CSP.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _MISDIRECTED})
