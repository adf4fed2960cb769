"""A new SQLite database (and its -wal and -shm files) is readable by its owner only, whatever
the umask: it holds every article, alert and feed the desk watches."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import create_schema, make_engine


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "data" / "pantau.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        create_schema(engine)
        with engine.connect() as conn:  # an open connection keeps -wal and -shm in place
            conn.execute(
                text(
                    "INSERT INTO events (type, payload, created_at) VALUES ('x', '{}', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            conn.commit()
            files = [db, db.with_name("pantau.db-wal"), db.with_name("pantau.db-shm")]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    finally:
        engine.dispose()
    assert modes == {f.name: 0o600 for f in files}
    # A file that already exists keeps the mode its owner gave it (shared with a group on purpose).
    shared = tmp_path / "shared.db"
    shared.touch()
    shared.chmod(0o640)
    engine = make_engine(f"sqlite:///{shared}")
    try:
        create_schema(engine)
    finally:
        engine.dispose()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
