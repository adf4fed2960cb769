"""Snippets quote the article body, not its headline, and an actor named in the headline is
counted once, also where the page repeats the headline as the body's first line (the seed
pages do, like many portals). Real matcher, real extraction of the replay site's pages, a real
replayed database for the dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.alert.email import alert_html
from monitor.alert.message import AlertMessage, actor_label, alert_text
from monitor.alert.outbox import alert_payload, match_from_payload
from monitor.alert.slack import alert_blocks
from monitor.demo.sitebuilder import build_site, load_corpus
from monitor.extract import extract_article, strip_furniture
from monitor.match import Lexicon, Matcher, load_relevance_model
from monitor.parse import decode_html
from monitor.paths import default_config_dir, default_seeds_dir
from monitor.timeofday import WIB
from monitor.web.dashboard import latest_section
from storage import overview
from storage.engine import make_engine, session_scope
from tests.seeded import replay_seeds

SITE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(Lexicon.load(default_config_dir()), load_relevance_model("bundled"))


def seed_page(title_start: str) -> tuple[str, str]:
    """(title, body) of a seed article as the pipeline extracts it from the replay site."""
    corpus = load_corpus(default_seeds_dir())
    site = build_site(corpus, SITE)
    doc = next(d for d in corpus.docs if d.title.startswith(title_start))
    _, page = site.pages[doc.url_path]
    raw = page if isinstance(page, bytes) else page.encode("utf-8")
    article = extract_article(decode_html(raw), SITE + doc.url_path)
    return doc.title, strip_furniture(article.body)


def alert_for(matcher: Matcher, title: str, body: str) -> AlertMessage:
    """The alert as a channel gets it: through the outbox payload, as the daemon stores it."""
    payload = alert_payload(
        rule="default", title=title, url=SITE, source="warta", published=None,
        match=matcher.match(title, body, None),
    )  # fmt: skip
    match = match_from_payload(payload)
    return AlertMessage(1, 1, "default", title, SITE, "warta", None, match.topics, match.actors)


def quotes_headline(text: str, title: str) -> bool:
    return " ".join(title.split())[:40] in " ".join(text.split())


def test_alert_snippets_quote_the_body_and_the_headline_counts_once(matcher: Matcher) -> None:
    title, body = seed_page("Chat Sekjen NATO")
    assert body.startswith(title)  # the page repeats its headline: the case that misled
    message = alert_for(matcher, title, body)

    plain = alert_text(message)
    quotes = [line for line in plain.splitlines() if line.startswith("  “")]
    assert quotes and not any(quotes_headline(q, title) for q in quotes), quotes
    html = alert_html(message)
    blockquotes = re.findall(r"<blockquote>(.*?)</blockquote>", html)
    unquoted = [re.sub("<[^>]+>", "", q) for q in blockquotes]
    assert unquoted and not any(quotes_headline(q, title) for q in unquoted)
    slack = [b["text"]["text"] for b in alert_blocks(message) if "text" in b]
    slack_quotes = [line for text in slack for line in text.splitlines() if line.startswith(">")]
    plain_quotes = [re.sub(r"[*_~]", "", q) for q in slack_quotes]
    assert slack_quotes and not any(quotes_headline(q, title) for q in plain_quotes)

    # The count an analyst sees is the headline once plus the body without its repetition.
    once = matcher.match(title, body[len(title) :], None)
    for actor in message.actors:
        expected = next(a.count for a in once.actors if a.name == actor.name)
        label = actor_label(actor, message.title)
        assert (f"{expected}×" in label) if expected > 1 else "×" not in label, label
        assert f"{expected}×" in plain or expected == 1
    rutte = next(a for a in message.actors if a.name == "Mark Rutte")
    assert rutte.count == next(a.count for a in once.actors if a.name == "Mark Rutte") + 1


@pytest.mark.slow
def test_dashboard_snippets_quote_the_body(tmp_path: Path) -> None:
    db = tmp_path / "pantau.db"
    replay_seeds(db)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with session_scope(engine) as session:
            articles = overview.latest_matches(session, limit=20)
    finally:
        engine.dispose()
    assert len(articles) == 5
    for article in articles:
        html = latest_section([article], WIB)
        items = re.findall(r"<li>(.*?)</li>", html)
        texts = [re.sub("<[^>]+>", "", i) for i in items]
        assert not any(quotes_headline(t, article.title) for t in texts), (article.title, texts)
