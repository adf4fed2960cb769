"""The daemon's one async door to the database: :class:`StorageGate`.

Why a gate, and why this shape:

- SQLAlchemy and both drivers are synchronous. A query run on the event loop stops the whole
  loop while the database makes it wait: with another writer holding SQLite's lock (the busy
  timeout is 30 s) polls, /healthz, the event stream and the systemd watchdog pings all froze.
  Every database call a coroutine makes therefore goes through :meth:`StorageGate.run` or
  :meth:`StorageGate.transaction`, which run it in a worker thread and await the result.
- The threads are the gate's own, a small bounded pool, not the loop's default executor: SQLite
  serialises writers anyway and PostgreSQL work is short, so a few threads are enough; a
  database that stops answering fills this pool and queues further work behind it instead of
  taking every thread the process has (the status server's health queries keep running on their
  own threads, under their own deadlines, so a backed-up queue here never makes /healthz slow).
- What runs in the gate's threads is storage work only. Loop-owned state (the in-memory dedup
  index, notifiers, metrics) is touched on the loop, before or after the call, never inside it.
  A unit of work that must consult such state while it holds a transaction (the story decision
  under PostgreSQL's advisory lock) asks the loop for it with :meth:`StorageGate.on_loop` and
  waits, while the transaction stays open in its thread.
- Cancelling the awaiting coroutine does not stop a call already running: its transaction
  finishes (commits or rolls back) in its thread. Work still queued when the gate closes is
  dropped (it never started, so nothing was written).

Built once per runtime and closed with it; ``storage`` knows nothing of the daemon, so the gate
only takes callables and an engine.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.engine import Engine

from storage.engine import Transaction, session_scope

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_THREADS = 4


class StorageGate:
    """Runs storage work in a dedicated, bounded thread pool and awaits it on the loop."""

    def __init__(self, engine: Engine, *, threads: int = DEFAULT_THREADS) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="pantau-storage")
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a gate thread; its result or its exception."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def transaction(self, fn: Callable[[Transaction], T]) -> T:
        """``fn`` in one transaction (:func:`storage.engine.session_scope`) in a gate thread:
        committed when it returns, rolled back when it raises."""
        return await self.run(_in_transaction, self.engine, fn)

    @asynccontextmanager
    async def hold(self, cm: AbstractContextManager[T]) -> AsyncIterator[T]:
        """Enter and leave a storage context manager (a lock held on its own connection, such
        as :func:`storage.locks.try_exclusive`) in the gate's threads, around an async block."""
        value = await self.run(cm.__enter__)
        try:
            yield value
        except BaseException as exc:
            if not await self.run(cm.__exit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            await self.run(cm.__exit__, None, None, None)

    def on_loop(self, fn: Callable[[], Coroutine[Any, Any, T]], *, timeout: float = 60.0) -> T:
        """From inside a gate thread: run the coroutine ``fn()`` on the loop that called the
        gate and wait for its result. Keep it short: the caller's transaction stays open.
        Raises TimeoutError after ``timeout`` seconds (a loop stopping for good never answers),
        so the transaction rolls back instead of waiting forever."""
        if self._loop is None:
            raise RuntimeError("StorageGate.on_loop called before any work went through the gate")
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``)."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Stop taking work; drop what is queued, let what runs finish in its thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _in_transaction(engine: Engine, fn: Callable[[Transaction], T]) -> T:
    with session_scope(engine) as session:
        return fn(session)
