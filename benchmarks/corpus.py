"""The benchmark corpus: realistic Indonesian news pages, generated reproducibly from a seed.

Text comes from the five seed articles (``seeds/``), the Indonesian articles of the labelled
relevance corpus (``tests/data/relevance/corpus.jsonl``) and those of
``../shared/corpus/articles`` that are not reserved for evaluation outside this project (plain
texts as they are, HTML pages through trafilatura once).
Sentences are recombined into new paragraphs (numbers re-drawn), so every page has its own
text -- trafilatura's cross-page deduplication and Pantau's MinHash dedup see distinct
articles -- while the prose, names and vocabulary stay real. About half the pages are
"topical": a third of their sentences come from the seeds (NATO, Ukraine, US--Russia), so the
matcher has real work and the pipeline stores and alerts a realistic share.

Article text is 2--30 KB (log-uniform). Each page is wrapped in one of five page templates
with varied furniture: the replay site's portal page (``monitor.demo.sitebuilder.render_page``), a
detik-style portal (mega menu, inline scripts, ads and "Baca juga" links between paragraphs,
JSON-LD), a WordPress blog (sidebar widgets, reader comments), a bare AMP page and a magazine
(captions with photo credits, pull quotes, author box, cookie banner).

Same seed, same pages (``random.Random``), in every process.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from monitor.demo.sitebuilder import Corpus, CorpusDoc, load_corpus, render_page
from monitor.match.evaluate import url_key
from monitor.timeofday import WIB

ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = ROOT / "seeds"
SHARED_ARTICLES = ROOT.parent / "shared" / "corpus" / "articles"
RELEVANCE_CORPUS = ROOT / "tests" / "data" / "relevance" / "corpus.jsonl"
EVALUATION_EXCLUSIONS = ROOT.parent / "shared" / "corpus" / "evaluation_exclusions.txt"
DEFAULT_SEED = 9
MIN_TEXT = 2 * 1024
MAX_TEXT = 30 * 1024
TOPICAL_SHARE = 0.5

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?”\"])\s*(?=[A-Z“\"])")
_DIGITS = re.compile(r"\d+")
_HEADER = re.compile(r"^(URL|TITLE|DATE|NOTE):", re.I)
_ARTIFACT = re.compile(r"SCROLL TO CONTINUE|ADVERTISEMENT", re.I)
_BASE = datetime(2025, 3, 1, 6, 0, tzinfo=WIB)
_SITES = (
    ("Warta Pantau", "warta.pantau.example"),
    ("Kabar Nusantara", "www.kabarnusantara.example"),
    ("Suara Dunia", "news.suaradunia.example"),
    ("Catatan Diplomasi", "catatandiplomasi.example"),
    ("Majalah Global", "www.majalahglobal.example"),
)
_SECTIONS = ("internasional", "dunia", "politik", "nasional", "ekonomi", "berita")
_NAMES = (
    "Rina Wulandari",
    "Agus Setiawan",
    "Dewi Lestari",
    "Bayu Pratama",
    "Siti Rahma",
    "Hendra Gunawan",
    "Putri Maharani",
    "Yoga Saputra",
)
_OTHER_HEADLINES = (
    "Harga Cabai Rawit di Pasar Induk Turun Jelang Akhir Pekan",
    "Timnas U-23 Tiba di Doha untuk Laga Penentuan",
    "BMKG Prakirakan Hujan Lebat di Sebagian Jawa Barat",
    "Xi Jinping Sambut Kunjungan Kenegaraan Emmanuel Macron di Beijing",
    "Erdogan Tawarkan Istanbul Jadi Tuan Rumah Perundingan Damai",
    "Kim Jong Un Uji Coba Rudal Balistik Baru di Laut Jepang",
    "Rupiah Menguat Tipis terhadap Dolar AS Pagi Ini",
    "Jadwal Lengkap KRL Commuter Line Selama Libur Panjang",
    "Promo Tiket Pesawat Akhir Tahun, Cek Rutenya di Sini",
    "Kemenkes Ingatkan Warga Waspadai Demam Berdarah",
)
_COMMENTS = (
    "Setuju sekali dengan artikel ini.",
    "Semoga cepat selesai konfliknya.",
    "Beritanya kurang lengkap, sumbernya mana?",
    "Mantap, terima kasih infonya.",
    "Kapan ya damai?",
    "Analisisnya tajam.",
)


@dataclass(frozen=True)
class SourceText:
    title: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class ArticleText:
    """An article's own text, before any page is built around it."""

    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    topical: bool

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def text_bytes(self) -> int:
        return len(self.body.encode("utf-8"))


