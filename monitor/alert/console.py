"""Console / JSONL sink: a human line per alert, or one JSON object per line (webhook payload)."""

from __future__ import annotations

import json as jsonlib
from typing import TextIO

from monitor.alert.message import (
    AlertMessage,
    DigestMessage,
    digest_item_line,
    format_wib,
    headline_actors,
)
from monitor.alert.webhook import to_payload
from monitor.errors import AlertDeliveryError
from monitor.textsafe import for_terminal


def human_lines(message: AlertMessage | DigestMessage) -> list[str]:
    """'[Pantau] 21 Nov 2026 17:00 WIB · Kompas · Vladimir Putin — Title <url>'."""
    if isinstance(message, DigestMessage):
        lines = [f"[Pantau] {message.title}"]
        lines += [f"  - {digest_item_line(i)} <{i.url}>" for i in message.items]
        return lines
    who = headline_actors(message)
    who = f" · {who}" if who else ""
    follow = f" (follow-up: {message.follow_up})" if message.follow_up else ""
    return [
        f"[Pantau] {format_wib(message.published)} · {message.source}{who} — "
        f"{message.title}{follow} <{message.url}>"
    ]


class ConsoleChannel:
    """Writes alerts to a text stream (stdout, a log file)."""

    kind = "console"

    def __init__(self, name: str, stream: TextIO, *, json: bool = False) -> None:
        self.name = name
        self.json = json
        self._stream = stream
        self.target = getattr(stream, "name", "stream")

    def __repr__(self) -> str:
        return f"ConsoleChannel(name={self.name!r}, json={self.json!r})"

    async def send(self, message: AlertMessage | DigestMessage) -> None:
        if self.json:
            lines = [jsonlib.dumps(to_payload(message), ensure_ascii=False)]
        else:
            # Feed text may carry terminal escape sequences; the JSON form escapes them itself.
            lines = [for_terminal(line) for line in human_lines(message)]
        try:
            # A line or two to a local stream: too small to be worth a thread hop.
            self._stream.write("".join(f"{line}\n" for line in lines))
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise AlertDeliveryError(
                f"{self.name}: could not write to {self.target}: {exc}",
                channel=self.name,
                transient=False,
            ) from exc

    async def aclose(self) -> None:
        """The stream belongs to the caller; nothing to close."""
