"""Output sinks: a JSON lines file with size-based rotation, for log shippers.

``RotatingJsonl`` appends one JSON object per line. Before a line would take the file past
``max_bytes`` the file is rotated like logrotate / ``RotatingFileHandler`` does it:
``matches.jsonl`` -> ``matches.jsonl.1`` -> ... -> ``matches.jsonl.N`` (``backups`` = N; the
oldest is deleted; 0 keeps no backup and starts the file afresh). A line is never split across
files, so a line longer than ``max_bytes`` gets a file of its own. Each line is written with one
``write`` on a file opened in append mode, so a shipper tailing the file never sees half a line
and an outside rotation (logrotate's ``create``) is picked up at the next line.

Used by the ``jsonl`` alert channel (``monitor.alert.jsonl``) and ``pantau tail --output``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 5


@dataclass(frozen=True)
class RotationPolicy:
    max_bytes: int = DEFAULT_MAX_BYTES
    backups: int = DEFAULT_BACKUPS

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be a positive number of bytes")
        if self.backups < 0:
            raise ValueError("backups must be 0 or more")


def json_line(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()


def backup_path(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


class RotatingJsonl:
    """Appends JSON lines to ``path``, rotating by size. Thread-safe; blocking file I/O (call it
    from a worker thread in async code)."""

    def __init__(self, path: Path, policy: RotationPolicy = RotationPolicy()) -> None:
        self.path = path
        self.policy = policy
        self._lock = threading.Lock()

    def write(self, obj: Mapping[str, Any]) -> None:
        line = json_line(obj)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self._size()
            if size and size + len(line) > self.policy.max_bytes:
                self._rotate()
            with self.path.open("ab") as fh:
                fh.write(line)

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _rotate(self) -> None:
        if self.policy.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        backup_path(self.path, self.policy.backups).unlink(missing_ok=True)
        for n in range(self.policy.backups - 1, 0, -1):
            older = backup_path(self.path, n)
            if older.exists():
                os.replace(older, backup_path(self.path, n + 1))
        os.replace(self.path, backup_path(self.path, 1))