@dataclass(frozen=True)
class BenchPage:
    """One fetched article page as the pipeline would receive it."""

    url: str
    html: bytes
    template: str
    article: ArticleText


# --- source text ---------------------------------------------------------------------------


def _sentences(paragraphs: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for p in paragraphs:
        if _ARTIFACT.search(p) or p.startswith(("http://", "https://")):
            continue
        out.extend(s.strip() for s in _SENTENCE_SPLIT.split(p) if len(s.strip()) >= 30)
    return tuple(out)


def _txt_source(path: Path) -> SourceText:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    title = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("TITLE:")), "")
    body = [ln.strip() for ln in lines if ln.strip() and not _HEADER.match(ln)]
    return SourceText(title or body[0], _sentences(body))


def _html_source(path: Path) -> SourceText | None:
    import trafilatura  # only here: the corpus itself does not need it otherwise

    raw = path.read_bytes().decode("utf-8", errors="replace")
    text = trafilatura.extract(raw, favor_precision=True, deduplicate=False)
    title = re.search(r"<title[^>]*>(.*?)</title>", raw, re.I | re.S)
    if not text:
        return None
    head = html.unescape(title.group(1)).split(" - ")[0].strip() if title else ""
    return SourceText(head or text.splitlines()[0], _sentences(text.splitlines()))


@lru_cache(maxsize=2)
def source_texts(shared_articles: Path = SHARED_ARTICLES) -> tuple[tuple[SourceText, ...], ...]:
    """(seed texts, other Indonesian texts) -- read once per process."""
    seeds = tuple(
        SourceText(d.title, _sentences(d.body_paragraphs)) for d in load_corpus(SEEDS_DIR).docs
    )
    others: list[SourceText] = []
    reserved = reserved_keys()
    if shared_articles.is_dir():
        for path in sorted(shared_articles.glob("id_*")):
            if is_reserved(path.read_bytes(), reserved):  # kept for evaluation elsewhere
                continue
            src = _txt_source(path) if path.suffix == ".txt" else _html_source(path)
            if src is not None and src.sentences:
                others.append(src)
    # The Indonesian articles of the labelled relevance corpus (real text, none reserved).
    for line in RELEVANCE_CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["lang"] == "id":
            sentences = _sentences(row["text"].splitlines())
            if sentences:
                others.append(SourceText(row["title"], sentences))
    return seeds, tuple(others)


# --- article text --------------------------------------------------------------------------


def _redraw_numbers(text: str, rng: random.Random) -> str:
    return _DIGITS.sub(lambda m: str(rng.randrange(10 ** len(m.group()))), text)


def _headline(rng: random.Random, sentences: Sequence[str]) -> str:
    words = rng.choice(sentences).rstrip('.!?"”').split()
    cut = " ".join(words[: rng.randint(7, 13)]).strip(",;:")
    return cut[:1].upper() + cut[1:]


def article_text(index: int, seed: int = DEFAULT_SEED) -> ArticleText:
    """Article ``index`` of the corpus for ``seed``: the same in every process and run."""
    seeds, others = source_texts()
    rng = random.Random(f"pantau-bench:{seed}:{index}")
    seed_pool = [s for src in seeds for s in src.sentences]
    main = rng.choice(others) if others else rng.choice(seeds)
    pool = [s for src in (*others, *seeds) for s in src.sentences]
    topical = rng.random() < TOPICAL_SHARE
    target = int(math.exp(rng.uniform(math.log(MIN_TEXT), math.log(MAX_TEXT))))
    paragraphs: list[str] = []
    size = 0
    while size < target:
        sentences = []
        for _ in range(rng.randint(2, 5)):
            if topical and rng.random() < 0.35:
                sentences.append(rng.choice(seed_pool))
            elif rng.random() < 0.5:
                sentences.append(rng.choice(main.sentences))
            else:
                sentences.append(rng.choice(pool))
        paragraph = _redraw_numbers(" ".join(sentences), rng)
        paragraphs.append(paragraph)
        size += len(paragraph.encode("utf-8")) + 1
    title = _headline(rng, seed_pool if topical else main.sentences)
    published = _BASE + timedelta(minutes=index * 7 + rng.randint(0, 6))
    return ArticleText(title, tuple(paragraphs), published, topical)


