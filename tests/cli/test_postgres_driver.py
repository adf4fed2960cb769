"""A PostgreSQL URL on an install without the ``postgres`` extra: one clear line naming the
extra, exit 2, from the commands and from ``pantau config check`` (a real interpreter in which
``import psycopg`` fails, as on a plain ``pip install pantau``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs the real entry point with psycopg (and psycopg2) made unimportable.
WITHOUT_DRIVER = """
import sys

class _NoDriver:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg2", "psycopg_binary", "psycopg_c"):
            raise ImportError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoDriver())
sys.argv = ["pantau", *sys.argv[1:]]
from monitor.cli import main
main()
"""


def pantau_without_driver(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    env["PANTAU_DATABASE_URL"] = "postgresql://pantau:s3cret@127.0.0.1:5432/pantau"
    env["PANTAU_DATA_DIR"] = str(tmp_path)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DRIVER, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["run", "--once"], ["config", "check"], ["status"]])
def test_a_postgres_url_without_the_driver_is_one_line_naming_the_extra(
    tmp_path: Path, command: list[str]
) -> None:
    result = pantau_without_driver(tmp_path, *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "pip install 'pantau[postgres]'" in errors[0]
    assert "s3cret" not in result.stderr
    assert "configuration is valid" not in result.stdout
