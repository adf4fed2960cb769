"""The event stream: filters, resumable reads by id, the notifier, and what the pipeline and
the outbox write into it (the database parts on SQLite and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import io
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from monitor import events
from monitor.config import Settings
from monitor.daemon.runtime import open_engine
from monitor.demo.replay import run_replay
from monitor.events import Cursor, EventFilter, EventNotifier, StoredEvent, advance
from monitor.paths import default_seeds_dir
from storage import repo
from storage.engine import session_scope
from tests import factories

SEEDS = default_seeds_dir()
T0 = datetime(2026, 2, 2, 3, 0, tzinfo=UTC)


def _event(
    type_: str = "match", topics: tuple[str, ...] = (), actors: tuple[str, ...] = ()
) -> StoredEvent:
    data = {"topics": [{"name": t} for t in topics], "actors": [{"name": a} for a in actors]}
    return StoredEvent(1, type_, data, T0)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(factories.settings(db_url))
    yield engine
    engine.dispose()


def _append(engine: Engine, *items: tuple[str, dict[str, object]], at: datetime = T0) -> None:
    with session_scope(engine) as session:
        for type_, data in items:
            repo.append_event(session, type_, events.encode(data), at)


# --- filters -------------------------------------------------------------------------------


def test_filter_combines_kinds_and_accepts_any_of_several_values() -> None:
    flt = EventFilter.of(topics=["NATO", "ukraine"], actors=["mark rutte"], types=["match"])
    assert flt.matches(_event(topics=("nato",), actors=("Mark Rutte",)))
    assert flt.matches(_event(topics=("ukraine", "us_russia"), actors=("Mark Rutte", "Joe Biden")))
    assert not flt.matches(_event(topics=("nato",), actors=("Joe Biden",)))
    assert not flt.matches(_event(topics=("us_russia",), actors=("Mark Rutte",)))
    assert not flt.matches(_event("story.updated", topics=("nato",), actors=("Mark Rutte",)))


def test_events_without_topics_never_pass_a_topic_filter_but_pass_an_empty_one() -> None:
    feed_down = StoredEvent(1, "feed.unhealthy", {"feed_id": 3, "reason": "timeout"}, T0)
    assert not EventFilter.of(topics=["nato"]).matches(feed_down)
    assert EventFilter().matches(feed_down)
    assert EventFilter.of(types=["feed.unhealthy"]).matches(feed_down)


# --- holes in the ids ------------------------------------------------------------------------


def test_contiguous_ids_are_handed_out_at_once() -> None:
    assert advance(Cursor(4), [5, 6, 7], now=0.0) == (3, Cursor(7))


def test_a_hole_holds_back_later_ids_until_it_fills() -> None:
    taken, cursor = advance(Cursor(4), [5, 7, 8], now=100.0, gap_grace=5)
    assert (taken, cursor) == (1, Cursor(5, hole_since=100.0))
    # Id 6 commits a moment later: everything flows, in order.
    assert advance(cursor, [6, 7, 8], now=101.0, gap_grace=5) == (3, Cursor(8))


def test_a_hole_that_never_fills_is_skipped_after_the_grace() -> None:
    _, cursor = advance(Cursor(5), [7, 8], now=100.0, gap_grace=5)
    assert advance(cursor, [7, 8], now=103.0, gap_grace=5) == (0, Cursor(5, hole_since=100.0))
    assert advance(cursor, [7, 8], now=105.0, gap_grace=5) == (2, Cursor(8))


# --- reading -------------------------------------------------------------------------------


def test_reads_resume_after_an_id_and_skip_what_the_filter_drops(engine: Engine) -> None:
    _append(
        engine,
        *[("feed.recovered", {"feed_id": i}) for i in range(600)],
        ("match", {"title": "a", "topics": [{"name": "nato"}]}),
        ("match", {"title": "b", "topics": [{"name": "ukraine"}]}),
        ("match", {"title": "c", "topics": [{"name": "nato"}]}),
    )
    nato = EventFilter.of(topics=["nato"])
    with session_scope(engine) as session:
        found = events.read_events(session, 0, limit=10, filter=nato)
        assert [e.data["title"] for e in found] == ["a", "c"]
        assert (
            events.read_events(session, found[0].id, limit=10, filter=nato)[0].data["title"] == "c"
        )
        page = events.read_page(session, Cursor(0), limit=200, filter=nato, now=0.0)
        # A page of filtered-out rows still moves the cursor: polling never rereads them.
        assert page.events == [] and page.more and page.cursor == Cursor(200)
        recent = events.recent_events(session, limit=1, filter=EventFilter.of(types=["match"]))
        assert [e.data["title"] for e in recent] == ["c"]
        assert events.head_id(session) == 603


def test_since_starts_at_the_first_event_of_that_time_and_retention_keeps_the_newest(
    engine: Engine,
) -> None:
    _append(engine, ("match", {"n": 1}), at=T0)
    _append(engine, ("match", {"n": 2}), at=T0 + timedelta(hours=2))
    with session_scope(engine) as session:
        assert events.id_before(session, T0 + timedelta(hours=1)) == 1
        assert events.prune_events(session, T0 + timedelta(days=30)) == 1
    with session_scope(engine) as session:
        assert [e.data for e in events.read_events(session, 0)] == [{"n": 2}]
    _append(engine, ("match", {"n": 3}))
    with session_scope(engine) as session:
        assert events.head_id(session) == 3  # ids never restart


def test_envelope_carries_id_type_time_and_data() -> None:
    event = StoredEvent(7, "feed.recovered", {"feed_id": 2}, T0)
    assert event.envelope() == {
        "id": 7,
        "type": "feed.recovered",
        "created_at": "2026-02-02T03:00:00+00:00",
        "data": {"feed_id": 2},
    }


# --- the notifier ----------------------------------------------------------------------------


async def test_a_notify_between_read_and_wait_is_not_missed() -> None:
    notifier = EventNotifier()
    seen = notifier.generation
    notifier.notify()  # the commit lands after the reader's query, before it waits
    assert await notifier.wait(seen, 60) is True


async def test_notify_from_a_worker_thread_wakes_the_waiting_reader() -> None:
    notifier = EventNotifier()
    seen = notifier.generation
    waiter = asyncio.create_task(notifier.wait(seen, 60))
    await asyncio.sleep(0)  # the reader is waiting now
    thread = threading.Thread(target=notifier.notify)
    thread.start()
    assert await waiter is True
    thread.join()


async def test_wait_gives_up_after_its_time_and_close_wakes_for_good() -> None:
    notifier = EventNotifier()
    assert await notifier.wait(notifier.generation, 0.01) is False
    notifier.close()
    assert notifier.closed
    assert await notifier.wait(notifier.generation, 60) is True


# --- what the pipeline and outbox write ---------------------------------------------------------


def _two_copies(tmp_path: Path) -> Path:
    corpus = tmp_path / "copies"
    corpus.mkdir()
    seed = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    body = seed.split("\n", 1)[1]
    (corpus / "a.txt").write_text("Rutte dan Trump di NATO\n" + body, encoding="utf-8")
    (corpus / "b.txt").write_text("Salinan: Rutte dan Trump di NATO\n" + body, encoding="utf-8")
    return corpus


def _read(settings: Settings, **kwargs: Any) -> list[StoredEvent]:
    engine = open_engine(settings)
    with session_scope(engine) as session:
        found = events.read_events(session, 0, **kwargs)
    engine.dispose()
    return found


def test_replay_writes_stored_match_story_and_alert_events_in_order(
    tmp_path: Path, db_url: str
) -> None:
    report = asyncio.run(
        run_replay(_two_copies(tmp_path), factories.settings(db_url), alert_stream=io.StringIO())
    )
    assert report.summary() == {"stored": 1, "duplicates": 1, "skipped": 0, "alerts": 1}
    stream = _read(factories.settings(db_url), limit=100)
    assert [e.type for e in stream] == [
        "article.stored",
        "match",
        "article.stored",
        "match",
        "story.updated",
        "alert.sent",
    ]
    assert [e.id for e in stream] == sorted(e.id for e in stream)
    first, copy, story = stream[1].data, stream[3].data, stream[4].data
    assert first["duplicate_kind"] is None and first["alerted"] is True
    assert copy["duplicate_kind"] in ("exact", "near") and copy["alerted"] is False
    assert story["duplicate_kind"] == copy["duplicate_kind"]
    assert copy["story_id"] == first["story_id"] == story["story_id"]
    assert story["sources"] == ["warta.pantau.example"]
    rutte = next(a for a in first["actors"] if a["name"] == "Mark Rutte")
    assert rutte["snippets"] and all("Rutte" in s or "NATO" in s for s in rutte["snippets"])
    assert {t["name"] for t in first["topics"]} >= {"nato"}
    sent = stream[5].data
    assert (sent["channel"], sent["status"], sent["story_id"]) == (
        "console",
        "sent",
        first["story_id"],
    )


def test_an_alert_that_cannot_be_written_leaves_an_alert_failed_event(
    tmp_path: Path, db_url: str
) -> None:
    settings = factories.settings(
        db_url,
        alerts={
            "channels": [{"name": "file", "type": "jsonl", "path": str(tmp_path)}],  # a directory
            "rules": [{"name": "default", "channels": ["file"]}],
        },
    )
    single = tmp_path / "one"
    single.mkdir()
    shutil.copy(SEEDS / "manifest.toml", single)
    shutil.copy(next(SEEDS.glob("000_*.txt")), single)
    report = asyncio.run(run_replay(single, settings, alert_stream=io.StringIO()))
    assert report.delivery.failed == 1
    (failed,) = _read(settings, filter=EventFilter.of(types=["alert.failed"]))
    assert failed.data["channel"] == "file"
    assert failed.data["final"] is True
    assert "could not append to" in failed.data["error"]
