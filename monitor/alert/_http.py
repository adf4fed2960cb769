"""POSTing JSON to a secret URL (Slack incoming webhook, generic webhook) with plain-words errors.

The URL is a credential (Slack's path *is* the token), so it never leaves this module: errors,
``repr`` and logs show only ``scheme://host/…``. httpx logs every request URL at INFO; for a
client we own, requests are built against a redacted placeholder URL and a small transport swaps
the real one in just before sending, so httpx's log line shows the placeholder.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.errors import AlertDeliveryError, error_chain
from monitor.fetch import parse_retry_after


def redact_url(url: str) -> str:
    """'https://hooks.slack.com/…' — scheme and host only."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme or 'http'}://{host}/…"


def describe_network_error(exc: BaseException, where: str) -> tuple[str, bool]:
    """(plain-words reason, transient) for a failure to reach ``where``."""
    chain = error_chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or (
        "certificate verify failed" in text
    ):
        return f"TLS certificate of {where} could not be verified", False
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return f"TLS handshake with {where} failed", True
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text:
        return f"DNS lookup failed: could not resolve the host of {where}", True
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return f"connection refused by {where} (nothing listening?)", True
    if any(isinstance(e, TimeoutError | httpx.TimeoutException) for e in chain):
        return f"timed out talking to {where}", True
    return f"network error talking to {where} ({type(exc).__name__})", True


class _SwapURLTransport(httpx.AsyncBaseTransport):
    """Sends requests addressed to ``placeholder`` to ``secret`` instead."""

    def __init__(self, inner: httpx.AsyncBaseTransport, placeholder: str, secret: str) -> None:
        self._inner = inner
        self._placeholder = httpx.URL(placeholder)
        self._secret = httpx.URL(secret)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url == self._placeholder:
            request = httpx.Request(
                request.method,
                self._secret,
                headers=request.headers,
                stream=request.stream,
                extensions=request.extensions,
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class SecretURLPoster:
    """POSTs JSON documents to one secret URL; maps failures to ``AlertDeliveryError``."""

    def __init__(
        self,
        channel: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {redact_url(url)}")
        self.channel = channel
        self.target = redact_url(url)
        self._timeout = timeout
        self._headers = dict(headers or {})
        candidates = (url, parts.path, parts.query, *self._headers.values())
        self._secrets = tuple(x for x in candidates if len(x) > 3)
        self._owns_client = http is None
        if http is None:
            self._url = f"{parts.scheme}://{parts.netloc}/redacted"
            transport = _SwapURLTransport(httpx.AsyncHTTPTransport(), self._url, url)
            # trust_env=False: proxies and certificates come from config, not the environment.
            http = httpx.AsyncClient(transport=transport, trust_env=False)
        else:
            self._url = url
        self._http = http

    def __repr__(self) -> str:
        return f"SecretURLPoster(channel={self.channel!r}, target={self.target!r})"

    async def post_json(self, payload: Mapping[str, Any]) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {**self._headers, "content-type": "application/json; charset=utf-8"}
        try:
            response = await self._http.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            reason, transient = describe_network_error(exc, self.target)
            raise AlertDeliveryError(
                f"{self.channel}: {reason}", channel=self.channel, transient=transient
            ) from None
        if response.is_success:
            return response
        raise status_error(self.channel, self.target, response, secrets=self._secrets)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()


def status_error(
    channel: str, target: str, response: httpx.Response, *, secrets: Iterable[str] = ()
) -> AlertDeliveryError:
    """HTTP status -> error: 429 and 5xx are transient (429 keeps Retry-After), other 4xx not.

    The response body (Slack says 'invalid_payload', 'no_service' ...) is quoted, with anything
    in ``secrets`` blanked out in case the server echoes the URL back.
    """
    status = response.status_code
    detail = " ".join(response.text.split())
    for secret in sorted(secrets, key=len, reverse=True):
        detail = detail.replace(secret, "…")
    detail = detail[:200]
    detail = f": {detail}" if detail else ""
    retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    if status == 429:
        wait = f", retry after {retry_after:g}s" if retry_after is not None else ""
        return AlertDeliveryError(
            f"{channel}: rate limited by {target} (HTTP 429{wait}){detail}",
            channel=channel,
            transient=True,
            retry_after=retry_after,
        )
    transient = status >= 500 or status in (408, 425)
    kind = "server error" if status >= 500 else "request refused"
    return AlertDeliveryError(
        f"{channel}: {kind} from {target} (HTTP {status}){detail}",
        channel=channel,
        transient=transient,
        retry_after=retry_after if transient else None,
    )
