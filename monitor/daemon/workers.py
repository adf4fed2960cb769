"""Worker processes for the pure stages of an entry: :class:`WorkerPool`.

Why a pool of our own and not ``concurrent.futures.ProcessPoolExecutor``:

- A deadline must count from the moment a page's work starts, not from its submission. An
  executor queues submissions internally, so a future's age says nothing about when its work
  began. Here every slot is one process with its own pipe, and a job is only handed to a slot
  that is idle: the deadline starts when the job is sent, and the time spent waiting for a free
  slot is never counted against it.
- A task that overruns must be killed, and only it. An executor cannot cancel a running task;
  terminating one of its processes breaks the whole pool (``BrokenProcessPool``) and fails every
  other page in flight. Here the overrunning slot's process is killed and that slot alone is
  started again; the other slots never notice.
- Leaks die with their process: a slot retires its process after ``max_tasks`` jobs (what
  ``max_tasks_per_child`` does for an executor) and starts a fresh one.

Processes come from the ``forkserver`` context (``spawn`` where there is none) with the heavy
imports preloaded, so a replacement starts in a fraction of a second and never forks the
daemon's threads. Each process loads the matcher once (:class:`WorkerSpec`, settings values
only) and then answers jobs until told to stop. Slots start lazily, on first use.

The loop never blocks on a worker: replies are awaited with ``add_reader`` on the pipe. A job is
sent only to a worker waiting in ``recv``, so sending returns as fast as the pipe drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import traceback
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from monitor.daemon.analysis import Analysis, PageJob, WorkerSpec
from monitor.daemon.feedjob import FeedJob
from monitor.errors import ExtractError, PantauError, ParseError, WorkerTimeoutError
from monitor.models import ParsedFeed

log = logging.getLogger(__name__)

DEFAULT_MAX_TASKS = 500  # jobs per worker process before it is replaced (leaks die with it)
START_TIMEOUT = 120.0  # seconds a new worker may take to import and load the matcher
STOP_TIMEOUT = 2.0  # seconds a retiring worker may take to exit before it is killed
# Workers yield the CPU to the daemon's own process: on a busy machine the event loop (polls,
# /healthz, the watchdog) is served first and the CPU-bound stages take what is left.
WORKER_NICENESS = 5
_PRELOAD = ["monitor.daemon.analysis"]


def _cpu() -> float:
    """This process's CPU seconds so far (user + system), sent with every reply so the daemon
    can account for the CPU its workers spend (a forkserver's children are not ours to reap)."""
    t = os.times()
    return t.user + t.system


def _serve(conn: Connection, spec: WorkerSpec) -> None:
    """A worker process: load the matcher once (the initializer), then answer jobs."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    matcher = spec.load_matcher()
    conn.send(("ready", _cpu()))
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the daemon went away
            return
        if job is None:
            return
        try:
            if isinstance(job, FeedJob):
                reply: tuple[Any, ...] = ("ok", spec.parse(job))
            else:
                reply = ("ok", spec.task(job, matcher, spec.dedup))
        except PantauError as exc:
            reply = ("error", exc.message, exc.transient)
        except Exception:  # a bug: say where, the daemon logs it and retries the entry
            reply = ("bug", traceback.format_exc())
        conn.send((*reply, _cpu()))


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


class _Slot:
    """One worker process and its pipe; restarted when killed, crashed or worn out."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.done = 0
        self.cpu = 0.0  # CPU seconds its current process reported last
        self.cpu_retired = 0.0  # CPU seconds of its earlier processes

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    async def start(self, ctx: BaseContext, spec: WorkerSpec) -> Connection:
        ours, theirs = ctx.Pipe()
        process = ctx.Process(  # type: ignore[attr-defined]
            target=_serve, args=(theirs, spec), name=f"pantau-worker-{self.index}", daemon=True
        )
        # Off the loop: the first start launches the forkserver, which imports the heavy
        # modules before it answers (a second or more); later starts wait for a fork.
        await asyncio.to_thread(process.start)
        theirs.close()
        self.process, self.conn, self.done = process, ours, 0
        try:
            async with asyncio.timeout(START_TIMEOUT):
                self.cpu = (await _reply(ours))[-1]
        except (TimeoutError, EOFError, OSError) as exc:
            self.kill()
            raise ExtractError(
                f"extraction worker {self.index} did not start ({exc!r}); check that the "
                "lexicon and relevance model load (pantau config check)",
                transient=True,
            ) from exc
        return ours

    def kill(self) -> None:
        self.cpu_retired += self.cpu
        self.cpu = 0.0
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process.close()
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None

    def retire(self) -> None:
        """Ask the process to exit; kill it if it does not."""
        if self.conn is not None and self.process is not None and self.process.is_alive():
            with contextlib.suppress(OSError):  # it is exiting already
                self.conn.send(None)
            self.process.join(STOP_TIMEOUT)
        self.kill()


class WorkerPool:
    """``workers`` processes running ``spec.task`` on pages, each under ``timeout`` seconds
    counted from when its work starts; an overrun is killed and reported as
    :class:`WorkerTimeoutError`."""

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        workers: int,
        timeout: float,
        max_tasks: int = DEFAULT_MAX_TASKS,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a worker pool needs at least one worker, got {workers}")
        self.spec = spec
        self.timeout = timeout
        self.max_tasks = max_tasks
        self._ctx = _context()
        self._slots = [_Slot(i) for i in range(workers)]
        self._free: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._free.put_nowait(slot)
        self.killed = 0  # processes killed for overrunning or crashing (tests, metrics)

    @property
    def size(self) -> int:
        return len(self._slots)

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds the worker processes reported so far (up to each one's last reply; a
        killed job's own CPU is not known)."""
        return sum(s.cpu + s.cpu_retired for s in self._slots)

    async def start(self) -> None:
        """Start every worker now rather than on first use (each loads the matcher)."""
        idle = [self._free.get_nowait() for _ in range(self._free.qsize())]
        try:
            await asyncio.gather(*(s.start(self._ctx, self.spec) for s in idle if not s.alive))
        finally:
            for slot in idle:
                self._free.put_nowait(slot)

    async def run(self, job: PageJob) -> Analysis:
        """The page's :class:`Analysis`; ExtractError when it has no article, WorkerTimeoutError
        when the work overran ``timeout`` (or its process died)."""
        reply = await self._work(job, self.timeout)
        if reply[0] == "bug":
            raise RuntimeError(f"extraction of {job.url} failed in its worker:\n{reply[1]}")
        result: Analysis = _answer(reply, ExtractError)
        return result

    async def parse(self, job: FeedJob, budget: float) -> ParsedFeed:
        """The parsed feed; ParseError when it cannot be parsed, or when parsing overran
        ``budget`` seconds of work (its process is killed: a hostile feed costs one slot for
        ``budget`` seconds and never the event loop)."""
        try:
            reply = await self._work(job, budget)
        except WorkerTimeoutError as exc:
            raise ParseError(
                f"{job.url}: feed parsing stopped after {budget:g} s of work "
                f"({len(job.content):,} bytes; a hostile or broken feed?); will retry later",
                transient=True,
            ) from exc
        if reply[0] == "bug":
            raise ParseError(f"parsing the feed at {job.url} failed in its worker:\n{reply[1]}")
        parsed: ParsedFeed = _answer(reply, ParseError)
        return parsed

    async def _work(self, job: PageJob | FeedJob, budget: float) -> tuple[Any, ...]:
        """The worker's reply to ``job``, run in the next free slot under ``budget`` seconds."""
        slot = await self._free.get()
        try:
            return await self._run_in(slot, job, budget)
        finally:
            self._free.put_nowait(slot)

    async def _run_in(self, slot: _Slot, job: PageJob | FeedJob, budget: float) -> tuple[Any, ...]:
        if slot.alive and slot.done >= self.max_tasks:
            slot.retire()
        conn = slot.conn if slot.alive and slot.conn is not None else None
        if conn is None:
            slot.kill()  # a process that died on its own leaves its pipe behind
            conn = await slot.start(self._ctx, self.spec)
        try:
            conn.send(job)  # the worker waits in recv: the deadline starts now
            async with asyncio.timeout(budget):
                reply: tuple[Any, ...] = await _reply(conn)
        except TimeoutError:
            slot.kill()
            self.killed += 1
            what = "feed parsing" if isinstance(job, FeedJob) else "extraction"
            raise WorkerTimeoutError(
                f"{job.url}: {what} still running after {budget:g} s; its worker process was killed"
            ) from None
        except (EOFError, OSError) as exc:
            slot.kill()
            self.killed += 1
            raise WorkerTimeoutError(
                f"{job.url}: the extraction worker died while reading the page ({exc!r})"
            ) from exc
        except BaseException:  # cancelled mid-job: the worker's answer would come out of turn
            slot.kill()
            raise
        slot.done += 1
        slot.cpu = reply[-1]
        return reply

    def close(self) -> None:
        """Stop every worker process (running jobs are abandoned)."""
        for slot in self._slots:
            slot.retire()


def _answer(reply: tuple[Any, ...], error: type[ExtractError] | type[ParseError]) -> Any:
    """The result an ``ok`` reply carries; an ``error`` reply raised as ``error``."""
    if reply[0] == "error":
        raise error(reply[1], transient=reply[2])
    return reply[1]


async def _reply(conn: Connection) -> Any:
    """The next message on ``conn``, awaited without blocking the loop."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return conn.recv()
