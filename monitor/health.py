"""Liveness of the daemon's moving parts, for /healthz and the systemd watchdog.

Each part that must keep running (the scheduler's tick job, the event loop's watchdog task)
calls ``heartbeat(name)``; ``check(now)`` says whether every expected part beat recently enough,
and why not in plain words. A part that has not beaten yet is late only once its limit has
passed since the probe was made: start-up (under systemd, the first watchdog check comes before
the scheduler's first tick) is "starting", not unhealthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

DEFAULT_LIMITS: Mapping[str, float] = {"scheduler": 120.0}


class HealthProbe:
    """Heartbeat timestamps (monotonic seconds) and the limits they are judged by."""

    def __init__(
        self,
        limits: Mapping[str, float] = DEFAULT_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits: dict[str, float] = dict(limits)
        self.clock = clock
        self._beats: dict[str, float] = {}
        self._ready = False
        self._started = clock()  # the first heartbeats are due a limit after this

    def heartbeat(self, name: str, at: float | None = None) -> None:
        self._beats[name] = self.clock() if at is None else at

    def last(self, name: str) -> float | None:
        return self._beats.get(name)

    def set_ready(self, ready: bool = True) -> None:
        """Start-up finished (or, with False, shutting down): drives /readyz."""
        self._ready = ready

    @property
    def ready(self) -> bool:
        return self._ready

    def starting(self, now: float | None = None) -> list[str]:
        """The parts whose first heartbeat is not due yet (none has come)."""
        now = self.clock() if now is None else now
        return [
            name
            for name, limit in sorted(self.limits.items())
            if name not in self._beats and now - self._started <= limit
        ]

    def check(self, now: float | None = None) -> tuple[bool, list[str]]:
        """(healthy, reasons): one plain-words reason per part that is late. A part still
        within its first limit since start-up is not late (see :meth:`starting`)."""
        now = self.clock() if now is None else now
        reasons: list[str] = []
        for name, limit in sorted(self.limits.items()):
            last = self._beats.get(name)
            if last is None:
                waited = now - self._started
                if waited > limit:
                    reasons.append(
                        f"{name}: no heartbeat in {waited:.0f}s since start (limit {limit:g}s)"
                    )
            elif now - last > limit:
                reasons.append(f"{name}: last heartbeat {now - last:.0f}s ago (limit {limit:g}s)")
        return not reasons, reasons
