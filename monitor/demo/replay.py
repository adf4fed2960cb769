"""``pantau replay``: serve a directory of articles as a news site on 127.0.0.1 and run the real
pipeline against it (fetch feed -> parse -> fetch pages -> extract -> dedup -> match -> store ->
alert). The offline demo, and the end-to-end fixture of the test suite.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from monitor.alert import DeliveryReport
from monitor.config import Settings
from monitor.daemon import ArticleOutcome, open_runtime
from monitor.demo.sitebuilder import FEED_PATH, CorpusDoc, build_site, load_corpus
from monitor.demo.siteserver import SiteServer
from monitor.fetch import FEED_TYPES
from monitor.parse import parse_feed
from storage import repo


@dataclass(frozen=True)
class ReplayItem:
    path: Path
    url: str
    outcome: ArticleOutcome


@dataclass
class ReplayReport:
    items: list[ReplayItem] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.outcome.status == status)

    @property
    def alerts(self) -> int:
        return sum(1 for i in self.items if i.outcome.alerted)

    def summary(self) -> dict[str, int]:
        return {
            "stored": self.count("stored"),
            "duplicates": self.count("duplicate"),
            "skipped": self.count("skipped") + self.count("failed"),
            "alerts": self.alerts,
        }


def item_json(item: ReplayItem) -> dict[str, Any]:
    o = item.outcome
    return {
        "path": str(item.path),
        "url": o.canonical_url or item.url,
        "status": "skipped" if o.status == "failed" else o.status,
        "reason": o.reason or None,
        "story": o.story_id,
        "title": o.title,
        "topics": [{"name": t.name, "substantive": t.substantive} for t in o.match.topics],
        "actors": [{"name": a.name, "via": a.via} for a in o.match.actors],
        "alerted": o.alerted,
    }


async def run_replay(
    corpus_dir: Path,
    settings: Settings,
    *,
    alert_stream: TextIO | None = None,
    progress: Callable[[ReplayItem], None] | None = None,
) -> ReplayReport:
    corpus = load_corpus(corpus_dir)
    report = ReplayReport()
    with SiteServer() as server:
        served = server.base_url
        server.site = build_site(corpus, served)

        def public_url(url: str) -> str:
            # Identity uses the corpus's public URLs, whatever port the server got.
            return corpus.base_url + url[len(served) :] if url.startswith(served) else url

        async with AsyncExitStack() as stack:
            # The replayed site lives on 127.0.0.1 by construction: loopback is allowed here.
            rt = await open_runtime(
                settings,
                stack,
                allow_private=True,
                alert_stream=alert_stream,
                public_url=public_url,
            )
            feed_public = corpus.base_url + FEED_PATH
            feed = await rt.storage.transaction(
                functools.partial(
                    repo.get_or_create_feed, url=feed_public, name=f"{corpus.site_name} (replay)"
                )
            )
            feed_id = feed.id
            assert feed_id is not None
            result = await rt.fetcher.fetch(
                served + FEED_PATH, trusted=True, allowed_types=FEED_TYPES
            )
            parsed = parse_feed(
                result.content,
                url=result.final_url,
                content_type=result.headers.get("content-type"),
            )
            unseen = await rt.storage.transaction(
                functools.partial(
                    repo.unseen_entry_ids,
                    feed_id=feed_id,
                    entry_ids=[e.entry_id for e in parsed.entries],
                )
            )
            doc_by_path = {d.url_path: d for d in corpus.docs}
            for entry in parsed.entries:
                doc = _doc_for(entry.link, served, doc_by_path)
                if entry.entry_id in unseen:
                    outcome = await rt.pipeline.process_entry(entry, feed_id=feed_id)
                else:
                    outcome = ArticleOutcome(
                        entry.link,
                        "duplicate",
                        entry.title,
                        public_url(entry.link),
                        "already seen in an earlier run",
                        duplicate_kind="seen",
                    )
                item = ReplayItem(doc.path if doc else Path(entry.link), entry.link, outcome)
                report.items.append(item)
                if progress:
                    progress(item)
            report.delivery = await rt.outbox.deliver_due()
    report.items.sort(key=lambda i: str(i.path))
    return report


def _doc_for(link: str, served: str, docs: dict[str, CorpusDoc]) -> CorpusDoc | None:
    path = link[len(served) :] if link.startswith(served) else link
    return docs.get(path.split("?", 1)[0])
