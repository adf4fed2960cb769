"""Item 6: articles/s written to SQLite (a WAL file) and to PostgreSQL.

Each write is what the pipeline does for one matched article: one transaction holding the
article, a new story, its match rows, one outbox alert and an ``article.stored`` event
(``storage.repo.save_article`` + ``append_event``). Bodies are the corpus's article text.
SQLite and PostgreSQL take turns in blocks of articles within each round; a scratch
PostgreSQL database ``pantau_bench_<pid>`` is created for the run and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from benchmarks.common import Figure, Mode, Result, median, rounds_for
from benchmarks.corpus import article_texts
from benchmarks.harness import NOW, sqlite_engine
from storage import migrate, repo
from storage.engine import make_engine, session_scope

ITEM = "6 storage"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
ARTICLES = {"full": 600, "quick": 200, "tiny": 6}
BLOCK = {"full": 50, "quick": 50, "tiny": 3}


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


@contextlib.contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """CREATE DATABASE pantau_bench_<pid>, yield its URL, DROP it afterwards."""
    import psycopg
    from psycopg import sql

    name = f"pantau_bench_{os.getpid()}"
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


def _timed_blocks(
    engines: dict[str, Engine], writes: Sequence[Write], block: int, order: Sequence[str]
) -> dict[str, float]:
    spent = dict.fromkeys(engines, 0.0)
    for start in range(0, len(writes), block):
        chunk = writes[start : start + block]
        for name in order:
            started = time.perf_counter()
            write_all(engines[name], chunk)
            spent[name] += time.perf_counter() - started
        order = list(reversed(order))
    return spent


def run(mode: Mode = "full", postgres_url: str | None = DEFAULT_POSTGRES) -> Result:
    started = time.perf_counter()
    n = ARTICLES[mode]
    postgres_note = ""
    samples: list[dict[str, float]] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="pantau-bench-"))
        engines = {"sqlite": sqlite_engine(Path(tmp, "store.db"))}
        stack.callback(engines["sqlite"].dispose)
        if postgres_url:
            try:
                pg_url = stack.enter_context(scratch_postgres(postgres_url))
                engines["postgres"] = make_engine(pg_url)
                stack.callback(engines["postgres"].dispose)
                migrate.upgrade(engines["postgres"])
            except Exception as exc:  # no server here: say so instead of failing the run
                postgres_note = f"PostgreSQL not usable: {type(exc).__name__}: {exc}"
                engines.pop("postgres", None)
        else:
            postgres_note = "no PostgreSQL URL given"
        write_all(engines["sqlite"], articles(3, round_no=999))  # warm statement caches
        if "postgres" in engines:
            write_all(engines["postgres"], articles(3, round_no=999))
        for r in range(rounds_for(mode, 3, 2)):
            order = sorted(engines) if r % 2 == 0 else sorted(engines, reverse=True)
            samples.append(_timed_blocks(engines, articles(n, round_no=r), BLOCK[mode], order))
    figures = [
        Figure(
            ITEM,
            "SQLite (WAL file) writes",
            n / median([s["sqlite"] for s in samples]),
            "articles/s",
        ),
    ]
    if postgres_note:
        figures.append(Figure(ITEM, "PostgreSQL writes", None, "articles/s", note=postgres_note))
    else:
        figures.append(
            Figure(
                ITEM,
                "PostgreSQL writes",
                n / median([s["postgres"] for s in samples]),
                "articles/s",
            )
        )
    details = {
        "articles_per_round": n,
        "rounds": samples,
        "per_article": "1 transaction: article + story + 4 matches + 0-1 alert + event",
    }
    return Result("storage", figures, details, time.perf_counter() - started)
