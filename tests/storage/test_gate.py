"""StorageGate: storage work off the event loop, one transaction per call."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from storage import migrate, repo
from storage.engine import Transaction, make_engine
from storage.errors import StorageError
from storage.gate import StorageGate
from storage.tables import Feed


def _gate(tmp_path: Path) -> StorageGate:
    url = f"sqlite:///{tmp_path / 'pantau.db'}"
    migrate.upgrade(url)
    return StorageGate(make_engine(url), threads=2)


def _feed_urls(session: Transaction) -> list[str]:
    return [f.url for f in session.exec(select(Feed)).all()]


async def test_work_runs_in_the_gate_threads_not_on_the_loop(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    try:
        name = await gate.run(lambda: threading.current_thread().name)
        assert name.startswith("pantau-storage")
        assert name != threading.current_thread().name
    finally:
        gate.close()
        gate.engine.dispose()


async def test_a_transaction_commits_when_it_returns_and_rolls_back_when_it_raises(
    tmp_path: Path,
) -> None:
    gate = _gate(tmp_path)

    def add_then_fail(session: Transaction) -> None:
        repo.get_or_create_feed(session, "https://b.example/feed")
        raise ValueError("the unit of work failed")

    try:
        await gate.transaction(lambda s: repo.get_or_create_feed(s, "https://a.example/feed"))
        with pytest.raises(ValueError, match="unit of work failed"):
            await gate.transaction(add_then_fail)
        assert await gate.transaction(_feed_urls) == ["https://a.example/feed"]
    finally:
        gate.close()
        gate.engine.dispose()


async def test_database_errors_leave_the_gate_as_storage_errors(tmp_path: Path) -> None:
    gate = _gate(tmp_path)

    def twice(session: Transaction) -> None:
        now = datetime.now(UTC)
        session.add(Feed(url="https://a.example/feed", name="a", next_poll_at=now))
        session.add(Feed(url="https://a.example/feed", name="a", next_poll_at=now))
        session.flush()

    try:
        with pytest.raises(StorageError):
            await gate.transaction(twice)
    finally:
        gate.close()
        gate.engine.dispose()


async def test_work_in_a_gate_thread_can_ask_the_loop_while_it_holds_a_transaction(
    tmp_path: Path,
) -> None:
    gate = _gate(tmp_path)
    loop_thread = threading.current_thread()
    asked_on: list[threading.Thread] = []

    async def on_the_loop() -> str:
        asked_on.append(threading.current_thread())
        await asyncio.sleep(0)
        return "https://from-the-loop.example/feed"

    def unit(session: Transaction) -> list[str]:
        url = gate.on_loop(on_the_loop)
        repo.get_or_create_feed(session, url)
        return _feed_urls(session)

    try:
        assert await gate.transaction(unit) == ["https://from-the-loop.example/feed"]
        assert asked_on == [loop_thread]
    finally:
        gate.close()
        gate.engine.dispose()
