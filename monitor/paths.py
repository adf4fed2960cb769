"""Where Pantau finds its packaged defaults and keeps its data."""

from __future__ import annotations

import os
from pathlib import Path

import monitor

_PACKAGE = Path(monitor.__file__).resolve().parent


def _packaged_or_repo(name: str) -> Path:
    # A wheel carries config/ and seeds/ under monitor/_defaults; a checkout has them at the top.
    packaged = _PACKAGE / "_defaults" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


def default_config_dir() -> Path:
    """The directory holding the default pantau.toml, feeds.toml and lexicons."""
    return _packaged_or_repo("config")


def default_seeds_dir() -> Path:
    """The seed corpus replayed by ``pantau replay`` when no directory is given."""
    return _packaged_or_repo("seeds")


def default_data_dir() -> Path:
    """$STATE_DIRECTORY under systemd, else $XDG_DATA_HOME/pantau, else ~/.local/share/pantau."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "pantau"


def default_relevance_corpus() -> Path:
    """The labelled relevance corpus of a source checkout (not shipped in the wheel)."""
    return _PACKAGE.parent / "tests" / "data" / "relevance" / "corpus.jsonl"
