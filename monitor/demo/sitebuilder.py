"""Builds a realistic news site (RSS 2.0 feed + article pages) from a directory of articles.

Used by ``pantau replay`` (the offline demo) and by tests: page furniture (navigation, "Baca
juga:" links naming other actors, share buttons, comment form, ads, footer) is real markup, so
extraction and "furniture must not match" are exercised for real.

``.txt`` files are wrapped (first non-empty line = title unless the manifest says otherwise);
``.html`` files are served as they are.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.timeofday import WIB

DEFAULT_BASE_URL = "https://warta.pantau.example"
DEFAULT_SITE_NAME = "Warta Pantau"
FEED_PATH = "/rss.xml"

# Furniture the builder adds around every article. Tests check none of it survives extraction.
NAV_ITEMS = ("Beranda", "Nasional", "Internasional", "Ekonomi", "Olahraga", "Teknologi")
RELATED_HEADLINES = (
    "Xi Jinping Sambut Kunjungan Kenegaraan Emmanuel Macron di Beijing",
    "Erdogan Tawarkan Istanbul Jadi Tuan Rumah Perundingan Gencatan Senjata",
    "Olaf Scholz Desak Uni Eropa Percepat Paket Bantuan Pertahanan",
    "Kim Jong Un Uji Coba Rudal Balistik Baru di Laut Jepang",
)
INLINE_RELATED = "Baca juga: Keir Starmer Janjikan Tambahan Anggaran Militer Inggris"
FURNITURE_MARKERS = (
    *RELATED_HEADLINES,
    INLINE_RELATED,
    "Bagikan artikel ini",
    "Tulis komentar Anda",
    "ADVERTISEMENT",
    "Scroll untuk melanjutkan",
    "Hak cipta dilindungi undang-undang",
    "Terpopuler",
    "Berlangganan newsletter",
)

_URL_LINE = re.compile(r"^https?://\S+$")
_EN = ("january", "february", "march", "april", "may", "june", "july", "august")
_EN2 = ("september", "october", "november", "december")
_ID = ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus")
_MONTHS_EN = {m: i for i, m in enumerate((*_EN, *_EN2), 1)}
_ID2 = ("september", "oktober", "november", "desember")
_MONTHS_ID = {m: i for i, m in enumerate((*_ID, *_ID2), 1)}


@dataclass(frozen=True)
class CorpusDoc:
    """One article of a replay corpus."""

    path: Path
    kind: str  # "txt" | "html"
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    url: str  # public URL (fictional host for seeds)
    source: str
    raw_html: bytes | None = None
    original_furniture: tuple[str, ...] = ()

    @property
    def body_paragraphs(self) -> tuple[str, ...]:
        """The article's own text: paragraphs minus the original site's furniture lines."""
        skip = set(self.original_furniture)
        return tuple(p for p in self.paragraphs if p not in skip and not _URL_LINE.match(p))

    @property
    def url_path(self) -> str:
        return urlsplit(self.url).path or "/"


@dataclass(frozen=True)
class Corpus:
    site_name: str
    base_url: str
    docs: tuple[CorpusDoc, ...]


@dataclass
class Site:
    """Paths -> (content type, body) for a static server."""

    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "artikel"


def derive_date(text: str) -> datetime | None:
    """First 'February 2, 2026' / '10 November 2025' style date near the top of a text."""
    head = text[:600]
    m = re.search(r"\b([A-Z][a-z]+) (\d{1,2}), (\d{4})\b", head)
    if m and m.group(1).lower() in _MONTHS_EN:
        return datetime(
            int(m.group(3)), _MONTHS_EN[m.group(1).lower()], int(m.group(2)), tzinfo=WIB
        )
    m = re.search(r"\b(\d{1,2}) ([A-Za-z]+) (\d{4})\b", head)
    if m:
        month = _MONTHS_ID.get(m.group(2).lower()) or _MONTHS_EN.get(m.group(2).lower())
        if month:
            return datetime(int(m.group(3)), month, int(m.group(1)), tzinfo=WIB)
    return None


def text_paragraphs(text: str, title: str) -> tuple[str, ...]:
    """Body paragraphs of a text article: everything after the title line, blank lines dropped."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if title in lines:
        lines = lines[lines.index(title) + 1 :]
    return tuple(ln for ln in lines if ln != title)


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / "manifest.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid manifest: {exc}") from exc


