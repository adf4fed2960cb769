"""Faults on write: the database is locked, the disk is full, the process is killed with -9.

In every case the article is retried later (its feed entry stays unseen) and nothing is
half-written: no story without its article, no article without its matches and alerts.
"""

from __future__ import annotations

import json
import logging
import os
import random
import select
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.daemon.runtime import load_matcher
from monitor.errors import LockedError
from monitor.match.matcher import Matcher
from monitor.models import FeedEntry
from monitor.paths import default_seeds_dir
from tests.fakenews import FakeArticle, fake_article, fake_articles
from tests.loopback import LoopbackServer
from tests.pollharness import DbFaults, Harness, open_daemon, rss, serve_article, serve_feed

EMPTY = {"stories": 0, "articles": 0, "matches": 0, "alerts": 0}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher(load_settings(None, env={}))


@contextmanager
def exclusive_lock(db: Path) -> Iterator[None]:
    """Another process's write transaction, held open (e.g. a backup or a second writer)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def big_article(index: int) -> FakeArticle:
    """An article whose body (~25 KB) needs several new database pages."""
    parts = [p for i in range(12) for p in fake_article(1000 * index + i).paragraphs]
    base = fake_article(index)
    return FakeArticle(base.slug, base.title, tuple(parts), base.actors)


def assert_stored_whole(h: Harness, links: set[str]) -> None:
    """Each link stored once, with its matches and its one alert."""
    counts = h.counts()
    assert counts["articles"] == counts["stories"] == counts["alerts"] == len(links), counts
    assert counts["matches"] >= 2 * len(links)
    assert set(h.articles()) == links
    assert links <= h.seen_links()


# --- database locked ---------------------------------------------------------------------------


async def test_article_hitting_a_locked_database_is_retried_and_not_half_written(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    db = tmp_path / "pantau.db"
    link = serve_article(loopback, "/artikel/kunci", fake_article(1))
    entry = FeedEntry(entry_id=link, link=link, title="Berita terkunci", published=None)
    faults = DbFaults(busy_timeout_ms=200)
    async with open_daemon(db, loopback, matcher, faults=faults) as h:
        feed_id = h.feed_id()
        with exclusive_lock(db):
            outcome = await h.pipeline.process_entry(entry, feed_id=feed_id)
        assert (outcome.status, outcome.retry) == ("failed", True)
        assert "database is locked" in outcome.reason
        assert h.counts() == EMPTY
        assert link not in h.seen_links()  # left unseen: the next poll tries it again

        again = await h.pipeline.process_entry(entry, feed_id=feed_id)
        assert again.status == "stored"
        assert_stored_whole(h, {link})
    assert any(f"entry {link} skipped: could not store" in r.getMessage() for r in caplog.records)


async def test_poll_while_another_writer_holds_the_database_loses_no_entry(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher
) -> None:
    db = tmp_path / "pantau.db"
    links = {serve_article(loopback, f"/artikel/{i}", fake_article(i)) for i in range(3)}
    serve_feed(loopback, rss([("Berita", link) for link in sorted(links)]))
    async with open_daemon(db, loopback, matcher, faults=DbFaults(busy_timeout_ms=200)) as h:
        # Every article fails to store (retried); then writing the feed's own state fails too.
        # The poller lets that error out: the daemon logs "poll of <feed> failed unexpectedly;
        # its lease will expire" and the feed is polled again once the lease has run out.
        with exclusive_lock(db), pytest.raises(LockedError, match="database is locked"):
            await h.poll()
        assert h.counts() == EMPTY
        assert not links & h.seen_links()
        # After the lease ran out (the scheduler claims the feed again):
        later = await h.poll(hours_later=1)
        assert later.stored == 3
        assert_stored_whole(h, links)


# --- disk full ---------------------------------------------------------------------------------


def page_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.execute("PRAGMA page_count").fetchone()[0])


async def test_article_hitting_a_full_database_is_retried_and_not_half_written(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    db = tmp_path / "pantau.db"
    link = serve_article(loopback, "/artikel/penuh", big_article(2))
    small = serve_article(loopback, "/artikel/kecil", fake_article(3))
    serve_feed(loopback, rss([("Penuh", link), ("Kecil", small)]))
    async with open_daemon(db, loopback, matcher) as h:
        # SQLITE_FULL exactly as on a full disk, at a size the big article does not fit in.
        h.apply_faults(max_page_count=page_count(db) + 4)
        full = await h.poll()
        assert (full.status, full.retry) == ("ok", 1)
        stored = set(h.articles())
        assert link not in stored and link not in h.seen_links()
        # Whatever did fit (the small article) is whole; the big one left no trace.
        assert_stored_whole(h, stored)

        h.apply_faults(max_page_count=None)  # space freed
        later = await h.poll(hours_later=1)
        assert later.retry == 0
        assert_stored_whole(h, {link, small})
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "database or disk is full" in log
    assert "will be retried next poll" in log


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a real filesystem that runs out of space (needs root; skipped if not)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_article_written_to_a_full_disk_is_retried_and_not_half_written(
    tiny_disk: Path, loopback: LoopbackServer, matcher: Matcher
) -> None:
    db = tiny_disk / "pantau.db"
    link = serve_article(loopback, "/artikel/disk", big_article(4))
    serve_feed(loopback, rss([("Disk", link)]))
    async with open_daemon(db, loopback, matcher) as h:
        filler = tiny_disk / "filler"
        free = shutil.disk_usage(tiny_disk).free
        filler.write_bytes(b"\0" * max(0, free - 24 * 1024))
        full = await h.poll()
        # Nothing new could be stored: a failed poll (backed off), not a healthy one.
        assert (full.status, full.stored) == ("error", 0)
        assert full.error is not None and "database or disk is full" in full.error
        filler.unlink()
        h.apply_faults()  # reconnect after the I/O errors
        assert h.counts() == EMPTY
        assert link not in h.seen_links()
        later = await h.poll(hours_later=1)
        assert later.stored == 1
        assert_stored_whole(h, {link})


# --- SIGKILL during a replay -------------------------------------------------------------------

CORPUS_SIZE = 200
CHAINS = 1  # independent databases, each killed KILLS_PER_CHAIN times (in parallel if > 1)
KILLS_PER_CHAIN = 20
DELIVERY_SHARE = 0.3  # share of the kills aimed at the alert delivery after the last article

# Forks one `pantau replay` per request from a process that has already imported Pantau and
# built the lexicon's matcher (pure, read-only, 2 s to build), so each run starts in a fraction
# of the interpreter's start-up time. The child runs the real CLI command; the test kills it.
ZYGOTE = textwrap.dedent(
    """
    import json, os, sys
    import monitor.daemon.runtime
    import monitor.cli.replay  # registers the command and imports everything it needs
    from monitor.cli import app
    from monitor.config import load_settings

    rules = {"matching": {"relevance_model": "rules"}}  # as the test's configuration says
    matcher = monitor.daemon.runtime.load_matcher(load_settings(None, env={}, overrides=rules))
    monitor.daemon.runtime.load_matcher = lambda settings: matcher

    for line in sys.stdin:
        args, out, err = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            for fd, path in ((1, out), (2, err)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            code = 0
            try:
                app(args, prog_name="pantau")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                code = 70
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
    """
)


def build_corpus(directory: Path) -> set[str]:
    """The 5 seeds and 195 generated articles; returns the titles the alerts must carry."""
    directory.mkdir()
    seeds = default_seeds_dir()
    for path in [*seeds.glob("*.txt"), seeds / "manifest.toml"]:
        shutil.copy(path, directory / path.name)
    for article in fake_articles(CORPUS_SIZE - 5):
        (directory / f"{article.slug}.txt").write_text(article.text, encoding="utf-8")
    return {a.title for a in fake_articles(CORPUS_SIZE - 5)}


@dataclass
class Run:
    target: int  # progress lines to wait for before the kill (CORPUS_SIZE: during delivery)
    killed: bool = False
    code: int | None = None
    stderr: str = ""


@dataclass
class Chain:
    db: Path
    runs: list[Run] = field(default_factory=list)


class Zygote:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def _line(self, timeout: float | None) -> str | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().strip() if ready else None

    def run(self, args: list[str], run: Run, rng: random.Random, n: int) -> None:
        out, err = self.workdir / f"out{n}", self.workdir / f"err{n}"
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([args, str(out), str(err)]) + "\n")
        self.proc.stdin.flush()
        pid = int(self._line(60) or "0")
        assert pid > 0
        deadline = time.monotonic() + 120
        extra = rng.uniform(0.0, 0.4)
        code = None
        while code is None and time.monotonic() < deadline:
            line = self._line(0.01)
            if line is not None:
                code = int(line)
                break
            if run.target >= 0 and _progress(out) >= min(run.target, CORPUS_SIZE):
                line = self._line(extra)
                if line is None:  # still running: the zygote has not reaped it
                    os.kill(pid, 9)
                    line = self._line(30)
                code = int(line or "0")
        assert code is not None, "replay did not finish within 120 s"
        run.code = code
        run.killed = code == -9
        run.stderr = err.read_text(encoding="utf-8", errors="replace")


def _progress(out: Path) -> int:
    try:
        text = out.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    return sum(1 for line in text.splitlines() if line.startswith("  ") and line.split()[:1])


def run_chain(chain: Chain, corpus: Path, config: Path, seed: int) -> Chain:
    rng = random.Random(seed)
    zygote = Zygote(chain.db.parent)
    args = ["replay", str(corpus), "--db", str(chain.db), "--config", str(config)]
    try:
        for n in range(KILLS_PER_CHAIN + 1):
            final = n == KILLS_PER_CHAIN
            if final:
                target = -1
            elif rng.random() < DELIVERY_SHARE:
                target = CORPUS_SIZE  # after the last article: during the alert delivery
            else:
                target = rng.randint(0, CORPUS_SIZE - 1)
            run = Run(target=target)
            zygote.run(args, run, rng, n)
            chain.runs.append(run)
    finally:
        zygote.close()
    return chain


def alert_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("[Pantau]")]


@pytest.mark.slow
@pytest.mark.timeout(300)  # ~30 s on an idle 2-core machine; generous for a loaded CI host
def test_sigkill_at_random_points_of_a_replay_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("PANTAU_KILL_SEED") or random.randrange(2**32))
    corpus = tmp_path / "corpus"
    titles = build_corpus(corpus)
    config = tmp_path / "pantau.toml"
    # Flood control off for this test: 200 alerts must each be sent as a message of its own.
    # The generated articles are templated text: the topics.toml rules say which alert (all).
    config.write_text(
        '[matching]\nrelevance_model = "rules"\n'
        '[[alerts.channels]]\nname = "console"\ntype = "console"\nrate_limit = 1000\n',
        encoding="utf-8",
    )
    chains = []
    for i in range(CHAINS):
        (tmp_path / f"chain{i}").mkdir()
        chains.append(Chain(tmp_path / f"chain{i}" / "pantau.db"))
    with ThreadPoolExecutor(CHAINS) as pool:
        done = list(
            pool.map(
                run_chain,
                chains,
                [corpus] * CHAINS,
                [config] * CHAINS,
                [seed + i for i in range(CHAINS)],
            )
        )
    for chain in done:
        _check_chain(chain, titles, seed)


def _check_chain(chain: Chain, titles: set[str], seed: int) -> None:
    where = f"(PANTAU_KILL_SEED={seed}, {chain.db})"
    final = chain.runs[-1]
    assert final.code == 0, f"final replay failed {where}:\n{final.stderr[-2000:]}"
    killed = [r for r in chain.runs if r.killed]
    assert len(killed) >= KILLS_PER_CHAIN // 2, f"too few kills landed {where}"
    with sqlite3.connect(chain.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", where
        urls = [row[0] for row in conn.execute("SELECT canonical_url FROM articles")]
        assert len(urls) == len(set(urls)) == CORPUS_SIZE, where
        assert conn.execute("SELECT count(*) FROM seen_entries").fetchone()[0] == CORPUS_SIZE
        # Nothing half-written: every article has its story and its matches ...
        orphans = conn.execute(
            "SELECT count(*) FROM articles a WHERE a.story_id IS NULL "
            "OR NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)"
        ).fetchone()[0]
        assert orphans == 0, where
        # ... and exactly one alert per story x rule x channel, every one of them sent.
        per_story = Counter(
            row[0] for row in conn.execute("SELECT story_id FROM alerts WHERE rule = 'default'")
        )
        stories = conn.execute("SELECT count(*) FROM stories").fetchone()[0]
        assert stories == CORPUS_SIZE and set(per_story.values()) == {1}, where
        assert len(per_story) == CORPUS_SIZE, where
        statuses = Counter(row[0] for row in conn.execute("SELECT status FROM alerts"))
        assert statuses == {"sent": CORPUS_SIZE}, f"{statuses} {where}"
    # What the analyst saw on the console over all runs: every alert at least once. A run
    # killed between writing an alert and marking it sent shows that one alert again on the
    # next run (at-least-once delivery): at most one repeat per kill that hit delivery.
    printed = Counter(line for r in chain.runs for line in alert_lines(r.stderr))
    for title in titles:
        assert any(title in line for line in printed), f"alert lost: {title} {where}"
    repeats = sum(n - 1 for n in printed.values())
    killed_while_alerting = sum(1 for r in killed if alert_lines(r.stderr))
    assert repeats <= killed_while_alerting, f"{repeats} repeated alerts {where}"
    print(  # shown with -s: how the kills landed
        f"{chain.db}: {len(killed)} kills ({killed_while_alerting} while alerting), "
        f"{repeats} alert(s) shown twice"
    )
