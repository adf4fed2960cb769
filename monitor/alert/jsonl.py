"""JSON lines file channel: each alert (or digest) as one line of the webhook payload, appended
to a file that rotates by size (``monitor.alert.sinks``), for log shippers (Vector, Filebeat, Fluent
Bit). Config::

    [[alerts.channels]]
    name = "shipper"
    type = "jsonl"
    path = "/var/log/pantau/alerts.jsonl"
    max_bytes = 10485760   # rotate before the file would pass this size (default 10 MiB)
    backups = 5            # alerts.jsonl.1 ... .5 are kept (default 5; 0 keeps none)

A full disk must not leave a torn line that the retry is then glued onto: lines are appended
whole by :func:`monitor.alert.sinks.append_line` (a failed write is cut back off the file and
reported; the outbox retries it), and the file is created readable by its owner only.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from monitor.alert.message import AlertMessage, DigestMessage
from monitor.alert.sinks import RotatingJsonl, RotationPolicy
from monitor.alert.webhook import to_payload
from monitor.errors import AlertDeliveryError

# Worth retrying: the disk may get space again, the file system may come back, a file size
# limit (EFBIG: RLIMIT_FSIZE, systemd's LimitFSIZE=) may be raised or the file rotated.
_TRANSIENT = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.ESTALE, errno.EFBIG}


class JsonlChannel:
    kind = "jsonl"

    def __init__(self, name: str, path: Path, policy: RotationPolicy = RotationPolicy()) -> None:
        self.name = name
        self.target = str(path)
        self._sink = RotatingJsonl(path, policy)

    def __repr__(self) -> str:
        return f"JsonlChannel(name={self.name!r}, target={self.target!r})"

    async def send(self, message: AlertMessage | DigestMessage) -> None:
        try:
            await asyncio.to_thread(self._sink.write, to_payload(message))
        except OSError as exc:
            raise AlertDeliveryError(
                f"{self.name}: could not append to {self.target}: {exc.strerror or exc}",
                channel=self.name,
                transient=exc.errno in _TRANSIENT,
            ) from exc

    async def aclose(self) -> None:
        """Every line is written with its own open/close: nothing to close."""
