"""Logging set-up: readable lines on a terminal, JSON lines under systemd, secrets redacted.

Under systemd the service's stderr is a journald stream and ``$JOURNAL_STREAM`` names it
(``device:inode``); there each record is one JSON object, prefixed with the syslog priority
(``<3>``) that journald strips and stores as the entry's priority. Everything that reaches a
handler passes ``RedactingFilter`` first: Slack webhook URLs, passwords in URLs, bearer tokens
and every secret registered at start-up (the SMTP password ...) become ``***``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

from monitor.textsafe import for_terminal
from storage.engine import hide_password

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mask ordinary words all over the log

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # The path of a Slack incoming webhook is the credential.
    (
        re.compile(r"(hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and goes in the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Redactor:
    """Masks secrets in text: known patterns plus explicitly registered strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        secret = secret.strip()
        if len(secret) < MIN_SECRET_LENGTH:
            return
        self._secrets.add(secret)
        encoded = quote(secret, safe="")
        if encoded != secret:  # the same password inside a URL
            self._secrets.add(encoded)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return hide_password(text)  # scheme://user:password@host -> scheme://user:***@host


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback) with secrets masked."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def add_secret(self, secret: str) -> None:
        self.redactor.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redactor(value))
        return True


_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def syslog_priority(levelno: int) -> int:
    for level, prio in sorted(_SYSLOG_PRIORITY.items(), reverse=True):
        if levelno >= level:
            return prio
    return 7


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def __init__(self, *, priority_prefix: bool = False) -> None:
        super().__init__()
        self.priority_prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        line = json.dumps(doc, ensure_ascii=False)
        return f"<{syslog_priority(record.levelno)}>{line}" if self.priority_prefix else line


HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class TerminalFormatter(logging.Formatter):
    """The readable line, with escape sequences and control characters from feed text removed
    (a title must not retitle or clear the operator's terminal); tracebacks keep their lines."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record), multiline=True)


def under_journald(env: Mapping[str, str], stream: TextIO) -> bool:
    """True when ``stream`` is the journald stream systemd announced in $JOURNAL_STREAM."""
    announced = env.get("JOURNAL_STREAM")
    if not announced:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return True  # cannot compare (not a real file): trust the announcement
    return announced == f"{st.st_dev}:{st.st_ino}"


def setup_logging(
    level: int | str = logging.INFO,
    *,
    json: bool | None = None,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> RedactingFilter:
    """Configure the root logger once, at start-up; returns the filter so more secrets can be
    registered later (``add_secret``). ``json=None`` picks JSON under journald, text otherwise."""
    env = os.environ if env is None else env
    stream = sys.stderr if stream is None else stream
    journald = under_journald(env, stream)
    use_json = journald if json is None else json
    handler = logging.StreamHandler(stream)
    if use_json:
        handler.setFormatter(JSONFormatter(priority_prefix=journald))
    else:
        handler.setFormatter(TerminalFormatter(HUMAN_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    redacting = RedactingFilter(Redactor(secrets))
    handler.addFilter(redacting)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # httpx logs every request URL at INFO: keep it for debugging only.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return redacting


__all__ = [
    "JSONFormatter",
    "RedactingFilter",
    "Redactor",
    "TerminalFormatter",
    "setup_logging",
]
