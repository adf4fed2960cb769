"""Alerts link to the article as the feed published it: an ``http://`` link is never rewritten
to ``https://`` (the site did not redirect there). A real ``pantau run --once`` against a
loopback news site, alerts written by a JSON-lines channel."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import _register, app
from monitor.demo.sitebuilder import load_corpus
from monitor.paths import default_seeds_dir
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer


def test_alert_links_keep_the_published_http_scheme(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    site = FeedSite(loopback, load_corpus(default_seeds_dir()))
    site.publish(2)
    alerts = tmp_path / "alerts.jsonl"
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(f'[[feed]]\nurl = "{site.url}"\nname = "warta"\n', encoding="utf-8")
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "pantau.db"}"\n'
        "[schedule]\nalert_on_first_poll = true\nextract_workers = 0\n"
        '[[alerts.rules]]\nname = "default"\nchannels = ["file"]\n'
        f'[[alerts.channels]]\nname = "file"\ntype = "jsonl"\npath = "{alerts}"\n',
        encoding="utf-8",
    )
    _register()
    result = CliRunner().invoke(
        app,
        ["run", "--once", "--allow-private", "--config", str(config)],
        env={"PANTAU_CONFIG": None, "PANTAU_DATABASE_URL": None},
    )
    assert result.exit_code == 0, result.output

    published = {r.path for r in site.page_requests()}
    lines = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    for alert in lines:
        assert alert["url"].startswith(loopback.url("/")), alert["url"]  # http, as published
        assert alert["url"][len(loopback.url("")) :] in published
