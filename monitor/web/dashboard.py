"""The dashboard page as pure functions: data in, HTML and inline SVG out.

No JavaScript, no CDN, no external asset: charts are server-rendered SVG, styles are inline, so
the page works on an air-gapped analyst machine and under a strict Content-Security-Policy.
Every piece of text from the database goes through ``esc``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urlsplit

from monitor.alert import emphasise, is_headline_snippet
from storage.overview import (
    AlertView,
    ChannelHealth,
    DailyCounts,
    FeedHealth,
    MatchedArticle,
    StatusSummary,
)

PALETTE = ("#2f6db5", "#d9822b", "#3a9d5d", "#b53f5a", "#7a5cb5", "#5a8f9c", "#a8842f", "#666")
# Same-origin scripts only (the live-update script served beside /events), nothing external.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class DashboardData:
    summary: StatusSummary
    latest: Sequence[MatchedArticle]
    topics: DailyCounts
    actors: DailyCounts
    feeds: Sequence[FeedHealth]
    failed: Sequence[AlertView]
    now: datetime
    tz: tzinfo
    channels: Sequence[ChannelHealth] = ()


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def safe_href(url: str) -> str | None:
    """Only http(s) links are clickable; anything else (javascript:, data:) is shown as text."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def fmt_time(when: datetime | None, tz: tzinfo) -> str:
    if when is None:
        return "never"
    local = when.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def highlight(text: str, terms: Iterable[str]) -> str:
    """Escaped snippet with matched terms wrapped in <mark>."""
    return "".join(
        f"<mark>{esc(s.text)}</mark>" if s.emphasis else esc(s.text) for s in emphasise(text, terms)
    )


