from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, serve

pytest_plugins = ["tests.dbfixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _logging_state_is_restored() -> Iterator[None]:
    """``setup_logging`` (called by ``pantau run`` in-process and by the logging tests) sets
    the root logger's handlers and level and quiets httpx: global state that would leak into
    whichever test runs next in the same worker. Every test ends with it as it found it."""
    root, quiet = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = list(root.handlers), root.level, quiet.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)
    quiet.setLevel(httpx_level)


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 with programmable routes."""
    with serve() as server:
        yield server


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found beside the checkout (looked in {SHARED})")
    return SHARED


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject's addopts) spreads the suite over every core; with ``-s`` the
    run stays in one process, so reports printed by tests (the relevance table, the dev set's
    figures) reach the terminal."""
    if config.getoption("capture") == "no":
        return 0
    return None
