"""The story decision as a pure function: new story or copy, which alerts, which events.

No database, no network: plain verdicts and matches in, an ``ArticleIntent`` out. The same
decisions through the real pipeline are in test_stories.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from monitor import events
from monitor.alert.rules import AlertRule, matching_rules
from monitor.daemon.story import Candidate, StorySoFar, decide_story, story_to_read
from monitor.dedup.index import DedupVerdict, VerdictKind, body_hash, signature
from monitor.models import ActorMention, FeedEntry, MatchResult, Span, TermHit, TopicScore
from storage.repo import ArticleIntent, NewSeenEntry, StoredArticle

AT = datetime(2024, 10, 1, 3, 15, tzinfo=UTC)
ORIGINAL = (
    "Mark Rutte resmi menggantikan Jens Stoltenberg sebagai Sekretaris Jenderal NATO.\n\n"
    "Serah terima jabatan berlangsung di markas besar NATO di Brussel, Belgia."
)
ADDED = (
    "Menteri Luar Negeri Rusia Sergei Lavrov menanggapi pergantian itu dengan menyebut bahwa "
    "Moskow tidak mengharapkan perubahan sikap NATO."
)


def _actor(name: str) -> ActorMention:
    last = name.split()[-1]
    return ActorMention(name, "name", 1, (TermHit(last, Span(0, len(last)), f"... {last} ..."),))


def _match(*actors: str) -> MatchResult:
    nato = TopicScore("nato", 3.0, True, (TermHit("NATO", Span(10, 14), "... NATO ..."),))
    return MatchResult(topics=(nato,), actors=tuple(_actor(a) for a in actors))


def _rule(name: str, *channels: str, actors: tuple[str, ...] = ()) -> AlertRule:
    return AlertRule(
        name=name,
        actors=frozenset(actors),
        topics=frozenset({"nato"}),
        require_actor=bool(actors),
        require_substantive=False,
        sources=frozenset(),
        channels=channels,
    )


def _candidate(url: str, body: str, *, feed_id: int | None = None) -> Candidate:
    return Candidate(
        entry=FeedEntry(entry_id=f"id:{url}", link=url, title="Rutte pimpin NATO", published=AT),
        feed_id=feed_id,
        canonical_url=url,
        title="Rutte pimpin NATO",
        body=body,
        published=AT,
        seen_at=AT,
    )


def _verdict(kind: VerdictKind, body: str, story_id: int | None = None) -> DedupVerdict:
    copy = kind in ("exact", "near")
    return DedupVerdict(
        kind=kind,
        story_id=story_id,
        article_id=None if story_id is None else 100 + story_id,
        similarity=0.9 if copy else None,
        signature=signature(body),
        body_hash=body_hash(body),
    )


def _decide(
    candidate: Candidate,
    verdict: DedupVerdict,
    match: MatchResult,
    rules: list[AlertRule],
    story: StorySoFar | None = None,
) -> ArticleIntent:
    """What the pipeline does: the rules the article fires, the story it needs, the decision."""
    fired = matching_rules(rules, match, candidate.source)
    if story_to_read(verdict, fired) is None:
        story = None
    return decide_story(candidate, verdict=verdict, match=match, rules=fired, story=story)


def _types(intent: ArticleIntent) -> list[str]:
    return [e.type for e in intent.events]


def test_new_story_queues_one_alert_per_matching_rule_and_channel() -> None:
    candidate = _candidate("https://kompas.example/rutte", ORIGINAL, feed_id=3)
    rules = [
        _rule("desk", "console", "webhook"),
        _rule("rutte-watch", "email", actors=("Mark Rutte",)),
        _rule("lavrov-watch", "slack", actors=("Sergei Lavrov",)),  # not named: silent
    ]
    intent = _decide(candidate, _verdict("new", ORIGINAL), _match("Mark Rutte"), rules)

    assert intent.story_id is None, "a new story is opened"
    assert intent.article.duplicate_kind is None and intent.article.source == "kompas.example"
    assert [(a.rule, a.channel, a.kind) for a in intent.alerts] == [
        ("desk", "console", "alert"),
        ("desk", "webhook", "alert"),
        ("rutte-watch", "email", "alert"),
    ]
    assert all(a.key_suffix == "" for a in intent.alerts) and not intent.follow_up
    payload = json.loads(intent.alerts[2].payload)
    assert (payload["rule"], payload["url"], payload["follow_up"]) == (
        "rutte-watch",
        "https://kompas.example/rutte",
        None,
    )
    assert _types(intent) == [events.ARTICLE_STORED, events.MATCH]
    assert [(m.kind, m.name) for m in intent.matches] == [
        ("topic", "nato"),
        ("actor", "Mark Rutte"),
    ]
    assert intent.seen == NewSeenEntry(3, "id:https://kompas.example/rutte", candidate.entry.link)


def test_syndicated_copy_joins_its_story_without_alerting() -> None:
    candidate = _candidate("https://detik.example/rutte", ORIGINAL)
    verdict = _verdict("near", ORIGINAL, story_id=7)
    match = _match("Mark Rutte")
    rules = [_rule("desk", "console", "webhook")]
    assert story_to_read(verdict, rules) == 7
    story = StorySoFar(actor_names=frozenset({"Mark Rutte"}), first_body=ORIGINAL)

    intent = _decide(candidate, verdict, match, rules, story)

    assert intent.story_id == 7 and intent.article.duplicate_kind == "near"
    assert intent.alerts == () and not intent.follow_up
    assert _types(intent) == [events.ARTICLE_STORED, events.MATCH, events.STORY_UPDATED]
    assert intent.seen is None  # not from a feed
    stored = StoredArticle(
        article_id=12, story_id=7, story_sources=("kompas.example", "detik.example")
    )
    match_event = json.loads(intent.events[1].payload(stored))
    assert (match_event["alerted"], match_event["duplicate_kind"]) == (False, "near")
    updated = json.loads(intent.events[2].payload(stored))
    assert updated["sources"] == ["kompas.example", "detik.example"]
    assert (updated["story_id"], updated["article_id"]) == (7, 12)


def test_copy_newly_naming_a_tracked_actor_raises_one_follow_up() -> None:
    body = f"{ORIGINAL}\n\n{ADDED}"
    candidate = _candidate("https://detik.example/rutte-lavrov", body)
    verdict = _verdict("near", body, story_id=7)
    match = _match("Mark Rutte", "Sergei Lavrov")
    rules = [_rule("desk", "console")]
    story = StorySoFar(actor_names=frozenset({"Mark Rutte"}), first_body=ORIGINAL)

    intent = _decide(candidate, verdict, match, rules, story)

    assert intent.story_id == 7 and intent.follow_up
    (alert,) = intent.alerts
    assert (alert.rule, alert.channel, alert.kind) == ("desk", "console", "follow_up")
    assert alert.key_suffix == ":follow_up:Sergei Lavrov"
    text = json.loads(alert.payload)["follow_up"]
    assert text.startswith("Updated copy from detik.example newly names Sergei Lavrov: “")
    assert "Lavrov menanggapi" in text
    stored = StoredArticle(article_id=13, story_id=7, story_sources=("kompas.example",))
    assert json.loads(intent.events[1].payload(stored))["alerted"] is True

    # Once the story has Lavrov, the same news in another copy is no follow-up.
    known = StorySoFar(actor_names=frozenset({"Mark Rutte", "Sergei Lavrov"}), first_body=ORIGINAL)
    assert _decide(candidate, verdict, match, rules, known).alerts == ()


def test_article_firing_no_rule_is_stored_without_alert() -> None:
    candidate = _candidate("https://kompas.example/rutte", ORIGINAL, feed_id=3)
    rules = [_rule("lavrov-watch", "slack", actors=("Sergei Lavrov",))]
    verdict = _verdict("new", ORIGINAL)

    intent = _decide(candidate, verdict, _match("Mark Rutte"), rules)

    assert intent.alerts == () and intent.story_id is None
    assert intent.article.canonical_url == "https://kompas.example/rutte"
    assert intent.article.body_hash == verdict.body_hash
    assert _types(intent) == [events.ARTICLE_STORED, events.MATCH]
    stored = StoredArticle(article_id=1, story_id=1, story_sources=("kompas.example",))
    assert json.loads(intent.events[0].payload(stored)) == {
        "article_id": 1,
        "story_id": 1,
        "title": "Rutte pimpin NATO",
        "url": "https://kompas.example/rutte",
        "source": "kompas.example",
    }
    assert json.loads(intent.events[1].payload(stored))["alerted"] is False


def test_unmatched_article_kept_by_store_unmatched_has_no_match_event() -> None:
    intent = _decide(
        _candidate("https://kompas.example/cuaca", ORIGINAL),
        _verdict("new", ORIGINAL),
        MatchResult(),
        [_rule("desk", "console")],
    )
    assert intent.alerts == () and intent.matches == ()
    assert _types(intent) == [events.ARTICLE_STORED]
