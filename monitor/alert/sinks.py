"""Output sinks: a JSON lines file with size-based rotation, for log shippers.

``RotatingJsonl`` appends one JSON object per line. Before a line would take the file past
``max_bytes`` the file is rotated like logrotate / ``RotatingFileHandler`` does it:
``matches.jsonl`` -> ``matches.jsonl.1`` -> ... -> ``matches.jsonl.N`` (``backups`` = N; the
oldest is deleted; 0 keeps no backup and starts the file afresh). A line is never split across
files, so a line longer than ``max_bytes`` gets a file of its own. Each line is written with one
``os.write`` on an ``O_APPEND`` descriptor (:func:`append_line`), so a shipper tailing the file
never sees half a line and an outside rotation (logrotate's ``create``) is picked up at the next
line. A full disk must not leave a torn line that a retry is then glued onto: a write that fails
part-way is cut back off the file before the error is raised, and a fragment left by an earlier
crash or power cut (the file does not end in a newline) is cut off before the next line. Files
are created readable and writable by their owner only (0600), whatever the umask.

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


_FILE_MODE = 0o600
_TAIL_CHUNK = 64 * 1024


def _open_for_append(path: Path) -> int:
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
    for _ in range(3):  # the file may be rotated away between the two opens
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        except FileExistsError:
            try:
                return os.open(path, flags)
            except FileNotFoundError:
                continue
        os.fchmod(fd, _FILE_MODE)  # the mode asked for at creation is narrowed by the umask only
        return fd
    return os.open(path, flags | os.O_CREAT, _FILE_MODE)


def _complete_length(fd: int, size: int) -> int:
    """The length of the file up to and including its last newline (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


def append_line(path: Path, line: bytes) -> None:
    """Append one whole line to ``path``: never a fragment, never glued to one."""
    fd = _open_for_append(path)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            size = _complete_length(fd, size)
            os.ftruncate(fd, size)  # a torn line from an earlier failed write
        try:
            written = os.write(fd, line)
            while written < len(line):  # a short write: keep going to learn why it stopped
                written += os.write(fd, line[written:])
        except OSError:
            os.ftruncate(fd, size)  # take the fragment back off; the outbox retries the line
            raise
    finally:
        os.close(fd)


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
            append_line(self.path, line)

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
