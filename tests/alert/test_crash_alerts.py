"""kill -9 after matches are committed but before their alerts are delivered: on restart every
pending alert is delivered exactly once (counted on the receiving server). On SQLite and on
PostgreSQL, where the dead process's connections (and any lock they held) go with it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from monitor.config import load_settings
from monitor.daemon.service import run_daemon
from monitor.demo.sitebuilder import load_corpus
from monitor.paths import default_seeds_dir
from storage.engine import make_engine, session_scope
from storage.errors import StorageError
from storage.tables import AlertRow
from tests.factories import wait_while_running, write_feeds_file
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer, Request, Response

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, feed_url: str, hook_url: str, db_url: str) -> Path:
    feeds_file = tmp_path / "feeds.toml"
    write_feeds_file(feeds_file, [feed_url])
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "{db_url}"\n'
        "[schedule]\nmin_interval = 60.0\ndefault_interval = 60.0\njitter = 0.0\n"
        "tick = 0.1\ngrace_period = 1.0\nalert_on_first_poll = true\n"
        "[alerts]\nretry_base = 0.2\nretry_max = 0.5\n"
        '[[alerts.rules]]\nname = "default"\nchannels = ["hook"]\n'
        f'[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook_url}"\n',
        encoding="utf-8",
    )
    return config


def _alert_statuses(engine: Engine) -> list[str]:
    try:
        with session_scope(engine) as session:
            return [r.status for r in session.exec(select(AlertRow)).all()]
    except StorageError:  # the daemon has not created the schema yet
        return []


@pytest.mark.slow
def test_kill_9_before_delivery_then_restart_delivers_each_alert_exactly_once(
    tmp_path: Path, loopback: LoopbackServer, db_url: str
) -> None:
    site = FeedSite(loopback, load_corpus(default_seeds_dir()))
    site.publish(5)
    accepting = False
    delivered: list[dict[str, object]] = []

    def hook(request: Request) -> Response:
        if not accepting:
            return Response(503, b"receiver down")  # alerts stay queued in the outbox
        delivered.append(json.loads(request.body))
        return Response(200, b"ok")

    loopback.route("/hook", hook)
    config = _config(tmp_path, site.url, loopback.url("/hook"), db_url)
    engine = make_engine(db_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    code = "import monitor.cli.run; from monitor.cli import app; app()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "--config", str(config), "--allow-private"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_while_running(
            proc,
            lambda: bool(loopback.requests_for("/hook")) and len(_alert_statuses(engine)) == 5,
            "the daemon stored the five matches",
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert delivered == []
    assert set(_alert_statuses(engine)) == {"pending"}

    accepting = True
    settings = load_settings(config, env={})
    for _ in range(20):  # restarts until the retry back-off has run out for every alert
        asyncio.run(
            run_daemon(settings, once=True, allow_private=True, env={}, handle_signals=False)
        )
        if set(_alert_statuses(engine)) == {"sent"}:
            break
        time.sleep(0.2)
    titles = [str(p["title"]) for p in delivered]
    assert len(titles) == 5 and len(set(titles)) == 5, titles
    # Another restart sends nothing more.
    asyncio.run(run_daemon(settings, once=True, allow_private=True, env={}, handle_signals=False))
    assert len(delivered) == 5
    engine.dispose()
