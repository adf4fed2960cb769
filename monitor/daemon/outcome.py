"""What happened to one feed entry (:class:`ArticleOutcome`): the pipeline's and the store's
answer, which replay and the daemon report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from monitor.dedup import DedupVerdict
from monitor.models import FeedEntry, MatchResult

Status = Literal["stored", "duplicate", "skipped", "failed"]


@dataclass(frozen=True)
class ArticleOutcome:
    """What happened to one feed entry; replay and the daemon report these."""

    url: str
    status: Status
    title: str = ""
    canonical_url: str = ""
    reason: str = ""
    article_id: int | None = None
    story_id: int | None = None
    match: MatchResult = field(default_factory=MatchResult)
    alerted: bool = False
    duplicate_kind: str | None = None
    retry: bool = False  # transient failure: the entry stays unseen and is tried next poll
    follow_up: bool = False  # a copy that raised a follow-up alert (new tracked actors)
    storage_error: bool = False  # it failed because the database could not take it


def same_url(
    entry: FeedEntry,
    title: str,
    canonical: str,
    reason: str,
    verdict: DedupVerdict | None = None,
) -> ArticleOutcome:
    """The outcome for an entry whose canonical URL is already stored."""
    return ArticleOutcome(
        entry.link,
        "duplicate",
        title,
        canonical,
        reason,
        article_id=verdict.article_id if verdict else None,
        story_id=verdict.story_id if verdict else None,
        duplicate_kind="same_url",
    )
