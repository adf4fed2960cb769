"""Deliver one message with bounded retries; honours the channel's Retry-After.

The durable outbox owns retries across restarts; this helper is for in-process use (``pantau
alerts test``, a one-shot send) and documents the back-off the outbox should apply: exponential
from ``base_delay`` capped at ``max_delay``, or the server's Retry-After when it gives one, and
never past ``give_up_after`` seconds from the first attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from monitor.alert.channels import Channel
from monitor.alert.message import AlertMessage, DigestMessage
from monitor.errors import AlertDeliveryError


def backoff_delay(
    attempt: int, *, base_delay: float, max_delay: float, retry_after: float | None
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return float(min(max_delay, base_delay * 2 ** (attempt - 1)))


async def deliver_with_retry(
    channel: Channel,
    message: AlertMessage | DigestMessage,
    *,
    max_attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 300.0,
    give_up_after: float = 3600.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Send ``message``; returns the number of attempts it took.

    Permanent errors are raised at once; transient ones are retried until ``max_attempts`` or
    until the next wait would end past ``give_up_after``, then the last error is raised.
    """
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            await channel.send(message)
            return attempt
        except AlertDeliveryError as exc:
            if not exc.transient or attempt >= max_attempts:
                raise
            delay = backoff_delay(
                attempt, base_delay=base_delay, max_delay=max_delay, retry_after=exc.retry_after
            )
            if clock() + delay - started > give_up_after:
                raise
            await sleep(delay)
