"""PostgreSQL under concurrency: unique constraints decide races between workers.

Each race holds worker A's transaction open until worker B is seen waiting on A's lock in
pg_stat_activity, so the two writes really overlap; then A commits and B must lose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from storage import repo
from storage.engine import make_engine, session_scope
from storage.errors import DuplicateError
from storage.migrate import current_revision, head_revision, upgrade
from storage.tables import AlertRow, ArticleRow, Story

pytestmark = pytest.mark.postgres
SEEN = datetime(2025, 3, 1, tzinfo=UTC)


def _article(url: str) -> repo.NewArticle:
    return repo.NewArticle(
        canonical_url=url,
        url=url,
        source="warta.example",
        title="Rutte jadi Sekjen NATO",
        body="Mark Rutte resmi menjabat.",
        body_hash="h",
        signature=None,
        published_at=SEEN,
        seen_at=SEEN,
    )


ALERT = repo.NewAlert(rule="default", channel="slack", payload="{}")


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    upgrade(postgres_url)
    eng = make_engine(postgres_url)
    yield eng
    eng.dispose()


def _wait_until_someone_waits_on_a_lock(engine: Engine) -> None:
    deadline = time.monotonic() + 20
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.02)
    pytest.fail("worker B never blocked on worker A's uncommitted row")


def _race(
    engine: Engine, first: Callable[[Session], None], second: Callable[[Session], None]
) -> BaseException | None:
    """Run ``first`` in an open transaction, ``second`` in a thread until it blocks, commit
    ``first``; return what ``second`` raised (None if it committed)."""
    outcome: dict[str, BaseException | None] = {}

    def worker_b() -> None:
        try:
            with session_scope(engine) as b:
                second(b)
            outcome["b"] = None
        except BaseException as exc:
            outcome["b"] = exc

    with Session(engine) as a:
        first(a)
        a.flush()
        thread = threading.Thread(target=worker_b)
        thread.start()
        _wait_until_someone_waits_on_a_lock(engine)
        a.commit()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return outcome["b"]


def _count(engine: Engine, stmt: object) -> int:
    with session_scope(engine) as s:
        return int(s.exec(stmt).one())  # type: ignore[call-overload]


def test_two_workers_storing_the_same_canonical_url_one_wins(engine: Engine) -> None:
    url = "https://warta.example/rutte"

    def store(session: Session) -> None:
        repo.save_article(session, _article(url), [], story_id=None, alerts=[ALERT])

    lost = _race(engine, store, store)

    assert isinstance(lost, DuplicateError)
    assert "canonical_url" in lost.detail
    assert _count(engine, select(func.count()).select_from(ArticleRow)) == 1
    # The loser's story and alert went with its rolled-back transaction.
    assert _count(engine, select(func.count()).select_from(Story)) == 1
    assert _count(engine, select(func.count()).select_from(AlertRow)) == 1


def test_one_story_alert_per_rule_and_channel_under_a_race(engine: Engine) -> None:
    with session_scope(engine) as s:
        _, story_id = repo.save_article(s, _article("https://warta.example/0"), [], story_id=None)

    def copy(n: int) -> Callable[[Session], None]:
        def store(session: Session) -> None:
            # Two copies of the story from different sites, stored by two workers at once,
            # both wanting to alert the same rule on the same channel.
            repo.save_article(
                session,
                _article(f"https://site{n}.example/x"),
                [],
                story_id=story_id,
                alerts=[ALERT],
            )

        return store

    lost = _race(engine, copy(1), copy(2))

    assert isinstance(lost, DuplicateError)
    assert "idempotency_key" in lost.detail
    assert _count(engine, select(func.count()).select_from(AlertRow)) == 1
    assert _count(engine, select(func.count()).select_from(ArticleRow)) == 2


def test_workers_starting_together_upgrade_the_schema_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def worker() -> None:
        start.wait()
        try:
            upgrade(postgres_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert current_revision(postgres_url) == head_revision()
    eng = make_engine(postgres_url)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        eng.dispose()
