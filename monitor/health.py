"""Liveness of the daemon's moving parts, for /healthz and the systemd watchdog.

Each part that must keep running (the scheduler's tick job, the event loop's watchdog task)
calls ``heartbeat(name)``; ``check(now)`` says whether every expected part beat recently enough,
and why not in plain words.
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

    def check(self, now: float | None = None) -> tuple[bool, list[str]]:
        """(healthy, reasons): one plain-words reason per part that is late."""
        now = self.clock() if now is None else now
        reasons: list[str] = []
        for name, limit in sorted(self.limits.items()):
            last = self._beats.get(name)
            if last is None:
                reasons.append(f"{name}: no heartbeat yet")
            elif now - last > limit:
                reasons.append(f"{name}: last heartbeat {now - last:.0f}s ago (limit {limit:g}s)")
        return not reasons, reasons
