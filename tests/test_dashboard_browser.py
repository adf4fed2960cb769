"""The dashboard in a real headless Chromium (Debian's ``chromium`` package).

The page must render from the status server alone: seed matches, both SVG charts, the feed
table. A screenshot is written under the test's tmp dir for a person to look at.
"""

from __future__ import annotations

import asyncio
import html
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.web import StatusServer, create_app
from storage.engine import make_engine
from tests.seeded import replay_seeds, seed_titles

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        "headless Chromium not installed (apt-get install chromium); CI installs it",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    db = tmp_path_factory.mktemp("browser") / "pantau.db"
    replay_seeds(db)
    eng = make_engine(f"sqlite:///{db}")
    yield eng
    eng.dispose()


async def chromium(tmp_path: Path, *args: str) -> bytes:
    """Run headless Chromium without blocking the loop the status server runs on."""
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_dashboard_renders_seed_matches_and_charts_in_chromium(
    engine: Engine, tmp_path: Path
) -> None:
    probe = HealthProbe()
    probe.heartbeat("scheduler")
    probe.set_ready()
    app = create_app(engine=engine, metrics=Metrics.create(), health=probe)
    shot = tmp_path / "dashboard.png"
    async with StatusServer(app, port=0) as server:
        url = f"http://127.0.0.1:{server.port}/"
        await chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
        dom = (await chromium(tmp_path, "--dump-dom", url)).decode()

    for title in seed_titles():
        assert html.escape(title, quote=False) in dom, title
    assert dom.count("<svg") == 2
    assert "Matching articles per topic per day" in dom
    assert "Articles per actor" in dom
    assert "<mark>" in dom
    assert "Feed health" in dom and "Warta Pantau (replay)" in dom

    data = shot.read_bytes()
    assert png_size(data) == (1280, 2000)
    # A blank page compresses to a few kB; the rendered dashboard is far richer.
    assert len(data) > 50_000, len(data)
