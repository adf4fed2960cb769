"""GET /events: the event stream (monitor.events) as Server-Sent Events.

One frame per event::

    id: 42
    event: match
    data: {"id": 42, "type": "match", "created_at": "...", "data": {...}}

``?topic=nato&actor=Mark%20Rutte&type=match`` filter (repeat a key or separate values by
commas for alternatives). Without ``Last-Event-ID`` (header, or ``?last_event_id=`` for
clients that cannot set headers) a client gets what happens from now on; with it, everything
after that id still in the database (retention bounds how far back), then the live stream.
``?last_event_id=0`` replays all that is retained. Idle streams carry a ``: ping`` comment
every ``heartbeat`` seconds so proxies keep them open.

Each client has a bounded backlog: at most ``max_queue`` frames and ``max_queue_bytes`` bytes,
counting the batch being written (a single frame larger than the byte bound still goes out
alone). When the backlog is full the stream waits up to ``send_timeout`` seconds for the
client to take something; a client that does not is dropped with a last
``event: close`` / ``data: {"reason": "slow consumer"}``, and its backlog is freed. At most
``max_clients`` streams are open at once; one more gets ``503`` with ``Retry-After``, so
clients that stop reading cannot add up to unbounded memory (200 of them once took the
daemon from 113 MiB to 1.1 GiB). The database is the real buffer,
so a dropped client loses nothing: it reconnects with its Last-Event-ID (EventSource does so
by itself) and catches up. ``EventNotifier.close()`` ends every stream with reason
``"server shutting down"``; call it before stopping the status server.

A stream is woken by the in-process :class:`~monitor.events.EventNotifier` when the writer
committed events, and reads the database at least every ``poll_interval`` seconds anyway,
which covers writers that do not notify (other processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from monitor import events
from monitor.errors import StorageError
from monitor.events import Cursor, EventFilter, EventNotifier, StoredEvent
from storage.engine import session_scope

log = logging.getLogger(__name__)

SLOW_CONSUMER = "slow consumer"
SHUTTING_DOWN = "server shutting down"
SERVER_ERROR = "server error"
PING = b": ping\n\n"
RECONNECT_MS = 3000
_LIVE_JS = Path(__file__).with_name("live.js")


@dataclass(frozen=True)
class StreamOptions:
    heartbeat: float = 15.0
    max_queue: int = 1000
    max_queue_bytes: int = 1024 * 1024
    max_clients: int = 32
    poll_interval: float = 1.0
    send_timeout: float = 5.0  # how long a full backlog waits for the client before dropping it
    close_timeout: float = 5.0  # how long the closing frame may take to go out
    page_size: int = 200
    gap_grace: float = events.GAP_GRACE


@dataclass
class StreamStats:
    """Counters over one server's streams, for the status page, metrics and tests."""

    connected: int = 0
    dropped: int = 0  # slow consumers
    refused: int = 0  # streams refused because max_clients were open
    peak_backlog: int = 0  # the most frames ever waiting for one client
    peak_backlog_bytes: int = 0  # the most bytes ever waiting for one client
    queued_bytes: int = 0  # bytes waiting for all clients now


