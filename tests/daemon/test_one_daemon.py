"""One daemon per SQLite database (issue 21, break 5).

Two ``pantau run`` on one SQLite file both polled the same feeds and alerted twice. The second
now refuses at start with one line naming the first one's pid; the lock dies with its process,
so a daemon killed with SIGKILL never leaves a stale lock behind. PostgreSQL keeps allowing
several workers (tests/daemon/test_scale_out.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.daemon.service import run_daemon
from storage.errors import DaemonRunningError
from storage.locks import daemon_lock_path
from tests import factories
from tests.factories import await_until, wait_while_running

ROOT = Path(__file__).resolve().parents[2]  # the checkout: importable without an install
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")} | {
    "NO_COLOR": "1",
    "COLUMNS": "200",
}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from monitor.cli import main; main()", *args]


def _pantau(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _cmd(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )


async def test_second_daemon_on_one_sqlite_file_refuses_naming_the_first(
    tmp_path: Path,
) -> None:
    settings = factories.daemon_settings(tmp_path)
    db = tmp_path / "pantau.db"
    stop = asyncio.Event()
    first = asyncio.create_task(
        run_daemon(settings, stop=stop, handle_signals=False, env={}, allow_private=True)
    )
    lock = daemon_lock_path(db.resolve())
    try:
        await await_until(
            lambda: lock.exists() and lock.read_text().strip() == str(os.getpid()),
            "the first daemon holds the database's daemon lock",
        )
        # Another process: exactly what an operator starting a second `pantau run` does.
        second = await asyncio.to_thread(
            lambda: subprocess.run(
                _cmd("run", "--once", "--db", str(db)),
                cwd=ROOT,
                capture_output=True,
                env=ENV,
                timeout=120,
            )
        )
        err = second.stderr.decode()
        assert second.returncode == 2, err
        assert f"pid {os.getpid()}" in err
        assert "one daemon per SQLite database" in err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        # And in-process: the same refusal, typed.
        with pytest.raises(DaemonRunningError) as refused:
            await run_daemon(settings, once=True, handle_signals=False, env={})
        assert refused.value.pid == os.getpid()
    finally:
        stop.set()
        await first
    # Once the first has stopped, the next one starts.
    report = await run_daemon(settings, once=True, handle_signals=False, env={})
    assert report.polls == 0


def test_a_killed_daemon_leaves_no_stale_lock(tmp_path: Path) -> None:
    db = tmp_path / "pantau.db"
    (tmp_path / "feeds.toml").write_text("", encoding="utf-8")
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{tmp_path / "feeds.toml"}"\n', encoding="utf-8"
    )
    proc = _pantau("run", "--config", str(config), "--db", str(db))
    lock = daemon_lock_path(db.resolve())
    try:
        wait_while_running(
            proc,
            lambda: lock.exists() and lock.read_text().strip() == str(proc.pid),
            "the daemon holds its lock",
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    again = subprocess.run(
        _cmd("run", "--once", "--config", str(config), "--db", str(db)),
        cwd=ROOT,
        capture_output=True,
        env=ENV,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr.decode()