def article_texts(count: int, seed: int = DEFAULT_SEED) -> list[ArticleText]:
    return [article_text(i, seed) for i in range(count)]


# --- page templates ------------------------------------------------------------------------

_e = html.escape


@dataclass(frozen=True)
class _Ctx:
    text: ArticleText
    url: str
    site: str
    base: str
    section: str
    author: str
    rng: random.Random

    def link(self, path: str) -> str:
        return self.base + path


def _script_blob(rng: random.Random, kb: int) -> str:
    parts: list[str] = []
    size = 0
    while size < kb * 1024:
        n = rng.randrange(10**6)
        parts.append(
            f"window.__ad_slot_{n}={{id:{n},sizes:[[300,250],[728,90]],targeting:"
            f'{{kanal:"{rng.choice(_SECTIONS)}",pos:"mid{n % 7}"}}}};'
        )
        size += len(parts[-1])
    return "".join(parts)


def _links(ctx: _Ctx, titles: Sequence[str], css: str = "") -> str:
    return "".join(
        f'<li class="{css}"><a href="{ctx.link("/baca/" + str(i))}">{_e(t)}</a></li>'
        for i, t in enumerate(titles)
    )


def _portal(ctx: _Ctx) -> str:
    """The replay site's page (monitor.demo.sitebuilder), same furniture as ``pantau replay``."""
    others = tuple(
        CorpusDoc(Path(f"{i}.txt"), "txt", t, (), ctx.text.published, ctx.link(f"/x/{i}"), "")
        for i, t in enumerate(ctx.rng.sample(_OTHER_HEADLINES, 5))
    )
    doc = CorpusDoc(
        Path("page.txt"),
        "txt",
        ctx.text.title,
        ctx.text.paragraphs,
        ctx.text.published,
        ctx.url,
        ctx.site,
    )
    corpus = Corpus(ctx.site, ctx.base, (doc, *others))
    return render_page(doc, corpus, lambda p: ctx.base + p if p != doc.url_path else ctx.url)


