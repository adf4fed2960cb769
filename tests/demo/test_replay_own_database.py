"""``pantau replay`` (the README's first command) leaves nothing for the daemon: its demo feed
is never polled by a later ``pantau run`` on the same configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from monitor.cli import _register, app
from tests.loopback import LoopbackServer, Response

DEMO_HOST = "warta.pantau.example"
EMPTY_FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def pantau(*args: str, config: Path) -> Result:
    _register()
    env = {"PANTAU_CONFIG": str(config), "PANTAU_DATABASE_URL": None}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.slow
def test_after_the_readme_replay_the_daemon_never_polls_the_demo_feed(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    loopback.route("/rss", Response(200, EMPTY_FEED, {"content-type": "application/rss+xml"}))
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(f'[[feed]]\nurl = "{loopback.url("/rss")}"\nname = "lokal"\n')
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "pantau.db"}"\n',
        encoding="utf-8",
    )

    replayed = pantau("replay", config=config)  # the README's first command, as typed
    assert replayed.exit_code == 0, replayed.output
    assert "5 stored" in " ".join(replayed.stdout.split())

    listed = pantau("feeds", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.output
    urls = [json.loads(line)["url"] for line in listed.stdout.splitlines() if line.strip()]
    assert urls == [loopback.url("/rss")]

    ran = pantau("run", "--once", "--allow-private", config=config)
    assert ran.exit_code == 0, ran.output
    assert "1 feed(s) polled: 1 ok" in ran.stderr
    assert DEMO_HOST not in ran.stderr

    # A second replay still finds its own earlier run: nothing new stored or alerted.
    again = pantau("replay", "--json", config=config)
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout.strip().splitlines()[-1])["summary"]
    assert summary["stored"] == 0 and summary["alerts"] == 0
