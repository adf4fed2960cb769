"""Shared set-up for the daemon benchmarks (items 3 and 8): the loopback site and settings."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.corpus import ROOT
from monitor.config import Settings, load_settings
from storage.tables import Feed, SeenEntry


@contextlib.contextmanager
def loop_site(prerender: Sequence[int] = (), lifetime: float = 600.0) -> Iterator[str]:
    """Start ``benchmarks.loopsite`` in a subprocess; yield its base URL; stop it."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.loopsite",
        "--lifetime",
        str(lifetime),
        "--prerender",
        ",".join(map(str, prerender)),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"loopback site did not start: {line!r}")
        yield line.split(" ", 1)[1].strip()
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()


def write_feeds_file(path: Path, urls: Sequence[str]) -> Path:
    path.write_text(
        "".join(f'[[feed]]\nurl = "{u}"\nname = "Feed {i}"\n\n' for i, u in enumerate(urls)),
        encoding="utf-8",
    )
    return path


def daemon_settings(
    tmp: Path, feeds_file: Path, schedule: dict[str, Any], channel: dict[str, Any]
) -> Settings:
    return load_settings(
        None,
        env={},
        overrides={
            "data_dir": str(tmp),
            "feeds_file": str(feeds_file),
            "database": {"url": f"sqlite:///{tmp / 'pantau.db'}"},
            "schedule": schedule,
            "alerts": {
                "channels": [{"name": "bench", **channel}],
                "rules": [
                    {
                        "name": "default",
                        "topics": ["nato", "ukraine", "us_russia"],
                        "require_actor": True,
                        "require_substantive": True,
                        "channels": ["bench"],
                    }
                ],
            },
        },
    )


def known_feed(url: str, name: str, **state: Any) -> Feed:
    """A feed row as a running daemon leaves it: polled before, first poll done."""
    return Feed(url=url, name=name, initial_poll_done=True, polls=1, **state)


def seen(feed_id: int, entry_ids: Sequence[str]) -> list[SeenEntry]:
    return [SeenEntry(feed_id=feed_id, entry_id=e, link="") for e in entry_ids]
