"""What every benchmark returns: figures with a target and a met/missed verdict, plus helpers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["full", "quick", "tiny"]


@dataclass(frozen=True)
class Target:
    """``value op bound``: ``Target(">=", 50)`` for "at least 50"."""

    op: Literal["<=", ">="]
    bound: float

    def met(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True)
class Figure:
    """One number of the results table.

    ``value`` None means not measurable here (``note`` says why); ``target`` None means a
    figure reported for comparison only.
    """

    item: str  # issue item, e.g. "1 pipeline"
    name: str
    value: float | None
    unit: str
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = str(self.target) if self.target else None
        out["met"] = self.met
        return out


@dataclass
class Result:
    """A benchmark's figures plus the raw details behind them (kept in the JSON)."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def cpu() -> float:
    """CPU seconds of this process: steadier than wall time on a machine shared with others,
    and exactly "per core" for work that runs in one thread at a time."""
    return time.process_time()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def rounds_for(mode: Mode, full: int, quick: int = 3) -> int:
    return {"full": full, "quick": quick, "tiny": 1}[mode]


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2g}"
