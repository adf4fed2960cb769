"""Shared builders for tests: settings, and waiting for a condition without fixed sleeps.

``settings(db, **overrides)`` is the one settings builder: a database URL (or a SQLite file path)
plus nested overrides merged section by section, validated exactly as ``pantau`` validates a
configuration file. ``wait_until`` / ``await_until`` poll a condition with a deadline and say
what was awaited when it is not reached.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from monitor.config import Settings, load_settings


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``; tables (dicts) merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def db_url(db: str | Path) -> str:
    """A database URL, or a SQLite URL for a file path."""
    return db if isinstance(db, str) and "://" in db else f"sqlite:///{db}"


def settings(db: str | Path, **overrides: Any) -> Settings:
    """Validated settings on the database ``db`` with ``overrides`` merged in."""
    return load_settings(
        None, env={}, overrides=merge({"database": {"url": db_url(db)}}, overrides)
    )


def daemon_settings(tmp_path: Path, *, db: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings for a daemon under test: data and feeds file in ``tmp_path``, quick polling."""
    feeds_file = tmp_path / "feeds.toml"
    if not feeds_file.exists():
        feeds_file.write_text("", encoding="utf-8")
    base = {
        "data_dir": str(tmp_path),
        "feeds_file": str(feeds_file),
        "fetch": {"total_timeout": 5.0},
    }
    return settings(db or tmp_path / "pantau.db", **merge(base, overrides))


def wait_until(
    condition: Callable[[], bool], what: str, *, timeout: float = 20.0, every: float = 0.05
) -> None:
    """Block until ``condition()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        time.sleep(every)


async def await_until(
    condition: Callable[[], bool], what: str, *, timeout: float = 20.0, every: float = 0.05
) -> None:
    """``wait_until`` for coroutines: the event loop keeps turning while it waits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        await asyncio.sleep(every)


def wait_while_running(
    proc: subprocess.Popen[bytes], condition: Callable[[], bool], what: str, *, timeout: float = 60
) -> None:
    """``wait_until`` for a condition a child process brings about: if the process exits first,
    fail with its stderr rather than waiting out the deadline."""

    def reached() -> bool:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(
                f"the process exited ({proc.returncode}) before {what}:\n"
                + (err or b"").decode(errors="replace")
            )
        return condition()

    wait_until(reached, what, timeout=timeout)


def write_feeds_file(path: Path, urls: list[str]) -> None:
    path.write_text(
        "".join(f'[[feed]]\nurl = "{u}"\nname = "feed {i}"\n\n' for i, u in enumerate(urls)),
        encoding="utf-8",
    )


def polling_settings(tmp_path: Path, *, db_url: str | None = None, **schedule: Any) -> Settings:
    """Fast-polling settings; the database is a SQLite file in ``tmp_path`` unless ``db_url``."""
    fast = {
        "default_interval": 1.0,
        "min_interval": 0.2,
        "max_interval": 60.0,
        "jitter": 0.0,
        "backoff_base": 1.0,
        "backoff_max": 60.0,
        "unhealthy_after_failures": 3,
        "per_host_delay": 0.0,
        "tick": 0.1,
        "grace_period": 2.0,
    }
    return daemon_settings(tmp_path, db=db_url, schedule={**fast, **schedule})