def _detik(ctx: _Ctx) -> str:
    rng = ctx.rng
    menu = _links(ctx, [f"{s.title()} {i}" for i in range(rng.randint(4, 12)) for s in _SECTIONS])
    body: list[str] = []
    for i, p in enumerate(ctx.text.paragraphs):
        body.append(f"<p>{_e(p)}</p>")
        if i % rng.randint(3, 6) == 2:
            h = rng.choice(_OTHER_HEADLINES)
            body.append(
                f'<div class="lihatjuga"><strong>Baca juga:</strong> <a href="{ctx.link("/r")}">'
                f"{_e(h)}</a></div>"
            )
        if i % 5 == 4:
            body.append(
                '<div class="ad-inline"><span>ADVERTISEMENT</span>'
                "<p>SCROLL TO CONTINUE WITH CONTENT</p></div>"
            )
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": ctx.text.title,
            "datePublished": ctx.text.published.isoformat(),
            "author": {"name": ctx.author},
            "publisher": {"name": ctx.site},
        }
    )
    return f"""<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">
<title>{_e(ctx.text.title)} | {_e(ctx.site)}</title>
<link rel="canonical" href="{_e(ctx.url)}"><meta name="publishdate"
 content="{ctx.text.published.strftime("%Y/%m/%d %H:%M:%S")}">
<script type="application/ld+json">{ld}</script>
<script>{_script_blob(rng, rng.randint(5, 60))}</script></head><body>
<header><div class="topbar"><a href="{ctx.link("/")}">{_e(ctx.site)}</a> <a href="#">Login</a>
<a href="#">Daftar</a></div><nav class="megamenu"><ul>{menu}</ul></nav></header>
<div class="breadcrumb"><a href="{ctx.link("/")}">Home</a> &gt;
 <a href="{ctx.link("/" + ctx.section)}">{ctx.section.title()}</a></div>
<article class="detail"><div class="detail__header"><h1 class="detail__title">
{_e(ctx.text.title)}</h1><div class="detail__author">{_e(ctx.author)} - {_e(ctx.site)}</div>
<div class="detail__date">{ctx.text.published.strftime("%A, %d %b %Y %H:%M WIB")}</div></div>
<div class="detail__body-text itp_bodycontent">{"".join(body)}</div>
<div class="detail__body-tag"><a href="#">{ctx.section}</a><a href="#">nato</a></div>
<div class="simak"><h3>Simak Video "Kabar Terkini Hari Ini"</h3>
<a href="#">[Gambas:Video 20detik]</a></div></article>
<aside class="terpopuler"><h2>Terpopuler</h2><ol>{_links(ctx, _OTHER_HEADLINES)}</ol></aside>
<footer><ul>{_links(ctx, ["Redaksi", "Pedoman Media Siber", "Karir", "Kotak Pos", "Info Iklan"])}
</ul><p>Copyright @ {ctx.text.published.year} {_e(ctx.site)}. All right reserved</p></footer>
<script>{_script_blob(rng, rng.randint(2, 20))}</script></body></html>"""


def _wordpress(ctx: _Ctx) -> str:
    rng = ctx.rng
    body = "".join(f"<p>{_e(p)}</p>" for p in ctx.text.paragraphs)
    comments = "".join(
        f'<li class="comment"><div class="comment-author vcard"><b class="fn">Pembaca {i}</b>'
        f'</div><div class="comment-content"><p>{_e(rng.choice(_COMMENTS))}</p></div></li>'
        for i in range(rng.randint(0, 15))
    )
    recent = _links(ctx, rng.sample(_OTHER_HEADLINES, 6))
    archives = "".join(
        f'<li><a href="#">{m} 2025</a></li>' for m in ("Januari", "Februari", "Maret")
    )
    return f"""<!DOCTYPE html><html lang="id-ID"><head><meta charset="UTF-8">
<title>{_e(ctx.text.title)} &#8211; {_e(ctx.site)}</title>
<link rel="canonical" href="{_e(ctx.url)}">
<meta property="article:published_time" content="{ctx.text.published.isoformat()}">
<style>{"".join(f".wp-block-{i}{{margin:{i}px}}" for i in range(rng.randint(50, 400)))}</style>
</head><body class="post-template-default single single-post">
<div id="page" class="site"><header id="masthead" class="site-header">
<p class="site-title"><a href="{ctx.link("/")}">{_e(ctx.site)}</a></p>
<p class="site-description">Berita dan opini seputar dunia</p></header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main">
<article class="post type-post status-publish hentry"><header class="entry-header">
<h1 class="entry-title">{_e(ctx.text.title)}</h1><div class="entry-meta">
<span class="posted-on"><time class="entry-date published"
 datetime="{ctx.text.published.isoformat()}">{ctx.text.published:%d %B %Y}</time></span>
<span class="byline">oleh <a href="#">{_e(ctx.author)}</a></span></div></header>
<div class="entry-content">{body}</div>
<footer class="entry-footer"><span class="cat-links">Kategori: <a href="#">{ctx.section}</a>
</span></footer></article>
<nav class="post-navigation"><a href="#" rel="prev">{_e(rng.choice(_OTHER_HEADLINES))}</a></nav>
<div id="comments" class="comments-area"><h2 class="comments-title">Komentar</h2>
<ol class="comment-list">{comments}</ol><div id="respond"><h3>Leave a Reply</h3>
<p>Your email address will not be published.</p><textarea name="comment"></textarea></div>
</div></main></div>
<aside id="secondary" class="widget-area"><section class="widget"><h2>Recent Posts</h2>
<ul>{recent}</ul></section><section class="widget"><h2>Archives</h2><ul>{archives}</ul>
</section></aside></div><footer class="site-footer">Proudly powered by WordPress</footer>
</div></body></html>"""


