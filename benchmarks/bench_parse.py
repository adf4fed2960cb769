"""Item 7: feed parsing -- what Pantau's gates cost on top of feedparser, on real-world feeds.

Feeds: the eight real Indonesian feeds of ``../shared/corpus/feeds/indonesian`` (RSS 0.91 and
2.0, feedsportal, mojibake, a 200 KB feed with full HTML descriptions) plus feeds generated
from the benchmark corpus: the replay site's RSS (``monitor.demo.sitebuilder.render_feed``), a
WordPress RSS with ``content:encoded`` bodies, and an Atom feed.

Arms, interleaved feed by feed (order rotates between rounds): ``feedparser.parse`` on the
bytes, and Pantau's ``monitor.parse.feed.parse_feed`` (decoding, XML safety gate, feedparser,
entry building). A fastfeedparser fast path was measured and removed: parsing is ~3 % of a
polling cycle's CPU (benchmark 3) and the fast path saved under 2 % of the cycle.
"""

from __future__ import annotations

import html
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import feedparser

from benchmarks.common import Figure, Mode, Result, cpu, median, rounds_for
from benchmarks.corpus import SHARED_ARTICLES, ArticleText, article_texts
from monitor.demo.sitebuilder import Corpus, CorpusDoc, render_feed
from monitor.parse.feed import parse_feed

ITEM = "7 feed parsing"
FEEDS_DIR = SHARED_ARTICLES.parent / "feeds" / "indonesian"
REPEAT = {"full": 8, "quick": 3, "tiny": 1}


@dataclass(frozen=True)
class SampleFeed:
    name: str
    url: str
    content: bytes
    content_type: str


def _corpus_rss(texts: Sequence[ArticleText]) -> bytes:
    from pathlib import Path

    docs = tuple(
        CorpusDoc(
            Path(f"{i}.txt"),
            "txt",
            t.title,
            t.paragraphs,
            t.published,
            f"https://warta.pantau.example/internasional/{i}",
            "warta.pantau.example",
        )
        for i, t in enumerate(texts)
    )
    corpus = Corpus("Warta Pantau", "https://warta.pantau.example", docs)
    return render_feed(corpus, lambda p: "https://warta.pantau.example" + p).encode("utf-8")


def _wordpress_rss(texts: Sequence[ArticleText]) -> bytes:
    items = "".join(
        f"""<item><title>{html.escape(t.title)}</title>
<link>https://catatandiplomasi.example/{i}/</link>
<dc:creator><![CDATA[Redaksi]]></dc:creator>
<pubDate>{format_datetime(t.published)}</pubDate><category><![CDATA[Dunia]]></category>
<guid isPermaLink="false">https://catatandiplomasi.example/?p={1000 + i}</guid>
<description><![CDATA[{t.paragraphs[0][:300]} [&#8230;]]]></description>
<content:encoded><![CDATA[{"".join(f"<p>{html.escape(p)}</p>" for p in t.paragraphs)}]]>
</content:encoded></item>"""
        for i, t in enumerate(texts)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>Catatan Diplomasi</title><link>https://catatandiplomasi.example</link>
<description>Opini</description><language>id-ID</language>
<atom:link href="https://catatandiplomasi.example/feed/" rel="self" type="application/rss+xml"/>
{items}</channel></rss>""".encode()


def _atom(texts: Sequence[ArticleText]) -> bytes:
    entries = "".join(
        f"""<entry><title type="html">{html.escape(t.title)}</title>
<link rel="alternate" type="text/html" href="https://news.suaradunia.example/a/{i}"/>
<id>tag:suaradunia.example,2025:{i}</id><published>{t.published.isoformat()}</published>
<updated>{(t.published + timedelta(minutes=5)).isoformat()}</updated>
<author><name>Suara Dunia</name></author>
<summary type="html">{html.escape(t.paragraphs[0][:400])}</summary></entry>"""
        for i, t in enumerate(texts)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Suara Dunia</title>
<link href="https://news.suaradunia.example/"/><updated>2025-06-01T00:00:00Z</updated>
<id>tag:suaradunia.example,2025:feed</id>{entries}</feed>""".encode()


def feeds() -> list[SampleFeed]:
    out = [
        SampleFeed(p.stem, f"https://feeds.example/{p.name}", p.read_bytes(), "application/rss+xml")
        for p in sorted(FEEDS_DIR.glob("*.xml"))
    ]
    texts = article_texts(60)
    out += [
        SampleFeed(
            "generated_portal_rss",
            "https://warta.pantau.example/rss.xml",
            _corpus_rss(texts[:50]),
            "application/rss+xml; charset=utf-8",
        ),
        SampleFeed(
            "generated_wordpress_content_encoded",
            "https://catatandiplomasi.example/feed/",
            _wordpress_rss(texts[:20]),
            "application/rss+xml; charset=UTF-8",
        ),
        SampleFeed(
            "generated_atom",
            "https://news.suaradunia.example/atom.xml",
            _atom(texts[:60]),
            "application/atom+xml",
        ),
    ]
    return out


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    samples = feeds()
    arms: dict[str, Callable[[SampleFeed], Any]] = {
        "feedparser": lambda f: feedparser.parse(f.content),
        "parse_feed": lambda f: parse_feed(f.content, url=f.url, content_type=f.content_type),
    }
    names = list(arms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in samples:  # warm
            for arm in arms.values():
                arm(f)
        rounds = []
        for r in range(rounds_for(mode, 3, 2)):
            spent = dict.fromkeys(names, 0.0)
            order = names[r % len(names) :] + names[: r % len(names)]
            for _ in range(REPEAT[mode]):
                for f in samples:
                    for name in order:
                        t0 = cpu()
                        arms[name](f)
                        spent[name] += cpu() - t0
            rounds.append(spent)
    n = len(samples) * REPEAT[mode]
    mb = sum(len(f.content) for f in samples) * REPEAT[mode] / 1e6
    rate = {name: n / median([r[name] for r in rounds]) for name in names}
    figures = [
        Figure(ITEM, "feedparser.parse", rate["feedparser"], "feeds/s"),
        Figure(ITEM, "Pantau parse_feed (feedparser + gates)", rate["parse_feed"], "feeds/s"),
    ]
    details = {
        "feeds": {f.name: len(f.content) for f in samples},
        "mb_per_round": round(mb, 3),
        "rounds_cpu_s": rounds,
        "ms_per_feed": {k: round(1000 / v, 3) for k, v in rate.items()},
    }
    return Result("parse", figures, details, time.perf_counter() - started)
