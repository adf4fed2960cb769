"""Pantau's exception hierarchy.

Every error Pantau raises on purpose derives from :class:`PantauError`. Each carries
``transient``: True when retrying later may succeed (drives back-off), False when the
operator must change something.

    PantauError
    ├── ConfigError                 bad configuration (file, key, reason)
    ├── FetchError                  anything that stopped a download
    │   ├── BlockedAddressError     target resolves to a private/loopback/link-local address
    │   ├── ResponseTooLargeError   body (after decompression) exceeded the cap
    │   ├── FetchTimeoutError       overall deadline exceeded (also slow drip)
    │   ├── TooManyRedirectsError   redirect loop or chain too long
    │   ├── HTTPStatusError         non-success HTTP status (status, retry_after)
    │   ├── UnsupportedContentError content type is not what the stage can use
    │   └── NetworkError            DNS, connection refused, TLS ...
    ├── ParseError                  feed bytes could not be turned into entries
    │   └── UnsafeXMLError          entity declarations / DTD tricks refused before parsing
    ├── ExtractError                no article text could be extracted from a page
    │   └── WorkerTimeoutError      a page's pure stages overran their deadline or crashed
    │                               their worker process (transient, bounded attempts)
    ├── StorageError                database problem (what the storage layer raises)
    │   ├── UnavailableError        cannot reach or write the database now (transient)
    │   │   └── LockedError         another connection holds a lock it needs (transient)
    │   ├── DuplicateError          a row with the same unique key is already stored
    │   ├── QueryError              the database refused a statement
    │   └── SchemaError             newer, outdated or unknown schema
    └── AlertDeliveryError          a channel refused or failed to take an alert

``PantauError`` and the storage branch are defined in :mod:`storage.errors` (``storage`` never
imports ``monitor``) and re-exported here, so there is one tree and storage raises into it.

:func:`error_chain` lists an exception and the ones behind it, for words that name the root
cause of a third-party failure.
"""

from __future__ import annotations

from storage.errors import (
    DuplicateError,
    LockedError,
    PantauError,
    QueryError,
    SchemaError,
    StorageError,
    UnavailableError,
)

__all__ = [
    "AlertDeliveryError",
    "BlockedAddressError",
    "ConfigError",
    "DuplicateError",
    "ExtractError",
    "FetchError",
    "FetchTimeoutError",
    "HTTPStatusError",
    "LockedError",
    "NetworkError",
    "PantauError",
    "ParseError",
    "QueryError",
    "ResponseTooLargeError",
    "SchemaError",
    "StorageError",
    "TooManyRedirectsError",
    "UnavailableError",
    "UnsafeXMLError",
    "UnsupportedContentError",
    "WorkerTimeoutError",
    "error_chain",
]


class ConfigError(PantauError):
    """Invalid configuration; message names the file, key and reason."""


class FetchError(PantauError):
    """A download failed."""

    transient = True

    def __init__(self, message: str, *, url: str = "", transient: bool | None = None) -> None:
        super().__init__(message, transient=transient)
        self.url = url


class BlockedAddressError(FetchError):
    transient = False


class ResponseTooLargeError(FetchError):
    transient = False


class FetchTimeoutError(FetchError):
    transient = True


class TooManyRedirectsError(FetchError):
    transient = False


class UnsupportedContentError(FetchError):
    transient = False


class NetworkError(FetchError):
    transient = True


class HTTPStatusError(FetchError):
    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int,
        retry_after: float | None = None,
    ) -> None:
        transient = status in (408, 425, 429) or status >= 500
        super().__init__(message, url=url, transient=transient)
        self.status = status
        self.retry_after = retry_after


class ParseError(PantauError):
    """Feed bytes could not be turned into entries."""


class UnsafeXMLError(ParseError):
    """The document declares entities or a DTD we refuse to expand."""


class ExtractError(PantauError):
    """No usable article text in a page."""


class WorkerTimeoutError(ExtractError):
    """A page's extraction ran past its deadline (or took its worker process down); the
    pipeline retries it a bounded number of times, then records it as skipped."""

    transient = True


class AlertDeliveryError(PantauError):
    transient = True

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        transient: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, transient=transient)
        self.channel = channel
        self.retry_after = retry_after


def error_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (``__cause__``, ``__context__``, the members of an
    exception group), each once, ``exc`` first: for describing a failure by its root cause
    (a TLS error inside httpx's ConnectError, a refused connection inside an OSError)."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        stack.extend([current.__cause__, current.__context__])
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
    return seen