def _parse_published(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=WIB)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: published: not an ISO 8601 date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=WIB)


def _html_title(raw: bytes) -> str:
    m = re.search(rb"<title[^>]*>(.*?)</title>", raw, re.I | re.S)
    return html.unescape(m.group(1).decode("utf-8", "replace")).strip() if m else ""


def load_corpus(directory: Path) -> Corpus:
    """Read every .txt/.html article of a directory, with the optional manifest.toml."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory of articles")
    manifest = _read_manifest(directory)
    base_url = str(manifest.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    entries = manifest.get("article", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{directory / 'manifest.toml'}: article: expected [[article]] tables")
    by_file: dict[str, dict[str, Any]] = {
        str(e["file"]): e for e in entries if isinstance(e, dict) and "file" in e
    }
    files = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".html")
    )
    if not files:
        raise ConfigError(f"{directory}: no .txt or .html articles found")
    docs = []
    for path in files:
        meta = by_file.get(path.name, {})
        where = f"{directory / 'manifest.toml'}: {path.name}"
        raw = path.read_bytes()
        if path.suffix.lower() == ".html":
            title = str(meta.get("title") or _html_title(raw) or path.stem)
            paragraphs: tuple[str, ...] = ()
            text = ""
        else:
            text = raw.decode("utf-8", errors="replace")
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), path.stem)
            title = str(meta.get("title") or first)
            paragraphs = text_paragraphs(text, title)
        if "published" in meta:
            published = _parse_published(meta["published"], where)
        else:
            published = derive_date(text) or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        url = str(meta.get("url") or f"{base_url}/artikel/{_slug(path.stem)}")
        docs.append(
            CorpusDoc(
                path=path,
                kind="html" if path.suffix.lower() == ".html" else "txt",
                title=title,
                paragraphs=paragraphs,
                published=published,
                url=url,
                source=str(meta.get("source") or urlsplit(url).hostname or ""),
                raw_html=raw if path.suffix.lower() == ".html" else None,
                original_furniture=tuple(str(x) for x in meta.get("original_furniture", [])),
            )
        )
    site_name = str(manifest.get("site_name") or DEFAULT_SITE_NAME)
    return Corpus(site_name=site_name, base_url=base_url, docs=tuple(docs))


def _paragraph_html(text: str) -> str:
    if _URL_LINE.match(text):
        return (
            f'<figure class="photo"><img src="{html.escape(text)}" alt="">'
            "<figcaption>Foto: dokumentasi</figcaption></figure>"
        )
    if len(text) < 90 and not text.endswith((".", "”", '"', ":")):
        return f"<h2>{html.escape(text)}</h2>"
    return f"<p>{html.escape(text)}</p>"


def render_page(doc: CorpusDoc, corpus: Corpus, link: Callable[[str], str]) -> str:
    """An article page with the furniture of a typical Indonesian portal."""
    e = html.escape
    nav = "".join(f'<li><a href="{link("/" + _slug(n))}">{e(n)}</a></li>' for n in NAV_ITEMS)
    related = "".join(
        f'<li><a href="{link("/baca/" + _slug(h))}">{e(h)}</a></li>' for h in RELATED_HEADLINES
    )
    popular = "".join(
        f'<li><a href="{link(d.url_path)}">{e(d.title)}</a></li>'
        for d in corpus.docs
        if d is not doc
    )
    body_parts = [_paragraph_html(p) for p in doc.paragraphs]
    if len(body_parts) > 2:
        inline = (
            f'<p class="baca-juga"><strong>Baca juga:</strong> '
            f'<a href="{link("/baca/starmer")}">{e(INLINE_RELATED.split(": ", 1)[1])}</a></p>'
        )
        body_parts.insert(2, inline)
    published = doc.published.isoformat()
    shown = doc.published.astimezone(WIB).strftime("%d/%m/%Y %H:%M WIB")
    return f"""<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>{e(doc.title)} - {e(corpus.site_name)}</title>