def _amp(ctx: _Ctx) -> str:
    body = "".join(f"<p>{_e(p)}</p>" for p in ctx.text.paragraphs)
    return f"""<!doctype html><html amp lang="id"><head><meta charset="utf-8">
<title>{_e(ctx.text.title)}</title><link rel="canonical" href="{_e(ctx.url)}">
<meta name="viewport" content="width=device-width"><style amp-custom>body{{margin:0}}</style>
</head><body><header><a href="{ctx.link("/")}">{_e(ctx.site)}</a></header><article>
<h1>{_e(ctx.text.title)}</h1><time datetime="{ctx.text.published.isoformat()}">
{ctx.text.published:%d/%m/%Y}</time>{body}</article>
<footer>&copy; {ctx.text.published.year} {_e(ctx.site)}</footer></body></html>"""


def _magazine(ctx: _Ctx) -> str:
    rng = ctx.rng
    parts: list[str] = []
    for i, p in enumerate(ctx.text.paragraphs):
        if i == 1 or (i > 3 and rng.random() < 0.12):
            parts.append(
                f'<figure><img src="{ctx.link(f"/img/{i}.jpg")}" alt=""><figcaption>'
                f"Suasana di lokasi kejadian. (REUTERS/{rng.choice(_NAMES)})</figcaption></figure>"
            )
        if i > 2 and rng.random() < 0.08:
            parts.append(f'<blockquote class="pullquote">{_e(p[:120])}</blockquote>')
        parts.append(f"<p>{_e(p)}</p>")
    cards = "".join(
        f'<div class="card"><img src="/c{i}.jpg" alt=""><h4><a href="#">{_e(h)}</a></h4></div>'
        for i, h in enumerate(rng.sample(_OTHER_HEADLINES, 4))
    )
    return f"""<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">
<title>{_e(ctx.text.title)} | {_e(ctx.site)}</title>
<meta property="og:url" content="{_e(ctx.url)}"><meta property="og:title"
 content="{_e(ctx.text.title)}"><meta name="date" content="{ctx.text.published.isoformat()}">
</head><body><div class="cookie-banner">Situs ini memakai cookie. <button>Setuju</button></div>
<header class="mag-header"><nav>{_links(ctx, [s.title() for s in _SECTIONS])}</nav></header>
<main><article><div class="kicker">{ctx.section.title()}</div><h1>{_e(ctx.text.title)}</h1>
<p class="byline">Teks: {_e(ctx.author)} &middot; {ctx.text.published:%d %B %Y}</p>
<div class="article-body">{"".join(parts)}</div>
<div class="author-box"><b>{_e(ctx.author)}</b> adalah jurnalis {_e(ctx.site)}.</div>
<div class="newsletter">Berlangganan newsletter kami <input type="email"></div></article>
<section class="read-more"><h3>Baca Selanjutnya</h3>{cards}</section></main>
<footer><p>&copy; {ctx.text.published.year} {_e(ctx.site)}. Hak cipta dilindungi.</p></footer>
</body></html>"""


TEMPLATES: dict[str, Callable[[_Ctx], str]] = {
    "portal": _portal,
    "detik": _detik,
    "wordpress": _wordpress,
    "amp": _amp,
    "magazine": _magazine,
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:70] or "artikel"


def page(index: int, seed: int = DEFAULT_SEED, base_url: str | None = None) -> BenchPage:
    """Page ``index``: its article text wrapped in one of the templates.

    ``base_url`` (e.g. a loopback server) replaces the site's public host in every link.
    """
    text = article_text(index, seed)
    rng = random.Random(f"pantau-bench-page:{seed}:{index}")
    site, host = rng.choice(_SITES)
    base = base_url.rstrip("/") if base_url else f"https://{host}"
    section = rng.choice(_SECTIONS)
    url = f"{base}/{section}/{text.published:%Y/%m/%d}/{index}/{_slug(text.title)}"
    template = rng.choice(sorted(TEMPLATES))
    ctx = _Ctx(text, url, site, base, section, rng.choice(_NAMES), rng)
    return BenchPage(url, TEMPLATES[template](ctx).encode("utf-8"), template, text)