def frame(event: StoredEvent) -> bytes:
    data = json.dumps(event.envelope(), ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()


def close_frame(reason: str) -> bytes:
    return f"event: close\ndata: {json.dumps({'reason': reason})}\n\n".encode()


def _values(params: QueryParams, key: str) -> list[str]:
    return [v.strip() for raw in params.getlist(key) for v in raw.split(",") if v.strip()]


def request_filter(params: QueryParams) -> EventFilter:
    """The filter a query string asks for; ValueError names an unknown event type."""
    types = _values(params, "type")
    unknown = sorted(set(types) - set(events.EVENT_TYPES))
    if unknown:
        known = ", ".join(events.EVENT_TYPES)
        raise ValueError(f"unknown event type {unknown[0]!r} (known: {known})")
    return EventFilter.of(_values(params, "topic"), _values(params, "actor"), types)


def last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdigit():
        raise ValueError(f"Last-Event-ID must be an event id (a whole number), not {raw!r}")
    return int(raw)


class Backlog:
    """Frames waiting for one client: at most ``limit`` frames and ``max_bytes`` bytes,
    counting those being written. ``stats.queued_bytes`` follows what it holds."""

    def __init__(
        self, limit: int, max_bytes: int = 1 << 62, stats: StreamStats | None = None
    ) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.stats = stats if stats is not None else StreamStats()
        self._frames: deque[bytes] = deque()
        self._in_flight = 0
        self.bytes = 0
        self._ready = asyncio.Event()
        self._space = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames) + self._in_flight

    def _full(self, size: int) -> bool:
        if len(self) >= self.limit:
            return True
        return len(self) > 0 and self.bytes + size > self.max_bytes

    async def put(self, item: bytes, patience: float) -> bool:
        """Queue ``item``; False if no room came free within ``patience`` seconds."""
        while self._full(len(item)):
            self._space.clear()
            try:
                async with asyncio.timeout(patience):
                    await self._space.wait()
            except TimeoutError:
                return False
        self._frames.append(item)
        self._grow(len(item))
        self._ready.set()
        return True

    def _grow(self, size: int) -> None:
        self.bytes += size
        self.stats.queued_bytes += size
        self.stats.peak_backlog_bytes = max(self.stats.peak_backlog_bytes, self.bytes)

    def clear(self) -> None:
        """Drop everything (the client is gone): its memory goes back at once."""
        self._frames.clear()
        self._in_flight = 0
        self.stats.queued_bytes -= self.bytes
        self.bytes = 0

    async def take(self, patience: float) -> list[bytes]:
        """Everything queued, waiting up to ``patience`` seconds; [] if nothing came."""
        if not self._frames:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    await self._ready.wait()
        items = list(self._frames)
        self._frames.clear()
        self._in_flight = len(items)
        return items

    def written(self) -> None:
        self.stats.queued_bytes -= self.bytes - sum(len(f) for f in self._frames)
        self.bytes = sum(len(f) for f in self._frames)
        self._in_flight = 0
        self._space.set()