<link rel="canonical" href="{e(link(doc.url_path))}">
<meta property="og:title" content="{e(doc.title)}">
<meta property="og:site_name" content="{e(corpus.site_name)}">
<meta property="article:published_time" content="{published}">
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
<header class="site-header">
  <div class="logo"><a href="{link("/")}">{e(corpus.site_name)}</a></div>
  <nav class="main-nav"><ul>{nav}</ul></nav>
  <div class="ad ad-top">ADVERTISEMENT</div>
</header>
<main>
<article class="post">
  <h1 class="entry-title">{e(doc.title)}</h1>
  <div class="meta">Oleh Redaksi {e(corpus.site_name)} &middot;
    <time datetime="{published}">{shown}</time></div>
  <div class="entry-content">
  {"".join(body_parts)}
  </div>
  <div class="share">Bagikan artikel ini: <a href="#">Facebook</a> <a href="#">X</a>
    <a href="#">WhatsApp</a> <a href="#">Telegram</a></div>
  <div class="tags">Tag: <a href="#">internasional</a> <a href="#">dunia</a></div>
</article>
<aside class="related"><h3>Berita Terkait</h3><ul>{related}</ul></aside>
<div class="ad ad-mid">ADVERTISEMENT<br>Scroll untuk melanjutkan</div>
<section class="comments"><h3>Komentar</h3>
  <form action="{link("/komentar")}" method="post">
    <label>Tulis komentar Anda</label><textarea name="c"></textarea>
    <button type="submit">Kirim</button>
  </form>
</section>
<aside class="popular"><h3>Terpopuler</h3><ol>{popular}</ol></aside>
</main>
<footer class="site-footer">
  <p>Berlangganan newsletter kami untuk berita pilihan setiap pagi.</p>
  <p>&copy; {doc.published.year} {e(corpus.site_name)}. Hak cipta dilindungi undang-undang.</p>
  <ul><li><a href="{link("/tentang")}">Tentang Kami</a></li>
  <li><a href="{link("/pedoman")}">Pedoman Media Siber</a></li></ul>
</footer>
</body>
</html>
"""


def render_feed(corpus: Corpus, link: Callable[[str], str]) -> str:
    """An RSS 2.0 feed of the corpus, newest first, dates in WIB as Indonesian portals do."""
    e = html.escape
    items = []
    for doc in sorted(corpus.docs, key=lambda d: d.published, reverse=True):
        summary = doc.paragraphs[0][:240] if doc.paragraphs else doc.title
        items.append(
            f"""  <item>
    <title>{e(doc.title)}</title>
    <link>{e(link(doc.url_path))}</link>
    <guid isPermaLink="false">{e(doc.url)}</guid>
    <pubDate>{format_datetime(doc.published.astimezone(WIB))}</pubDate>
    <description>{e(summary)}</description>
  </item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
  <title>{e(corpus.site_name)} - Internasional</title>
  <link>{e(link("/"))}</link>
  <description>Berita internasional terkini</description>
  <language>id</language>
  <ttl>10</ttl>
{chr(10).join(items)}
</channel>
</rss>
"""


def build_site(corpus: Corpus, served_base: str) -> Site:
    """Render the whole site with links pointing at ``served_base`` (e.g. the loopback server)."""
    served_base = served_base.rstrip("/")

    def link(path: str) -> str:
        return served_base + path

    site = Site()
    for doc in corpus.docs:
        if doc.raw_html is not None:
            site.pages[doc.url_path] = ("text/html; charset=utf-8", doc.raw_html)
        else:
            page = render_page(doc, corpus, link)
            site.pages[doc.url_path] = ("text/html; charset=utf-8", page.encode("utf-8"))
    site.pages[FEED_PATH] = (
        "application/rss+xml; charset=utf-8",
        render_feed(corpus, link).encode("utf-8"),
    )
    return site
