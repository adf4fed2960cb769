"""The CPU-bound part of one entry as ONE pure function: page -> :class:`Analysis`.

Extraction, furniture removal, URL canonicalisation, matching and the dedup fingerprint need
nothing but the page and the entry, so they run together wherever the pipeline sends them: in a
worker process (:mod:`monitor.daemon.workers`) or, for ``pantau replay`` and tests, in-process.
Everything here crosses a process boundary by pickling: the job and the result are frozen
dataclasses of plain values, and what a worker loads once (the matcher) is described by
:class:`WorkerSpec`, settings values only, never live objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.daemon.feedjob import ParseTask, parse_job
from monitor.dedup import DedupConfig, Fingerprint, canonicalize_url, fingerprint
from monitor.extract import extract_article, strip_furniture
from monitor.match import Lexicon, Matcher, load_relevance_model
from monitor.models import ExtractedArticle, MatchResult


def identity(url: str) -> str:
    return url


@dataclass(frozen=True)
class PageJob:
    """One fetched page and the fields of its feed entry.

    ``public_url`` maps a fetched URL to the one identity is based on (``pantau replay`` maps
    its loopback site to the corpus's URLs); for a worker process it must be a module-level
    function (pickled by name). ``now``: the date matching falls back on when neither the
    entry nor the page has one."""

    content: bytes
    url: str  # the page's final URL, after redirects
    content_type: str | None
    entry_title: str
    entry_published: datetime | None
    now: datetime
    public_url: Callable[[str], str] = identity


@dataclass(frozen=True)
class Analysis:
    """What the pure stages made of one page."""

    article: ExtractedArticle
    canonical_url: str
    title: str
    body: str  # furniture removed
    published: datetime  # entry's, else the page's, else the job's ``now``
    match: MatchResult
    fingerprint: Fingerprint


def analyse(job: PageJob, matcher: Matcher, dedup: DedupConfig) -> Analysis:
    """Extract, clean, canonicalise, match and fingerprint one page. Raises ExtractError."""
    extracted = extract_article(
        job.content,
        job.url,
        content_type=job.content_type,
        with_date=job.entry_published is None,  # the page's own date only when needed
    )
    page_canonical = job.public_url(extracted.canonical_url) if extracted.canonical_url else None
    canonical = canonicalize_url(job.public_url(job.url), page_canonical=page_canonical)
    title = job.entry_title or extracted.title
    body = strip_furniture(extracted.body)
    published = job.entry_published or extracted.published or job.now
    return Analysis(
        article=extracted,
        canonical_url=canonical,
        title=title,
        body=body,
        published=published,
        match=matcher.match(title, body, published),
        fingerprint=fingerprint(body, num_perm=dedup.num_perm, shingle=dedup.shingle),
    )


Task = Callable[[PageJob, Matcher, DedupConfig], Analysis]


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process loads once when it starts (its initializer), as settings values:
    the lexicon folder and relevance model choice the matcher is built from, the dedup
    settings the fingerprint uses, and the tasks it runs for pages and for feeds (module-level,
    pickled by name; tests substitute them)."""

    lexicon_dir: Path
    relevance_model: str
    dedup: DedupConfig
    task: Task = analyse
    parse: ParseTask = parse_job  # feed parsing (monitor.daemon.feedjob)

    def load_matcher(self) -> Matcher:
        return Matcher(Lexicon.load(self.lexicon_dir), load_relevance_model(self.relevance_model))
