"""GET /events against a real uvicorn server on 127.0.0.1, fed by the real pipeline (replay)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from monitor import events
from monitor.config import Settings, load_settings
from monitor.daemon.runtime import open_engine
from monitor.demo.replay import run_replay
from monitor.events import EventFilter, EventNotifier
from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.models import ActorMention, MatchResult, TopicScore
from monitor.paths import default_seeds_dir
from monitor.web.app import create_app
from monitor.web.sse import StreamStats, live_script, sse_routes
from storage import repo
from storage.engine import session_scope
from tests import factories

SEEDS = default_seeds_dir()


def _corpus(tmp: Path, name: str, prefixes: tuple[str, ...]) -> Path:
    """A replay corpus holding some of the seeds (the manifest names them all; extra is fine)."""
    directory = tmp / name
    directory.mkdir()
    shutil.copy(SEEDS / "manifest.toml", directory / "manifest.toml")
    for seed in sorted(SEEDS.glob("*.txt")):
        if seed.name.startswith(prefixes):
            shutil.copy(seed, directory / seed.name)
    return directory


async def _replay(directory: Path, settings: Settings) -> None:
    report = await run_replay(directory, settings, alert_stream=io.StringIO())
    assert report.summary()["stored"] == len(list(directory.glob("*.txt")))


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test owns the signals
        yield


@contextlib.asynccontextmanager
async def serve(app: Starlette, notifier: EventNotifier) -> AsyncIterator[str]:
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        notifier.close()  # ends the open streams, or uvicorn would wait for them
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def open_stream(
    app: Starlette, notifier: EventNotifier, path: str
) -> AsyncIterator[httpx.Response]:
    async with (
        serve(app, notifier) as base,
        httpx.AsyncClient(timeout=15) as client,
        client.stream("GET", base + path) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        yield response


@dataclass
class Frame:
    id: int | None = None
    event: str = "message"
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, object]:
        value = json.loads(self.data)
        assert isinstance(value, dict)
        return value


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """A small SSE parser: one Frame per blank-line-terminated block."""
    current = Frame()
    async for line in response.aiter_lines():
        if line == "":
            yield current
            current = Frame()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "id":
                current.id = int(value)
            elif key == "event":
                current.event = value
            elif key == "data":
                current.data = value


async def take(stream: AsyncIterator[Frame], count: int) -> list[Frame]:
    """The next ``count`` event frames of ``stream`` (comments and the retry hint skipped)."""
    got: list[Frame] = []
    async with asyncio.timeout(15):
        while len(got) < count:
            f = await anext(stream)
            if f.id is not None:
                got.append(f)
    return got


def stored(
    engine: Engine, after: int = 0, flt: EventFilter = events.ANY
) -> list[events.StoredEvent]:
    with session_scope(engine) as session:
        return events.read_events(session, after, limit=10_000, filter=flt)


def add_match(engine: Engine, notifier: EventNotifier, title: str) -> int:
    """A synthetic match event (a sentinel after the real ones); returns its id."""
    match = MatchResult(
        topics=(TopicScore("nato", 1.0, True),), actors=(ActorMention("Mark Rutte", "name", 1),)
    )
    data = events.match_event(
        article_id=0,
        story_id=0,
        title=title,
        url="https://x.example/",
        source="x.example",
        published=None,
        seen_at=datetime.now(UTC),
        match=match,
    )
    with session_scope(engine) as session:
        repo.append_event(session, events.MATCH, events.encode(data))
    notifier.notify()
    return stored(engine)[-1].id


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = open_engine(factories.settings(tmp_path / "pantau.db"))
    yield eng
    eng.dispose()


@pytest.fixture
def on_both(db_url: str) -> Iterator[tuple[Settings, Engine]]:
    """Settings and an engine for a fresh database: once SQLite, once PostgreSQL (whose ids
    may commit out of order, which the stream must not lose or repeat)."""
    settings = load_settings(None, env={}, overrides={"database": {"url": db_url}})
    eng = open_engine(settings)
    yield settings, eng
    eng.dispose()


async def test_client_gets_matches_in_order_and_exactly_the_missed_ones_after_reconnect(
    tmp_path: Path, on_both: tuple[Settings, Engine]
) -> None:
    settings, engine = on_both
    notifier = EventNotifier()
    app = Starlette(routes=sse_routes(engine, notifier, poll_interval=0.1))
    first = _corpus(tmp_path, "first", ("000", "001", "002"))
    second = _corpus(tmp_path, "second", ("003", "004"))
    async with serve(app, notifier) as base, httpx.AsyncClient(timeout=15) as client:
        async with client.stream("GET", f"{base}/events?type=match") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            await _replay(first, settings)
            live = await take(frames(response), 3)
        in_db = stored(engine, flt=EventFilter.of(types=["match"]))
        assert [f.id for f in live] == [e.id for e in in_db]
        assert [f.payload["data"]["title"] for f in live] == [e.data["title"] for e in in_db]  # type: ignore[index]
        assert all(f.event == "match" for f in live)
        last = live[-1].id
        assert last is not None

        await _replay(second, settings)  # nobody listening
        missed = stored(engine, last, EventFilter.of(types=["match"]))
        assert len(missed) == 2
        headers = {"last-event-id": str(last)}
        async with client.stream("GET", f"{base}/events?type=match", headers=headers) as response:
            sentinel = add_match(engine, notifier, "sentinel")
            resumed = await take(frames(response), 3)
        assert [f.id for f in resumed] == [e.id for e in missed] + [sentinel]


async def test_topic_actor_and_type_filters_pick_the_rutte_nato_matches(
    tmp_path: Path, engine: Engine
) -> None:
    await _replay(SEEDS, factories.settings(tmp_path / "pantau.db"))
    notifier = EventNotifier()
    app = Starlette(routes=sse_routes(engine, notifier, poll_interval=0.1))
    query = "topic=nato&actor=Mark%20Rutte&type=match&last_event_id=0"
    async with open_stream(app, notifier, f"/events?{query}") as response:
        sentinel = add_match(engine, notifier, "sentinel")
        stream = frames(response)
        got: list[Frame] = []
        while not got or got[-1].id != sentinel:
            got += await take(stream, 1)
    titles = [str(f.payload["data"]["title"]) for f in got[:-1]]  # type: ignore[index]
    assert any(t.startswith("Chat Sekjen NATO Bocor") for t in titles)  # seed 000: Rutte by role
    assert len(titles) >= 2  # seeds 000 and 002 name Rutte
    for f in got:
        data = f.payload["data"]
        assert "Mark Rutte" in {a["name"] for a in data["actors"]}  # type: ignore[index]
        assert "nato" in {t["name"] for t in data["topics"]}  # type: ignore[index]
    everything = stored(engine)
    assert {e.type for e in everything} >= {"article.stored", "match", "alert.sent"}


async def test_idle_stream_sends_ping_comments(engine: Engine) -> None:
    notifier = EventNotifier()
    app = Starlette(routes=sse_routes(engine, notifier, heartbeat=0.05))
    async with open_stream(app, notifier, "/events") as response, asyncio.timeout(15):
        async for f in frames(response):
            if "ping" in f.comments:
                break


async def test_a_commit_wakes_the_stream_without_waiting_for_the_poll(engine: Engine) -> None:
    notifier = EventNotifier()
    # A poll interval longer than the test's patience: only the notifier can deliver in time.
    app = Starlette(routes=sse_routes(engine, notifier, poll_interval=600))
    async with open_stream(app, notifier, "/events") as response:
        sent = add_match(engine, notifier, "woken")
        (got,) = await take(frames(response), 1)
    assert got.id == sent
    assert got.payload["data"]["title"] == "woken"  # type: ignore[index]


async def test_shutdown_ends_streams_with_a_close_reason(engine: Engine) -> None:
    notifier = EventNotifier()
    app = Starlette(routes=sse_routes(engine, notifier))
    async with open_stream(app, notifier, "/events") as response:
        notifier.close()
        last = [f async for f in frames(response)][-1]
    assert last.event == "close"
    assert last.payload == {"reason": "server shutting down"}


@pytest.mark.parametrize(
    ("query", "headers", "message"),
    [
        ("type=mach", {}, "unknown event type 'mach'"),
        ("", {"last-event-id": "yesterday"}, "Last-Event-ID must be an event id"),
    ],
)
async def test_bad_requests_get_a_400_saying_what_is_wrong(
    engine: Engine, query: str, headers: dict[str, str], message: str
) -> None:
    notifier = EventNotifier()
    app = Starlette(routes=sse_routes(engine, notifier))
    async with serve(app, notifier) as base, httpx.AsyncClient(timeout=15) as client:
        response = await client.get(f"{base}/events?{query}", headers=headers)
    assert response.status_code == 400
    assert message in response.text


def _fill(engine: Engine, count: int, size: int) -> None:
    padding = "x" * size
    with session_scope(engine) as session:
        for i in range(count):
            repo.append_event(
                session, "feed.recovered", events.encode({"feed_id": i, "url": padding, "name": ""})
            )


def _read_to_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_a_client_that_stops_reading_is_dropped_and_its_backlog_stays_bounded(
    engine: Engine,
) -> None:
    _fill(engine, 1500, 16_000)  # ~24 MB: far more than the socket buffers hold
    notifier = EventNotifier()
    stats = StreamStats()
    app = Starlette(routes=sse_routes(engine, notifier, max_queue=4, send_timeout=0.2, stats=stats))
    async with serve(app, notifier) as base:
        port = int(base.rsplit(":", 1)[1])
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /events?last_event_id=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            async with asyncio.timeout(60):
                while stats.dropped == 0:  # the client reads nothing meanwhile
                    await asyncio.sleep(0.05)
            assert stats.peak_backlog == 4  # filled up to the bound, never past it
            assert stats.connected == 0
            sock.settimeout(30)
            received = await asyncio.to_thread(_read_to_eof, sock)  # now drain: server hung up
        finally:
            sock.close()
    tail = received.rstrip(b"\r\n0").decode("utf-8", "replace")
    assert 'event: close\ndata: {"reason": "slow consumer"}' in tail[-200:]
    assert received.count(b"event: feed.recovered") < 1500


def test_live_script_prepends_a_new_match_to_the_latest_section() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = _DOM_STUB + live_script() + _DOM_DRIVE
    result = subprocess.run(
        [node, "-e", harness], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["url"] == "/events?type=match"
    assert out["first"] == {
        "tag": "article",
        "text": "Rutte di KTT NATO|kompas.com · seen|nato Mark Rutte|Rutte berkata ...",
        "href": "https://kompas.example/a",
    }
    assert out["empty_removed"] is True
    assert "<script" not in out["first"]["text"]
    assert "://" not in live_script().replace("https?:\\/\\/", "")  # no CDN, nothing remote


_DOM_STUB = r"""
function Node(tag) { this.tag = tag; this.children = []; this.className = ""; this._text = "";
  this.parentNode = null; }
