"""Item 6: articles/s written to SQLite (a WAL file) and to PostgreSQL.

Each write is what the pipeline does for one matched article: the article, a new story, its
match rows, one outbox alert and an ``article.stored`` event. Two arms per backend, side by
side: per article (one transaction each: ``storage.repo.save_article`` + ``append_event``, as
before batching) and batched (``storage.batch.write_articles``, ``BATCH`` articles per
transaction, as a poll's new articles are written; the figures with targets). A third arm
writes the same batches to a schema without full-text indexing (tables only: no FTS5 triggers,
no GIN index), and on SQLite a fourth indexes them in a follow-up transaction per block of
``BLOCK`` articles instead, so the cost of indexing in the same transaction is measured, not
guessed (``storage.batch``'s docstring records the choice). Bodies are the corpus's article text.
The arms take turns in blocks of articles within each round; scratch PostgreSQL databases
``pantau_bench_<pid>[_nofts]`` are created for the run and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from benchmarks.common import Figure, Mode, Result, Target, median, rounds_for
from benchmarks.corpus import article_texts
from benchmarks.harness import NOW, sqlite_engine
from storage import batch, migrate, repo
from storage.engine import create_schema, make_engine, session_scope

ITEM = "6 storage"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
ARTICLES = {"full": 600, "quick": 200, "tiny": 6}
BLOCK = {"full": 60, "quick": 60, "tiny": 3}
WARM = {"full": 120, "quick": 120, "tiny": 3}
BATCH = 20  # articles per transaction in the batched arms: a busy poll's new articles
SQLITE_TARGET = Target(">=", 600)
POSTGRES_TARGET = Target(">=", 300)


@dataclass(frozen=True)
class Write:
    article: repo.NewArticle
    matches: tuple[repo.NewMatch, ...]
    alerts: tuple[repo.NewAlert, ...]


def articles(count: int, round_no: int = 0) -> list[Write]:
    """``count`` realistic writes; URLs differ per round so rounds never collide."""
    out = []
    for i, text in enumerate(article_texts(count)):
        url = f"https://www.kabarnusantara.example/internasional/{round_no}/{i}"
        matches = (
            repo.NewMatch("topic", "nato", "term", "NATO", 10, 14, text.body[:120], 3.0, True, 4),
            repo.NewMatch(
                "topic", "ukraine", "term", "Ukraina", 40, 47, text.body[:120], 2.0, True, 3
            ),
            repo.NewMatch("actor", "Mark Rutte", "name", "Rutte", 80, 85, text.body[:120]),
            repo.NewMatch("actor", "Donald Trump", "alias", "Trump", 90, 95, text.body[:120]),
        )
        payload = json.dumps({"rule": "default", "title": text.title, "url": url})
        out.append(
            Write(
                repo.NewArticle(
                    canonical_url=url,
                    url=url,
                    source="kabarnusantara.example",
                    title=text.title,
                    body=text.body,
                    body_hash=f"{round_no:04d}{i:060d}",
                    signature=bytes(512),
                    published_at=text.published,
                    seen_at=NOW,
                ),
                matches,
                (repo.NewAlert("default", "console", payload),) if i % 2 == 0 else (),
            )
        )
    return out


def write_all(engine: Engine, writes: Sequence[Write]) -> None:
    for w in writes:
        with session_scope(engine) as session:
            article_id, story_id = repo.save_article(
                session, w.article, w.matches, story_id=None, alerts=w.alerts
            )
            repo.append_event(
                session,
                "article.stored",
                json.dumps({"article_id": article_id, "story_id": story_id}),
                NOW,
            )


@dataclass(frozen=True)
class StoredEvent:
    """The ``article.stored`` event of a batched write (its payload names the new ids)."""

    @property
    def type(self) -> str:
        return "article.stored"

    def payload(self, stored: repo.StoredArticle) -> str:
        return json.dumps({"article_id": stored.article_id, "story_id": stored.story_id})


def write_batched(engine: Engine, writes: Sequence[Write]) -> None:
    """``BATCH`` writes per transaction, as the pipeline writes a poll's new articles."""
    for start in range(0, len(writes), BATCH):
        intents = [
            repo.ArticleIntent(w.article, w.matches, None, w.alerts, (StoredEvent(),))
            for w in writes[start : start + BATCH]
        ]
        with session_scope(engine) as session:
            batch.write_articles(session, intents)