# --- charts -------------------------------------------------------------------------------------


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" class="chart">'
        f"<title>{esc(label)}</title>"
    )


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value``."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= step * 5:
            return max(step * ((value + step - 1) // step), step)
    return value


def stacked_day_chart(counts: DailyCounts, *, label: str, width: int = 560) -> str:
    """Stacked columns: one per day, one colour per name, legend below."""
    names = [n for n, _ in counts.totals()]
    height, top, left, bottom = 240, 16, 36, 40
    legend_rows = (len(names) + 3) // 4
    total_h = height + legend_rows * 18
    plot_h = height - top - bottom
    plot_w = width - left - 10
    daily = [sum(counts.series[n][i] for n in names) for i in range(len(counts.days))]
    ymax = _nice_max(max(daily, default=0))
    parts = [_svg_open(width, total_h, label)]
    for tick in range(0, ymax + 1, max(1, ymax // 4)):
        y = top + plot_h - plot_h * tick / ymax
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{tick}</text>'
        )
    slot = plot_w / max(1, len(counts.days))
    bar_w = slot * 0.6
    for i, day in enumerate(counts.days):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for j, name in enumerate(names):
            value = counts.series[name][i]
            if not value:
                continue
            h = plot_h * value / ymax
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{esc(name)} · {day:%d %b}: '
                f"{value}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'class="axis">{day:%a %d}</text>'
        )
    for j, name in enumerate(names):
        lx = left + (j % 4) * (plot_w / 4)
        ly = height + (j // 4) * 18
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly - 10}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{lx + 14:.1f}" y="{ly}" class="legend">'
            f"{esc(name)} ({sum(counts.series[name])})</text>"
        )
    if not names:
        parts.append(
            f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="empty">'
            "no matches in the last 7 days</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(totals: Sequence[tuple[str, int]], *, label: str, width: int = 560) -> str:
    """Horizontal bars, one per name, largest first."""
    row, left, top = 22, 170, 8
    rows = list(totals)
    height = top * 2 + row * max(1, len(rows))
    vmax = max((v for _, v in rows), default=0) or 1
    plot_w = width - left - 40
    parts = [_svg_open(width, height, label)]
    for i, (name, value) in enumerate(rows):
        y = top + i * row
        w = plot_w * value / vmax
        shown = name if len(name) <= 24 else name[:23] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="legend">{esc(shown)}'
            f"</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{esc(name)}: {value}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + 15}" class="axis">{value}</text>'
        )
    if not rows:
        parts.append(
            f'<text x="{width / 2}" y="{top + 15}" text-anchor="middle" class="empty">'
            "no actors mentioned in the last 7 days</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --- sections -----------------------------------------------------------------------------------


def summary_cards(s: StatusSummary, now: datetime, tz: tzinfo) -> str:
    cards = [
        ("Feeds healthy", f"{s.feeds_healthy} / {s.feeds_total}", s.feeds_unhealthy == 0),
        ("Unhealthy feeds", str(s.feeds_unhealthy), s.feeds_unhealthy == 0),
        ("Last poll", ago(s.last_poll_at, now), s.last_poll_at is not None),
        ("Matches today", str(s.matches_today), True),
        ("Pending alerts", str(s.alerts_pending), True),
        ("Failed alerts", str(s.alerts_failed), s.alerts_failed == 0),
    ]
    items = "".join(
        f'<div class="card{"" if good else " bad"}"><div class="k">{esc(k)}</div>'
        f'<div class="v">{esc(v)}</div></div>'
        for k, v, good in cards
    )
    return f'<section class="cards" id="summary">{items}</section>'


def _link(title: str, url: str) -> str:
    href = safe_href(url)
    text = esc(title or url or "(untitled)")
    return f'<a href="{esc(href)}" rel="noopener noreferrer">{text}</a>' if href else text


def latest_section(articles: Sequence[MatchedArticle], tz: tzinfo) -> str:
    if not articles:
        return (
            '<section id="latest"><h2>Latest matches</h2><p class="empty">No matches yet.</p>'
            "</section>"
        )
    items = []
    for a in articles:
        topics = " ".join(
            f'<span class="tag{" sub" if sub else ""}">{esc(n)}</span>' for n, sub in a.topics
        )
        actors = " ".join(f'<span class="tag actor">{esc(n)}</span>' for n in a.actors)
        # The headline is the link above: a snippet quoting it again says nothing new.
        body = [s for s in a.snippets if not is_headline_snippet(s.text, s.term, a.title)]
        snippets = "".join(f"<li>{highlight(s.text, a.terms)}</li>" for s in body)
        items.append(
            f'<article class="match"><h3>{_link(a.title, a.url)}</h3>'
            f'<div class="meta">{esc(a.source)} · seen {esc(fmt_time(a.seen_at, tz))}'
            f"{' · published ' + esc(fmt_time(a.published_at, tz)) if a.published_at else ''}"
            f"{story_marks(a)}"
            f'</div><div class="tags">{topics} {actors}</div>'
            f'<ul class="snippets">{snippets}</ul></article>'
        )
    return f'<section id="latest"><h2>Latest matches</h2>{"".join(items)}</section>'


def story_marks(a: MatchedArticle) -> str:
    """Whether the article is a copy of an earlier report, and which alerts it raised."""
    marks = []
    if a.copy_of:
        marks.append(f'<span class="mark copy">copy, first reported by {esc(a.copy_of)}</span>')
    for channel, status in a.alerts:
        said = {"sent": "alerted", "digested": "alerted in a digest"}.get(status, f"alert {status}")
        marks.append(f'<span class="mark alert {esc(status)}">{esc(said)} on {esc(channel)}</span>')
    return "".join(f" · {m}" for m in marks)


def charts_section(topics: DailyCounts, actors: DailyCounts) -> str:
    label = "Matching articles per topic per day"
    return (
        '<section id="charts"><h2>Last 7 days</h2><div class="charts">'
        f"<figure><figcaption>{label} "
        '<span class="hint">(each article once, under its main topic)</span></figcaption>'
        f"{stacked_day_chart(topics, label=label)}</figure>"
        f"<figure><figcaption>Articles per actor (top 12)</figcaption>"
        f"{bar_chart(actors.totals()[:12], label='Articles per actor, last 7 days')}</figure>"
        "</div></section>"
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str) -> str:
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def feeds_section(feeds: Sequence[FeedHealth], now: datetime, tz: tzinfo) -> str:
    rows = []
    for f in feeds:
        state = "healthy" if f.healthy else "unhealthy"
        if not f.enabled:
            state = "disabled"
        rows.append(
            [
                f'<span class="dot {state}"></span>{esc(state)}',
                _link(f.name, f.url),
                esc(ago(f.last_polled_at, now)),
                esc(ago(f.last_new_item_at, now)),
                esc(str(f.consecutive_failures)),
                esc(f.problem),
            ]
        )
    table = _table(
        ["state", "feed", "last poll", "last new item", "failures", "problem"],
        rows,
        empty="No feeds yet.",
    )
    return f'<section id="feeds"><h2>Feed health</h2>{table}</section>'


def channels_section(channels: Sequence[ChannelHealth], now: datetime) -> str:
    """Alert channels with undelivered alerts: a failing channel shows its error at once."""
    rows = []
    for c in channels:
        state = "unhealthy" if c.failing else "healthy"
        age = ago(c.oldest_pending_at, now) if c.oldest_pending_at else "none waiting"
        rows.append(
            [
                f'<span class="dot {state}"></span>{esc("failing" if c.failing else "waiting")}',
                esc(c.channel),
                esc(str(c.pending)),
                esc(age.removesuffix(" ago")),
                esc(str(c.failed)),
                esc(c.last_error),
            ]
        )
    table = _table(
        ["state", "channel", "pending", "oldest waiting", "failed", "last error"],
        rows,
        empty="Every alert has been delivered.",
    )
    return f'<section id="channels"><h2>Alert channels</h2>{table}</section>'


def failed_section(alerts: Sequence[AlertView], tz: tzinfo) -> str:
    rows = [
        [
            esc(str(a.id)),
            esc(a.channel),
            esc(a.rule),
            _link(a.title, a.url),
            esc(str(a.attempts)),
            esc(fmt_time(a.created_at, tz)),
            esc(a.last_error),
        ]
        for a in alerts
    ]
    table = _table(
        ["id", "channel", "rule", "article", "attempts", "created", "error"],
        rows,
        empty="No failed alerts.",
    )
    hint = '<p class="hint">Retry with <code>pantau alerts retry</code>.</p>' if alerts else ""
    return f'<section id="failed"><h2>Failed alerts</h2>{table}{hint}</section>'


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f5f6f8;color:#1d2330}
header{background:#1d2a44;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:20px;margin:0}header .at{opacity:.75}
main{padding:16px 24px;max-width:1240px}
h2{font-size:16px;margin:24px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border-left:4px solid #3a9d5d;padding:8px 14px;min-width:150px;
box-shadow:0 1px 2px #0001}.card.bad{border-color:#b53f5a}
.card .k{font-size:12px;color:#5b6475}.card .v{font-size:20px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{background:#fff;margin:0;padding:8px 12px;box-shadow:0 1px 2px #0001}
figcaption{font-weight:600;margin-bottom:4px}
.chart .grid{stroke:#e3e6ea}.chart .axis{font-size:11px;fill:#5b6475}
.chart .legend{font-size:12px;fill:#1d2330}.chart .empty{font-size:13px;fill:#8a93a3}
article.match{background:#fff;padding:10px 14px;margin-bottom:10px;box-shadow:0 1px 2px #0001}
article.match h3{font-size:15px;margin:0 0 2px}.meta{color:#5b6475;font-size:12px}
.tag{display:inline-block;background:#e8eef8;border-radius:3px;padding:0 6px;margin:4px 2px 0 0;
font-size:12px}.tag.sub{background:#cfe0f7;font-weight:600}.tag.actor{background:#f6e7d6}
.snippets{margin:6px 0 0;padding-left:18px;color:#333}
mark{background:#ffe58a;padding:0 1px}
table{border-collapse:collapse;background:#fff;width:100%;box-shadow:0 1px 2px #0001}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
th{font-size:12px;color:#5b6475;font-weight:600}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
.dot.healthy{background:#3a9d5d}.dot.unhealthy{background:#b53f5a}.dot.disabled{background:#aaa}
.empty{color:#8a93a3}a{color:#1f5aa6}
.mark.copy{color:#7a5cb5}.mark.alert{color:#3a9d5d;font-weight:600}.mark.failed{color:#b53f5a}
"""


def script_tags(paths: Sequence[str]) -> str:
    """``<script defer>`` for same-origin paths; anything else is refused (no CDN)."""
    for path in paths:
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"dashboard scripts must be same-origin paths, not {path!r}")
    return "".join(f'<script src="{esc(p)}" defer></script>' for p in paths)


def render_page(
    data: DashboardData,
    *,
    title: str = "Pantau",
    refresh: int = 60,
    scripts: Sequence[str] = (),
) -> str:
    body = "".join(
        [
            summary_cards(data.summary, data.now, data.tz),
            charts_section(data.topics, data.actors),
            latest_section(data.latest, data.tz),
            feeds_section(data.feeds, data.now, data.tz),
            channels_section(data.channels, data.now),
            failed_section(data.failed, data.tz),
        ]
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{int(refresh)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style>{script_tags(scripts)}</head><body>"
        f"<header><h1>{esc(title)}</h1>"
        f'<span class="at">updated {esc(fmt_time(data.now, data.tz))}</span></header>'
        f"<main>{body}</main></body></html>"
    )