Object.defineProperty(Node.prototype, "textContent", {
  get: function () { return this._text + this.children.map(c => c.textContent).join(""); },
  set: function (v) { this._text = String(v); this.children = []; } });
Object.defineProperty(Node.prototype, "nextSibling", { get: function () {
  var s = this.parentNode.children; return s[s.indexOf(this) + 1] || null; } });
Object.defineProperty(Node.prototype, "firstChild", { get: function () {
  return this.children[0] || null; } });
Node.prototype.appendChild = function (c) { c.parentNode = this; this.children.push(c); return c; };
Node.prototype.insertBefore = function (c, ref) { c.parentNode = this;
  var i = ref ? this.children.indexOf(ref) : this.children.length;
  this.children.splice(i, 0, c); return c; };
Node.prototype.removeChild = function (c) { this.children.splice(this.children.indexOf(c), 1); };
Node.prototype.all = function () {
  return this.children.reduce((a, c) => a.concat([c], c.all()), []); };
Node.prototype.querySelectorAll = function (sel) { return this.all().filter(function (n) {
  if (sel[0] === ".") return n.className.split(" ").includes(sel.slice(1));
  var parts = sel.split("."); return n.tag === parts[0] &&
    (parts.length === 1 || n.className.split(" ").includes(parts[1])); }); };
