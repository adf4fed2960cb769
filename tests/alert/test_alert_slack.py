from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.alert.flood import FloodGate, FloodPolicy, make_digest
from monitor.alert.message import DigestMessage
from monitor.alert.slack import SlackChannel, render
from monitor.errors import AlertDeliveryError
from tests.alert_servers import free_port, sample_alert, scripted
from tests.loopback import LoopbackServer, Response

HOOK = "/services/T0000/B0000/XXXXSECRETXXXX"
NOW = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def posted(server: LoopbackServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests_for(HOOK)]


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def assert_within_slack_limits(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for item in block.get("fields", []) + block.get("elements", []):
            assert len(item["text"]) <= 3000


async def test_500_then_429_then_200_posts_the_rendered_alert(loopback: LoopbackServer) -> None:
    loopback.route(
        HOOK,
        scripted(
            Response(500, b"rollup_error"),
            Response(429, b"rate_limited", {"Retry-After": "1"}),
            Response(200, b"ok"),
        ),
    )
    slack = SlackChannel("analysts", loopback.url(HOOK))
    message = sample_alert()
    with pytest.raises(AlertDeliveryError) as server_error:
        await slack.send(message)
    assert server_error.value.transient is True
    assert "HTTP 500" in str(server_error.value)
    with pytest.raises(AlertDeliveryError) as limited:
        await slack.send(message)
    assert limited.value.transient is True
    assert limited.value.retry_after == 1
    assert "rate limited" in str(limited.value) and "HTTP 429" in str(limited.value)
    await slack.send(message)
    await slack.aclose()

    payload = posted(loopback)[-1]
    assert "Putin peringatkan NATO" in payload["text"]
    text = all_text(payload)
    assert (
        "*<https://www.kompas.com/global/read/2026/11/21/1/putin-nato?utm=x&amp;a=b"
        "|Putin peringatkan NATO soal Ukraina #1>*"
    ) in text
    assert "Kompas · 21 Nov 2026 17:00 WIB" in text
    assert "Vladimir Putin (via alias, 2×)" in text
    assert "NATO (substantive, 0.91)" in text and "Ukraine war (passing, 0.35)" in text
    assert "Presiden Rusia Vladimir *Putin* menegaskan bahwa ekspansi *NATO*" in text
    assert "ke timur &amp; &lt;perbatasan&gt; *Ukraina*" in text
    assert "Also reported by: Detik, Tempo" in text
    assert_within_slack_limits(payload)


async def test_permanent_slack_errors_quote_slacks_reason(loopback: LoopbackServer) -> None:
    loopback.route(HOOK, scripted(Response(400, b"invalid_payload"), Response(404, b"no_service")))
    slack = SlackChannel("analysts", loopback.url(HOOK))
    for status, reason in ((400, "invalid_payload"), (404, "no_service")):
        with pytest.raises(AlertDeliveryError) as caught:
            await slack.send(sample_alert())
        assert caught.value.transient is False
        assert f"HTTP {status}" in str(caught.value) and reason in str(caught.value)
    await slack.aclose()
    assert len(loopback.requests_for(HOOK)) == 2


async def test_webhook_url_never_leaks_into_errors_repr_or_logs(
    caplog: pytest.LogCaptureFixture, loopback: LoopbackServer
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback.route(HOOK, Response(200, b"ok"))
    ok = SlackChannel("analysts", loopback.url(HOOK))
    await ok.send(sample_alert())
    await ok.aclose()
    down = SlackChannel("analysts", f"http://127.0.0.1:{free_port()}{HOOK}")
    with pytest.raises(AlertDeliveryError) as caught:
        await down.send(sample_alert())
    await down.aclose()

    assert "connection refused" in str(caught.value)
    assert "http://127.0.0.1:" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    for text in (str(caught.value), repr(ok), repr(down), caplog.text):
        assert "XXXXSECRETXXXX" not in text
    assert "HTTP Request: POST" in caplog.text  # httpx did log, with the redacted URL


async def test_flood_of_50_alerts_posts_5_alerts_and_one_digest_within_limits(
    loopback: LoopbackServer,
) -> None:
    loopback.route(HOOK, Response(200, b"ok"))
    pending = [sample_alert(n, title=f"Putin dan NATO, laporan nomor {n}") for n in range(50)]
    plan = FloodGate(FloodPolicy(max_messages=5, per_seconds=600)).plan(pending, [], NOW)
    slack = SlackChannel("analysts", loopback.url(HOOK))
    for message in plan:
        await slack.send(message)
    await slack.aclose()

    bodies = posted(loopback)
    assert len(bodies) == 6
    digest = bodies[-1]
    assert_within_slack_limits(digest)
    header = digest["blocks"][0]["text"]["text"]
    assert header == "45 new articles mention Vladimir Putin in the last 10 minutes"
    text = all_text(digest)
    for item in pending[5:]:
        assert f"|{item.title}>" in text
        assert f"/{item.article_id}/putin-nato" in text


def huge_digest(count: int) -> DigestMessage:
    items = [
        sample_alert(n, title=f"Laporan {n}: " + "Putin, NATO & Ukraina <analisis> " * 12)
        for n in range(count)
    ]
    return make_digest(items, window_start=NOW, window_end=NOW)


def test_digest_too_big_for_one_message_is_split_into_parts_without_dropping_items() -> None:
    digest = huge_digest(700)
    payloads = render(digest)
    assert len(payloads) > 1
    for number, payload in enumerate(payloads, start=1):
        assert_within_slack_limits(payload)
        assert f"(part {number} of {len(payloads)})" in payload["blocks"][0]["text"]["text"]
    text = "".join(all_text(p) for p in payloads)
    for item in digest.items:
        assert text.count(f"/{item.article_id}/putin-nato") == 1


def test_small_digest_is_one_message_with_every_linked_title() -> None:
    digest = huge_digest(40)
    [payload] = render(digest)
    assert_within_slack_limits(payload)
    for item in digest.items:
        assert f"/{item.article_id}/putin-nato" in all_text(payload)


def test_slack_markup_in_titles_and_urls_is_neutralised() -> None:
    message = replace(
        sample_alert(),
        title="<!channel> Putin | NATO & co",
        url="https://example.org/a|b<c>",
    )
    [payload] = render(message)
    headline = payload["blocks"][0]["text"]["text"]
    assert headline == "*<https://example.org/a%7Cb%3Cc%3E|&lt;!channel&gt; Putin | NATO &amp; co>*"
    assert "<!channel>" not in payload["text"]
