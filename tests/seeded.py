"""A database holding the seed corpus, made by replaying it through the real pipeline."""

from __future__ import annotations

import asyncio
import io
import shutil
import tomllib
from pathlib import Path
from typing import Any

from monitor.demo.replay import ReplayReport, run_replay
from monitor.paths import default_seeds_dir
from tests import factories

SEED_MANIFEST = default_seeds_dir() / "manifest.toml"


def seed_titles() -> list[str]:
    with SEED_MANIFEST.open("rb") as fh:
        return [a["title"] for a in tomllib.load(fh)["article"]]


def replay_seeds(db: Path, **overrides: Any) -> ReplayReport:
    """Replay the five seeds into the SQLite file ``db`` (settings ``overrides`` merged in)."""
    report = asyncio.run(
        run_replay(
            default_seeds_dir(), factories.settings(db, **overrides), alert_stream=io.StringIO()
        )
    )
    assert report.summary()["stored"] == 5, report.summary()
    return report


def copy_db(src: Path, dest_dir: Path) -> Path:
    """A private copy of a SQLite database (with its WAL, if any) for a test that writes."""
    dest = dest_dir / src.name
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{src}{suffix}")
        if part.exists():
            shutil.copyfile(part, Path(f"{dest}{suffix}"))
    return dest
