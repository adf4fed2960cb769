"""Exponential back-off after consecutive failures: the one rule for feeds and alert channels.

A failing feed (``monitor.daemon.poller``) and an alert that a channel refused for now
(``monitor.alert.outbox``) wait ``base``, 2x, 4x, ... up to ``cap`` before the next try. A server
that says how long to wait (Retry-After) is believed when it asks for longer.
"""

from __future__ import annotations

# 2**64 times any base is far beyond every cap; stopping there keeps 2.0**n from overflowing.
_MAX_DOUBLINGS = 64


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    retry_after_cap: float | None = None,
) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure (counting from 1).

    A longer Retry-After wins, up to ``retry_after_cap`` (default: ``cap``, so a server asking
    for a week of silence is still asked again after ``cap``; the outbox passes ``math.inf``
    because its own ``give_up_after`` bounds the wait instead).
    """
    steps = max(0, failures - 1)
    delay = cap if steps >= _MAX_DOUBLINGS else min(cap, base * (2.0**steps))
    if retry_after is not None:
        ceiling = cap if retry_after_cap is None else retry_after_cap
        delay = max(delay, min(ceiling, retry_after))
    return float(delay)
