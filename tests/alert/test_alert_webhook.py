from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest

from monitor.alert.console import ConsoleChannel
from monitor.alert.flood import make_digest
from monitor.alert.webhook import WebhookChannel, to_payload
from monitor.errors import AlertDeliveryError
from tests.alert_servers import sample_alert, scripted
from tests.loopback import LoopbackServer, Response

PATH = "/hooks/pantau/tok_SECRET123"
TOKEN = "Bearer sk-live-ABCDEF"


async def test_alert_payload_arrives_as_documented(loopback: LoopbackServer) -> None:
    loopback.route(PATH, Response(204))
    hook = WebhookChannel("ops", loopback.url(PATH), headers={"Authorization": TOKEN})
    await hook.send(sample_alert(follow_up="2 more outlets"))
    await hook.aclose()

    [request] = loopback.requests_for(PATH)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["authorization"] == TOKEN
    assert json.loads(request.body) == {
        "type": "alert",
        "story_id": 101,
        "article_id": 1,
        "rule": "rusia-nato",
        "title": "Putin peringatkan NATO soal Ukraina #1",
        "url": "https://www.kompas.com/global/read/2026/11/21/1/putin-nato?utm=x&a=b",
        "source": "Kompas",
        "published": "2026-11-21T10:00:00Z",
        "topics": [
            {"name": "NATO", "score": 0.91, "substantive": True},
            {"name": "Ukraine war", "score": 0.35, "substantive": False},
        ],
        "actors": [
            {
                "name": "Vladimir Putin",
                "via": "alias",
                "count": 2,
                "snippets": [sample_alert().actors[0].hits[0].snippet],
            }
        ],
        "also_reported_by": ["Detik", "Tempo"],
        "follow_up": "2 more outlets",
    }


async def test_digest_payload_carries_every_item(loopback: LoopbackServer) -> None:
    loopback.route(PATH, Response(200))
    items = [sample_alert(n) for n in range(12)]
    start = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    end = datetime(2026, 11, 21, 10, 10, tzinfo=UTC)
    digest = make_digest(items, window_start=start, window_end=end)
    hook = WebhookChannel("ops", loopback.url(PATH))
    await hook.send(digest)
    await hook.aclose()

    body = json.loads(loopback.requests_for(PATH)[0].body)
    assert body["type"] == "digest"
    assert body["title"] == "12 new articles mention Vladimir Putin in the last 10 minutes"
    assert (body["window_start"], body["window_end"]) == (
        "2026-11-21T10:00:00Z",
        "2026-11-21T10:10:00Z",
    )
    assert body["items"] == [to_payload(item) for item in items]


async def test_status_codes_map_to_transient_or_permanent(loopback: LoopbackServer) -> None:
    loopback.route(
        PATH,
        scripted(
            Response(503, b"maintenance", {"Retry-After": "30"}),
            Response(429, b"", {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),
            Response(401, b"bad token"),
        ),
    )
    hook = WebhookChannel("ops", loopback.url(PATH), headers={"Authorization": TOKEN})
    errors = []
    for _ in range(3):
        with pytest.raises(AlertDeliveryError) as caught:
            await hook.send(sample_alert())
        errors.append(caught.value)
    await hook.aclose()
    unavailable, limited, unauthorised = errors
    assert (unavailable.transient, unavailable.retry_after) == (True, 30)
    assert "HTTP 503" in str(unavailable) and "maintenance" in str(unavailable)
    assert (limited.transient, limited.retry_after) == (True, 0)  # a date in the past: now
    assert unauthorised.transient is False
    assert "HTTP 401" in str(unauthorised) and "bad token" in str(unauthorised)


async def test_url_and_token_stay_secret_even_when_the_server_echoes_them(
    caplog: pytest.LogCaptureFixture, loopback: LoopbackServer
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback.route(PATH, Response(400, f"bad request to {PATH} with {TOKEN}".encode(), delay=0))
    hook = WebhookChannel("ops", loopback.url(PATH), headers={"Authorization": TOKEN})
    with pytest.raises(AlertDeliveryError) as caught:
        await hook.send(sample_alert())
    await hook.aclose()
    assert "HTTP 400" in str(caught.value)
    for text in (str(caught.value), repr(hook), caplog.text):
        assert "tok_SECRET123" not in text
        assert "sk-live-ABCDEF" not in text
    assert f"http://127.0.0.1:{loopback.port}/…" in repr(hook)


async def test_console_prints_one_human_line_per_alert() -> None:
    out = io.StringIO()
    console = ConsoleChannel("stdout", out)
    await console.send(sample_alert())
    assert out.getvalue() == (
        "[Pantau] 21 Nov 2026 17:00 WIB · Kompas · Vladimir Putin — "
        "Putin peringatkan NATO soal Ukraina #1 "
        "<https://www.kompas.com/global/read/2026/11/21/1/putin-nato?utm=x&a=b>\n"
    )


async def test_console_json_mode_writes_the_webhook_payload_as_jsonl() -> None:
    out = io.StringIO()
    console = ConsoleChannel("jsonl", out, json=True)
    alert = sample_alert()
    now = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
    digest = make_digest([sample_alert(2), sample_alert(3)], window_start=now, window_end=now)
    await console.send(alert)
    await console.send(digest)
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [to_payload(alert), to_payload(digest)]


async def test_console_on_a_closed_stream_is_a_delivery_error() -> None:
    out = io.StringIO()
    out.close()
    with pytest.raises(AlertDeliveryError, match="could not write"):
        await ConsoleChannel("stdout", out).send(sample_alert())
