"""The systemd notify protocol (``sd_notify``) without libsystemd.

Under ``Type=notify`` systemd hands the service ``$NOTIFY_SOCKET`` (a filesystem path, or an
abstract socket written with a leading ``@``) and, with ``WatchdogSec=``, ``$WATCHDOG_USEC``.
The service sends newline-separated ``KEY=VALUE`` datagrams: ``READY=1`` once start-up is done,
``WATCHDOG=1`` at least every ``WATCHDOG_USEC`` microseconds, ``STOPPING=1`` when it begins to
shut down, ``STATUS=...`` for ``systemctl status``.

The environment is read once, by whoever builds the ``Notifier`` (``Notifier.from_env``), and a
``Notifier`` without a socket does nothing, so the daemon runs the same outside systemd.
Sending never raises: a lost notification is logged, and systemd's own time-outs act on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, Sequence[str]]]


@dataclass(frozen=True)
class NotifyEnv:
    """What systemd told the process, read once from its environment."""

    socket_path: str | None = None
    watchdog_usec: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, pid: int | None = None) -> NotifyEnv:
        path = env.get("NOTIFY_SOCKET") or None
        usec = _positive_int(env.get("WATCHDOG_USEC"))
        # WATCHDOG_PID names the process the watchdog is meant for; a child that inherited the
        # environment must not keep its parent alive.
        watchdog_pid = _positive_int(env.get("WATCHDOG_PID"))
        if watchdog_pid is not None and watchdog_pid != (os.getpid() if pid is None else pid):
            usec = None
        return cls(socket_path=path, watchdog_usec=usec)


def _positive_int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


def socket_address(path: str) -> str | bytes:
    """``@name`` is Linux's abstract namespace: a leading NUL byte instead of the ``@``."""
    if path.startswith("@"):
        return b"\0" + path[1:].encode()
    return path


def status_text(text: str) -> str:
    """One line: systemd reads newline-separated assignments."""
    return " ".join(text.split())


class Notifier:
    """Sends sd_notify datagrams; every method is a no-op when there is no socket."""

    def __init__(self, env: NotifyEnv = NotifyEnv()) -> None:
        self.env = env
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Notifier:
        return cls(NotifyEnv.from_env(env))

    @property
    def enabled(self) -> bool:
        return self.env.socket_path is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between two ``WATCHDOG=1``: half of ``WatchdogSec=``, None without one."""
        if not self.enabled or self.env.watchdog_usec is None:
            return None
        return self.env.watchdog_usec / 2_000_000

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True when systemd's socket took it."""
        path = self.env.socket_path
        if path is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, socket_address(path))
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", path, exc.strerror or exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        lines = ["READY=1"]
        if status:
            lines.append(f"STATUS={status_text(status)}")
        return self.send(*lines)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        lines = ["STOPPING=1"]
        if status:
            lines.append(f"STATUS={status_text(status)}")
        return self.send(*lines)

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={status_text(text)}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def keep_watchdog(notifier: Notifier, check: Check, *, interval: float) -> None:
    """Pet the watchdog every ``interval`` seconds while ``check`` says the daemon is healthy.

    Runs as a task on the daemon's loop, so a blocked loop also stops the pings. When unhealthy,
    the reasons go to ``STATUS=`` and the pings stop: systemd restarts the service after
    ``WatchdogSec=``. Cancel the task to stop.
    """
    was_ok = True
    while True:
        ok, reasons = check()
        if ok:
            notifier.watchdog()
            if not was_ok:
                notifier.status("healthy again")
        else:
            why = "; ".join(reasons) or "unhealthy"
            if was_ok:
                log.error("health check failed, withholding the systemd watchdog: %s", why)
            notifier.status(f"unhealthy: {why}")
        was_ok = ok
        await asyncio.sleep(interval)
