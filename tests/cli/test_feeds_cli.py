"""``pantau feeds``: managing the feed list and vetting a feed before adding it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import monitor.cli.feeds  # noqa: F401  (registers the command group)
from monitor.cli import app
from monitor.demo.sitebuilder import load_corpus
from monitor.paths import default_seeds_dir
from storage.engine import make_engine, session_scope
from storage.tables import Feed
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer, Response

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(
        '[[feed]]\nurl = "https://www.antaranews.com/rss/dunia"\nname = "ANTARA - Dunia"\n',
        encoding="utf-8",
    )
    path = tmp_path / "pantau.toml"
    path.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "pantau.db"}"\n',
        encoding="utf-8",
    )
    return path


def pantau(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    # Rich wraps long error lines at the terminal width: compare words, not line breaks.
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def listed(config: Path) -> dict[str, dict[str, object]]:
    code, out, err = pantau("feeds", "list", "--json", "--config", str(config))
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {str(r["url"]): r for r in rows}


def test_add_list_remove_round_trip(config: Path) -> None:
    code, out, _ = pantau(
        "feeds",
        "add",
        "https://rss.tempo.co/dunia",
        "--name",
        "Tempo Dunia",
        "--interval",
        "300",
        "--config",
        str(config),
    )
    assert code == 0 and "added" in out
    code, out, _ = pantau("feeds", "add", "https://rss.tempo.co/dunia", "--config", str(config))
    assert code == 0 and "already watched" in out
    feeds = listed(config)
    assert set(feeds) == {"https://www.antaranews.com/rss/dunia", "https://rss.tempo.co/dunia"}
    tempo = feeds["https://rss.tempo.co/dunia"]
    assert tempo["name"] == "Tempo Dunia" and tempo["interval_seconds"] == 300
    assert (tempo["status"], tempo["failures"], tempo["last_poll"]) == ("healthy", 0, None)
    assert str(tempo["next_poll"]).endswith("Z")
    code, out, _ = pantau("feeds", "remove", "https://rss.tempo.co/dunia", "--config", str(config))
    assert code == 0
    assert "https://rss.tempo.co/dunia" not in listed(config)


def test_removing_a_feed_from_the_feeds_file_is_refused_with_directions(config: Path) -> None:
    code, _, err = pantau(
        "feeds", "remove", "https://www.antaranews.com/rss/dunia", "--config", str(config)
    )
    assert code == 2
    assert "feeds.toml" in err and "enabled = false" in err


def test_adding_a_non_http_url_is_refused(config: Path) -> None:
    code, _, err = pantau("feeds", "add", "file:///etc/passwd", "--config", str(config))
    assert code == 2 and "not an absolute http(s) URL" in err


def test_list_reports_unhealthy_and_retired_feeds_with_their_reasons(config: Path) -> None:
    listed(config)  # syncs the feeds file in
    pantau("feeds", "add", "https://gone.example/rss", "--config", str(config))
    engine = make_engine(f"sqlite:///{config.parent / 'pantau.db'}")
    with session_scope(engine) as session:
        for feed in session.exec(select(Feed)).all():
            if "antaranews" in feed.url:
                feed.healthy, feed.consecutive_failures = False, 4
                feed.unhealthy_reason = "failed 4 times in a row: HTTP 500"
                feed.last_error = "HTTP 500"
                feed.last_polled_at = datetime(2026, 3, 1, 1, 2, 3, tzinfo=UTC)
            else:
                feed.retired, feed.healthy = True, False
    engine.dispose()
    feeds = listed(config)
    antara = feeds["https://www.antaranews.com/rss/dunia"]
    assert (antara["status"], antara["failures"]) == ("unhealthy", 4)
    assert "HTTP 500" in str(antara["reason"])
    assert antara["last_poll"] == "2026-03-01T01:02:03Z"
    gone = feeds["https://gone.example/rss"]
    assert (gone["status"], gone["next_poll"]) == ("retired", None)
    code, out, _ = pantau("feeds", "list", "--config", str(config))
    assert code == 0 and "unhealthy" in out and "retired" in out


def test_adding_a_retired_feed_again_brings_it_back_healthy_and_due(config: Path) -> None:
    pantau("feeds", "add", "https://gone.example/rss", "--config", str(config))
    engine = make_engine(f"sqlite:///{config.parent / 'pantau.db'}")
    with session_scope(engine) as session:
        feed = session.exec(select(Feed).where(Feed.url == "https://gone.example/rss")).one()
        feed.retired, feed.healthy = True, False
        feed.unhealthy_reason = "retired: the server answered 410 Gone"
        feed.next_poll_at = datetime(2020, 1, 1, tzinfo=UTC)
    before = datetime.now(UTC)
    code, out, _ = pantau("feeds", "add", "https://gone.example/rss", "--config", str(config))
    assert code == 0 and "added" in out
    with session_scope(engine) as session:
        feed = session.exec(select(Feed).where(Feed.url == "https://gone.example/rss")).one()
        assert (feed.retired, feed.healthy, feed.unhealthy_reason) == (False, True, None)
        assert feed.next_poll_at >= before
    engine.dispose()
    assert listed(config)["https://gone.example/rss"]["status"] == "healthy"


def test_opml_import_then_export_round_trips(config: Path, tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="ID">'
        '<outline text="CNN Indonesia" xmlUrl="https://www.cnnindonesia.com/internasional/rss"/>'
        '<outline text="ANTARA" xmlUrl="https://www.antaranews.com/rss/dunia"/>'
        "</outline></body></opml>",
        encoding="utf-8",
    )
    code, out, _ = pantau("feeds", "import-opml", str(opml), "--config", str(config))
    assert code == 0 and "2 feeds, 1 added, 1 already watched" in out
    exported = tmp_path / "out.opml"
    code, _, _ = pantau("feeds", "export-opml", str(exported), "--config", str(config))
    assert code == 0
    text = exported.read_text(encoding="utf-8")
    assert 'xmlUrl="https://www.cnnindonesia.com/internasional/rss"' in text
    assert 'xmlUrl="https://www.antaranews.com/rss/dunia"' in text


def test_opml_with_entities_is_refused_without_traceback(config: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil.opml"
    evil.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>', encoding="utf-8")
    code, _, err = pantau("feeds", "import-opml", str(evil), "--config", str(config))
    assert code == 2 and "DOCTYPE or entities" in err and "Traceback" not in err


def test_invalid_feeds_file_names_the_file_and_the_entry(config: Path) -> None:
    (config.parent / "feeds.toml").write_text('[[feed]]\nname = "no url"\n', encoding="utf-8")
    code, _, err = pantau("feeds", "list", "--config", str(config))
    assert code == 2 and "feeds.toml: feed[0]: url: required" in err


# --- check ----------------------------------------------------------------------------------


def test_check_prints_entries_in_utc_and_stores_nothing(
    config: Path, loopback: LoopbackServer
) -> None:
    site = FeedSite(loopback, load_corpus(default_seeds_dir()))
    site.publish(5)
    code, out, err = pantau("feeds", "check", site.url, "--json", "--config", str(config))
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == 200 and report["ttl_minutes"] == 10
    assert report["title"].startswith("Warta Pantau")
    assert report["entry_count"] == 5
    by_title = {e["title"]: e for e in report["entries"]}
    chat = by_title["Chat Sekjen NATO Bocor ke Publik: Manuver Politik Trump Picu Kontroversi"]
    assert chat["published"] == "2026-02-02T03:15:00Z"  # 10:15 WIB
    assert chat["id"] and chat["link"].startswith(loopback.url("/"))
    assert not (config.parent / "pantau.db").exists()


def test_check_explains_an_html_page_instead_of_a_feed(
    config: Path, loopback: LoopbackServer
) -> None:
    loopback.route(
        "/news", Response(200, b"<html><body>hi</body></html>", {"content-type": "application/xml"})
    )
    code, _, err = pantau("feeds", "check", loopback.url("/news"), "--config", str(config))
    assert code == 2 and "not a feed" in err and "Traceback" not in err


def test_check_reports_an_http_error_clearly(config: Path, loopback: LoopbackServer) -> None:
    loopback.route("/gone.xml", Response(410, b"gone"))
    code, _, err = pantau("feeds", "check", loopback.url("/gone.xml"), "--config", str(config))
    assert code == 2 and "410" in err