Node.prototype.querySelector = function (sel) { return this.querySelectorAll(sel)[0] || null; };
var section = new Node("section"); var h2 = section.appendChild(new Node("h2"));
var empty = section.appendChild(new Node("p")); empty.className = "empty";
var document = { getElementById: (id) => id === "latest" ? section : null,
  createElement: (tag) => new Node(tag),
  createTextNode: (t) => { var n = new Node("#text"); n._text = t; return n; } };
var sources = [];
function EventSource(url) { this.url = url; this.listeners = {}; sources.push(this); }
EventSource.prototype.addEventListener = function (t, f) { this.listeners[t] = f; };
"""

_DOM_DRIVE = r"""
var data = { title: "Rutte di KTT NATO", url: "https://kompas.example/a", source: "kompas.com",
  seen_at: "not a date", topics: [{ name: "nato", substantive: true, snippets: [] }],
  actors: [{ name: "Mark Rutte", via: "name", count: 1, snippets: ["Rutte berkata ..."] }] };
sources[0].listeners["match"]({ data: JSON.stringify({ id: 7, type: "match", data: data }) });
var first = section.children[1];
var link = first.all().filter((n) => n.tag === "a")[0];
var text = first.children.map((c) => c.textContent.trim()).join("|");
console.log(JSON.stringify({ url: sources[0].url,
  empty_removed: section.querySelector(".empty") === null,
  first: { tag: first.tag, text: text, href: link.href } }));
"""


async def test_dashboard_loads_the_live_script_served_beside_the_stream(engine: Engine) -> None:
    notifier = EventNotifier()
    app = create_app(
        engine=engine,
        metrics=Metrics.create(),
        health=HealthProbe(),
        extra_routes=sse_routes(engine, notifier),
        dashboard_scripts=["/events/live.js"],
    )
    async with serve(app, notifier) as base, httpx.AsyncClient(timeout=15) as client:
        page = await client.get(f"{base}/")
        script = await client.get(f"{base}/events/live.js")
    assert '<script src="/events/live.js" defer></script>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.text == live_script()