def build_pages(count: int = 500, seed: int = DEFAULT_SEED) -> list[BenchPage]:
    return [page(i, seed) for i in range(count)]


def describe(pages: Sequence[BenchPage]) -> dict[str, object]:
    """Corpus statistics for the results file."""
    sizes = sorted(p.article.text_bytes for p in pages)
    html_sizes = sorted(len(p.html) for p in pages)
    seeds, others = source_texts()
    return {
        "pages": len(pages),
        "text_kb_min_median_max": [
            round(x / 1024, 1) for x in (sizes[0], sizes[len(sizes) // 2], sizes[-1])
        ],
        "html_kb_median": round(html_sizes[len(html_sizes) // 2] / 1024, 1),
        "templates": {t: sum(p.template == t for p in pages) for t in sorted(TEMPLATES)},
        "topical": sum(p.article.topical for p in pages),
        "source_texts": {"seeds": len(seeds), "shared_articles": len(others)},
    }


# --- real pages ----------------------------------------------------------------------------

_ABSOLUTE_URL = re.compile(rb"""https?://[^\s"'<>]+""")
_CANONICAL = re.compile(
    rb"""<(?:link[^>]*rel=["']canonical["'][^>]*href|meta[^>]*property=["']og:url["'][^>]*"""
    rb"""content)=["']([^"']+)""",
    re.I,
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


@dataclass(frozen=True)
class RealPage:
    """A portal's page as it was saved (``../shared/corpus/articles/*.html``): what the
    synthetic pages stand in for. Real pages extract several times slower."""

    name: str  # file name
    url: str  # its canonical URL, else a placeholder under real.example
    title: str
    html: bytes


def reserved_keys(path: Path = EVALUATION_EXCLUSIONS) -> frozenset[str]:
    """SHA-256 of the URL keys reserved for evaluation outside this project."""
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and not ln.startswith("#"))


def is_reserved(raw: bytes, reserved: frozenset[str]) -> bool:
    """Whether any absolute URL in the page (its own, and -- erring on the safe side -- any it
    links to) has a reserved key: pages without a canonical link are known by their links."""
    for match in _ABSOLUTE_URL.finditer(raw):
        url = match.group().decode("utf-8", errors="replace")
        if hashlib.sha256(url_key(url).encode()).hexdigest() in reserved:
            return True
    return False


LOCAL_PAGES = Path(__file__).resolve().parent / "data" / "pages"


def real_pages(
    folders: tuple[Path, ...] = (LOCAL_PAGES, SHARED_ARTICLES),
    exclusions: Path = EVALUATION_EXCLUSIONS,
) -> tuple[list[RealPage], list[str]]:
    """(the real pages one may measure on, the names of those left out as reserved).

    ``benchmarks/data/pages``: real portal pages saved by public repositories, listed with
    their sources in its ``SOURCES.md``; they are not committed (the pages belong to their
    publishers and were brought in from repository snapshots), so a fresh clone measures on
    whatever of them it has. ``../shared/corpus/articles``: all but one of its pages are
    reserved for evaluation outside this project and are left out."""
    reserved = reserved_keys(exclusions)
    kept: list[RealPage] = []
    left_out: list[str] = []
    paths = [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.html"))]
    for path in paths:
        raw = path.read_bytes()
        if is_reserved(raw, reserved):
            left_out.append(path.name)
            continue
        canonical = _CANONICAL.search(raw)
        url = canonical.group(1).decode("utf-8", "replace").strip() if canonical else ""
        if not url.startswith(("http://", "https://")):
            url = f"https://real.example/{path.stem}"
        title = _TITLE.search(raw)
        head = html.unescape(title.group(1).decode("utf-8", "replace")) if title else ""
        kept.append(RealPage(path.name, url, " ".join(head.split()), raw))
    return kept, left_out
