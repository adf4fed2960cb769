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


@pytest.mark.slow
async def test_running_daemon_serves_health_metrics_and_a_dashboard_chromium_renders(
    tmp_path: Path,
) -> None:
    """Issue 8's acceptance: the daemon itself, status server on, seeds polled from a site."""
    import socket

    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    from sqlmodel import select

    from monitor.config import load_settings
    from monitor.daemon.service import run_daemon
    from monitor.demo.sitebuilder import FEED_PATH, build_site, load_corpus
    from monitor.demo.siteserver import SiteServer
    from monitor.paths import default_seeds_dir
    from storage.engine import session_scope
    from storage.tables import ArticleRow
    from tests.factories import write_feeds_file

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    corpus = load_corpus(default_seeds_dir())
    with SiteServer() as site:
        site.site = build_site(corpus, site.base_url)
        feeds = tmp_path / "feeds.toml"
        write_feeds_file(feeds, [site.base_url + FEED_PATH])
        db = tmp_path / "daemon.db"
        settings = load_settings(
            None,
            env={},
            overrides={
                "data_dir": str(tmp_path),
                "feeds_file": str(feeds),
                "database": {"url": f"sqlite:///{db}"},
                "schedule": {"tick": 0.2, "jitter": 0.0, "grace_period": 1.0},
                "status": {"enabled": True, "port": port},
            },
        )
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_daemon(settings, stop=stop, allow_private=True, env={}, handle_signals=False)
        )
        base = f"http://127.0.0.1:{port}"
        shot = tmp_path / "daemon-dashboard.png"
        try:
            engine = make_engine(f"sqlite:///{db}")
            for _ in range(300):
                await asyncio.sleep(0.1)
                assert not task.done(), task
                if db.exists():
                    try:
                        with session_scope(engine) as session:
                            if len(session.exec(select(ArticleRow)).all()) == 5:
                                break
                    except Exception:  # tables not created yet
                        continue
            else:
                raise AssertionError("the daemon did not store the five seed articles")
            async with httpx.AsyncClient(timeout=10) as client:
                health = await client.get(base + "/healthz")
                metrics_text = (await client.get(base + "/metrics")).text
            await chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", base + "/")
            dom = (await chromium(tmp_path, "--dump-dom", base + "/")).decode()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    assert health.status_code == 200, health.text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
    }
    assert samples[("pantau_articles_stored_total", ())] == 5
    assert samples[("pantau_polls_total", (("status", "ok"),))] >= 1
    for title in seed_titles():
        assert html.escape(title, quote=False) in dom, title
    assert dom.count("<svg") == 2 and "<mark>" in dom
    assert "/events/live.js" in dom  # the page follows /events live
    assert png_size(shot.read_bytes()) == (1280, 2000)