@contextlib.contextmanager
def scratch_postgres(server_url: str, suffix: str = "") -> Iterator[str]:
    """CREATE DATABASE pantau_bench_<pid><suffix>, yield its URL, DROP it afterwards."""
    import psycopg
    from psycopg import sql

    name = f"pantau_bench_{os.getpid()}{suffix}"
    admin = make_url(server_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


Arm = tuple[Engine, Callable[[Engine, Sequence[Write]], None]]


def _timed_blocks(
    arms: dict[str, Arm], writes: dict[str, list[Write]], block: int, order: Sequence[str]
) -> dict[str, float]:
    """Seconds each arm spent writing its ``writes`` (the same rows under its own URLs); the
    arms take turns block by block so that the machine's load is shared."""
    spent = dict.fromkeys(arms, 0.0)
    count = len(next(iter(writes.values())))
    for start in range(0, count, block):
        for name in order:
            engine, write = arms[name]
            chunk = writes[name][start : start + block]
            started = time.perf_counter()
            write(engine, chunk)
            spent[name] += time.perf_counter() - started
        order = list(reversed(order))
    return spent


# Migration 0002's FTS5 table without its triggers: the "follow-up step" arm indexes what the
# batches stored afterwards, in a transaction of its own per block (the docsize shadow table
# lists the rows already indexed, so a crash between the two loses no row).
_FTS_TABLE = (
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='articles', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
_FOLLOW_UP = (
    "INSERT INTO articles_fts(rowid, title, body) SELECT id, title, body FROM articles "
    "WHERE id > (SELECT coalesce(max(id), 0) FROM articles_fts_docsize)"
)


def write_then_index(engine: Engine, writes: Sequence[Write]) -> None:
    """Batches without full-text rows, then one follow-up transaction indexing them all."""
    write_batched(engine, writes)
    with engine.begin() as conn:
        conn.exec_driver_sql(_FOLLOW_UP)


def _arms(
    stack: contextlib.ExitStack, tmp: str, postgres_url: str | None
) -> tuple[dict[str, Arm], str]:
    """The arms that can run here, and why PostgreSQL's cannot (empty when they can)."""
    sqlite = sqlite_engine(Path(tmp, "store.db"))
    stack.callback(sqlite.dispose)
    bare = make_engine(f"sqlite:///{Path(tmp, 'nofts.db')}")  # tables only: no FTS5
    stack.callback(bare.dispose)
    create_schema(bare)
    later = make_engine(f"sqlite:///{Path(tmp, 'followup.db')}")
    stack.callback(later.dispose)
    create_schema(later)
    with later.begin() as conn:
        conn.exec_driver_sql(_FTS_TABLE)
    arms: dict[str, Arm] = {
        "sqlite": (sqlite, write_all),
        "sqlite_batched": (sqlite, write_batched),
        "sqlite_batched_nofts": (bare, write_batched),
        "sqlite_followup": (later, write_then_index),
    }
    if not postgres_url:
        return arms, "no PostgreSQL URL given"
    try:
        pg = make_engine(stack.enter_context(scratch_postgres(postgres_url)))
        stack.callback(pg.dispose)
        migrate.upgrade(pg)
        pg_bare = make_engine(stack.enter_context(scratch_postgres(postgres_url, "_nofts")))
        stack.callback(pg_bare.dispose)
        create_schema(pg_bare)  # no GIN index
    except Exception as exc:  # no server here: say so instead of failing the run
        return arms, f"PostgreSQL not usable: {type(exc).__name__}: {exc}"
    arms |= {
        "postgres": (pg, write_all),
        "postgres_batched": (pg, write_batched),
        "postgres_batched_nofts": (pg_bare, write_batched),
    }
    return arms, ""


NAMES = {
    "sqlite": ("SQLite (WAL file) writes, per article", None),
    "sqlite_batched": (f"SQLite (WAL file) writes, batches of {BATCH}", SQLITE_TARGET),
    "sqlite_batched_nofts": (f"SQLite batches of {BATCH} without full-text index", None),
    "sqlite_followup": (f"SQLite batches of {BATCH}, full-text as a follow-up step", None),
    "postgres": ("PostgreSQL writes, per article", None),
    "postgres_batched": (f"PostgreSQL writes, batches of {BATCH}", POSTGRES_TARGET),
    "postgres_batched_nofts": (f"PostgreSQL batches of {BATCH} without full-text index", None),
}


def run(mode: Mode = "full", postgres_url: str | None = DEFAULT_POSTGRES) -> Result:
    started = time.perf_counter()
    n = ARTICLES[mode]
    samples: list[dict[str, float]] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="pantau-bench-"))
        arms, postgres_note = _arms(stack, tmp, postgres_url)
        # Warm up as a running daemon is: statements compiled and (psycopg, after 5 runs)
        # prepared on the server.
        warm = articles(WARM[mode], round_no=900)
        for name, (engine, write) in arms.items():
            write(engine, [_renamed(w, name) for w in warm])
        for r in range(rounds_for(mode, 3, 2)):
            order = sorted(arms) if r % 2 == 0 else sorted(arms, reverse=True)
            # Arms on the same engine write distinct URLs: per-round and per-arm.
            writes = articles(n, round_no=r)
            own = {name: [_renamed(w, name) for w in writes] for name in arms}
            spent = _timed_blocks(arms, own, BLOCK[mode], order)
            samples.append(spent)
    figures = []
    for name, (label, target) in NAMES.items():
        if name in arms:
            value = n / median([s[name] for s in samples])
            figures.append(Figure(ITEM, label, value, "articles/s", target))
        elif name.startswith("postgres"):
            figures.append(Figure(ITEM, label, None, "articles/s", target, note=postgres_note))
    details = {
        "articles_per_round": n,
        "batch": BATCH,
        "rounds": samples,
        "per_article": "article + story + 4 matches + 0-1 alert + event",
    }
    return Result("storage", figures, details, time.perf_counter() - started)


def _renamed(w: Write, arm: str) -> Write:
    """The same write under a URL of the arm's own (arms share a database)."""
    url = w.article.canonical_url + "/" + arm
    return Write(replace(w.article, canonical_url=url, url=url), w.matches, w.alerts)