class EventStreamResponse(Response):
    """One client's stream. Three tasks: read the database into the backlog, write the
    backlog to the client, watch for the client going away; the first to end ends all."""

    def __init__(
        self,
        engine: Engine,
        notifier: EventNotifier,
        filter: EventFilter,
        start: int | None,
        options: StreamOptions,
        stats: StreamStats,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.filter = filter
        self.start = start
        self.options = options
        self.stats = stats
        self._released = False
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the stream; the slot the route reserved (``stats.connected``) is released
        at the end, however it ends."""
        try:
            await self._serve(send, receive)
        finally:
            self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self.stats.connected -= 1

    async def _serve(self, send: Send, receive: Receive) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: pass frames through at once
            (b"connection", b"close"),  # once the stream ends, so does the connection
        ]
        # Fixed before the client sees the headers: nothing committed after that is missed.
        cursor = await asyncio.to_thread(self._start_cursor)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        retry = f"retry: {RECONNECT_MS}\n\n".encode()
        await send({"type": "http.response.body", "body": retry, "more_body": True})
        backlog = Backlog(self.options.max_queue, self.options.max_queue_bytes, self.stats)
        reader = asyncio.create_task(self._read(backlog, cursor))
        writer = asyncio.create_task(self._write(backlog, send))
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await asyncio.wait({reader, writer, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, writer, gone):
                task.cancel()
            await asyncio.gather(reader, writer, gone, return_exceptions=True)
            backlog.clear()
            self._release()
        if gone.done() and not gone.cancelled():
            return  # the client left
        failure = writer.exception() if writer.done() and not writer.cancelled() else None
        if failure is not None:
            raise failure
        if not reader.done() or reader.cancelled():
            return
        failure = reader.exception()
        if failure is not None:
            log.error("event stream failed", exc_info=failure)
        reason = SERVER_ERROR if failure is not None else reader.result()
        if reason == SLOW_CONSUMER:
            self.stats.dropped += 1
            log.info(
                "event stream: dropped a client more than %d events or %d bytes behind",
                self.options.max_queue,
                self.options.max_queue_bytes,
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.close_timeout):
                last = {"type": "http.response.body", "body": close_frame(reason)}
                await send({**last, "more_body": False})

    async def _read(self, backlog: Backlog, cursor: Cursor) -> str:
        """Database -> backlog until shutdown or the client falls behind; returns why."""
        while not self.notifier.closed:
            generation = self.notifier.generation
            try:
                page = await asyncio.to_thread(self._page, cursor)
            except StorageError as exc:
                log.warning("event stream: database read failed, retrying: %s", exc)
                await self.notifier.wait(generation, self.options.poll_interval)
                continue
            cursor = page.cursor
            for event in page.events:
                if not await backlog.put(frame(event), self.options.send_timeout):
                    return SLOW_CONSUMER
                self.stats.peak_backlog = max(self.stats.peak_backlog, len(backlog))
            if not page.more:
                await self.notifier.wait(generation, self.options.poll_interval)
        return SHUTTING_DOWN

    def _start_cursor(self) -> Cursor:
        with session_scope(self.engine) as session:
            head = events.head_id(session)
        # An id beyond the newest means the database was replaced: start from now.
        return Cursor(head if self.start is None else min(self.start, head))

    def _page(self, cursor: Cursor) -> events.EventPage:
        with session_scope(self.engine) as session:
            return events.read_page(
                session,
                cursor,
                limit=self.options.page_size,
                filter=self.filter,
                now=time.monotonic(),
                gap_grace=self.options.gap_grace,
            )

    async def _write(self, backlog: Backlog, send: Send) -> None:
        while True:
            frames = await backlog.take(self.options.heartbeat)
            body = b"".join(frames) if frames else PING
            await send({"type": "http.response.body", "body": body, "more_body": True})
            backlog.written()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def live_script(*, path: str = "/events", target: str = "latest", max_items: int = 50) -> str:
    """Plain JavaScript (EventSource, no libraries) that prepends each new match to the
    dashboard's ``<section id="latest">``, built with DOM calls (no HTML injection)."""
    config = json.dumps({"url": f"{path}?type=match", "target": target, "max": max_items})
    return _LIVE_JS.read_text(encoding="utf-8").replace("__PANTAU_LIVE_CONFIG__", config)


def sse_routes(
    engine: Engine,
    notifier: EventNotifier,
    *,
    heartbeat: float = 15,
    max_queue: int = 1000,
    max_queue_bytes: int = 1024 * 1024,
    max_clients: int = 32,
    poll_interval: float = 1.0,
    send_timeout: float = 5.0,
    stats: StreamStats | None = None,
) -> list[Route]:
    """GET /events (the stream) and GET /events/live.js (``live_script()``), for
    ``create_app(extra_routes=...)``. Pass ``stats`` to observe the streams."""
    if max_queue < 1 or max_queue_bytes < 1 or max_clients < 1:
        raise ValueError("event stream: max_queue, max_queue_bytes and max_clients must be >= 1")
    options = StreamOptions(
        heartbeat=heartbeat,
        max_queue=max_queue,
        max_queue_bytes=max_queue_bytes,
        max_clients=max_clients,
        poll_interval=poll_interval,
        send_timeout=send_timeout,
    )
    counters = stats if stats is not None else StreamStats()
    script = live_script()

    async def stream(request: Request) -> Response:
        try:
            wanted = request_filter(request.query_params)
            start = last_event_id(request)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        if counters.connected >= options.max_clients:
            counters.refused += 1
            return PlainTextResponse(
                f"too many event streams open ({options.max_clients}); try again shortly\n",
                status_code=503,
                headers={"retry-after": "10"},
            )
        counters.connected += 1  # reserved now, released when the stream ends
        return EventStreamResponse(engine, notifier, wanted, start, options, counters)

    async def live_js(request: Request) -> Response:
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "no-cache"},
        )

    return [
        Route("/events", stream, methods=["GET"]),
        Route("/events/live.js", live_js, methods=["GET"]),
    ]
