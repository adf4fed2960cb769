"""Fast extraction first, the full pass when the fast text is short: no article loses text.

The full pass (trafilatura with its fallback extractors) is the reference: whatever body it
finds, fast-then-full must find too. Real pages come from ``../shared/corpus/articles``, less
those reserved for outside evaluation (``benchmarks.corpus.real_pages`` leaves them out).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import trafilatura
from lxml.html import tostring
from trafilatura.utils import load_html

from benchmarks.corpus import build_pages, real_pages
from monitor.demo.sitebuilder import build_site, load_corpus
from monitor.extract.article import FULL_PASS_BELOW, body_text, extract_article
from monitor.parse import decode_html

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
URL = "https://warta.example/nasional/2025/03/01/jembatan-baru"
ARTICLE = (
    "Pemerintah Provinsi Jawa Barat meresmikan jembatan baru di atas Sungai Citarum pada Senin.",
    "Jembatan sepanjang 120 meter itu menghubungkan dua kecamatan yang selama ini terpisah.",
    "Gubernur mengatakan pembangunan jembatan menghabiskan anggaran sekitar Rp45 miliar.",
    "Warga setempat menyambut gembira karena waktu tempuh ke pasar kini hanya sepuluh menit.",
    "Sebelumnya warga harus memutar sejauh dua belas kilometer melalui jalan desa yang rusak.",
    "Dinas Pekerjaan Umum memastikan jembatan mampu menahan beban kendaraan hingga 20 ton.",
    "Peresmian dihadiri bupati, anggota DPRD, dan ratusan warga dari kedua kecamatan itu.",
    "Pemerintah berencana membangun tiga jembatan serupa di wilayah selatan tahun depan.",
)


def _div_and_br_page(footer_paragraphs: int) -> str:
    """A portal page whose article is lines in a ``<div>`` split by ``<br>`` (as antaranews
    writes them), with ``footer_paragraphs`` short ``<p>`` items of other news below."""
    lines = [" ".join(ARTICLE[i : i + 2]) + " " + " ".join(ARTICLE) for i in range(0, 8, 2)]
    footer = "".join(
        f'<p class="small">Kabar lain {i}: pasar murah digelar di alun-alun kota pekan ini.</p>'
        for i in range(footer_paragraphs)
    )
    return f"""<html><head><title>Jembatan baru diresmikan</title></head><body>
<div id="menu"><a href="/">Beranda</a> <a href="/nasional">Nasional</a></div>
<div id="content_news">{"<br/><br/>".join(lines)}</div>
<div id="footer">{footer}</div></body></html>"""


def _fast_pass(html: str) -> str:
    text = trafilatura.extract(
        html,
        url=URL,
        fast=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
    )
    return text or ""


def _full_pass(html: str, url: str) -> str:
    text = trafilatura.extract(
        html,
        url=url,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
    )
    return text or ""


def _norm(text: str) -> str:
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Co")
    return " ".join(text.split())


def _sentences(text: str) -> list[str]:
    return [
        s.strip()
        for line in text.splitlines()
        for s in re.split(r"(?<=[.!?])\s+", line)
        if len(s.strip()) >= 20
    ]


def _pages() -> list[tuple[str, str, str]]:
    """(name, url, html) of the allowed real pages, the seed pages and benchmark pages."""
    found, _reserved = real_pages()
    out = [(p.name, p.url, decode_html(p.html, None)) for p in found]
    corpus = load_corpus(SEEDS)
    site = build_site(corpus, "http://127.0.0.1:8")
    out += [
        (
            doc.path.name,
            "http://127.0.0.1:8" + doc.url_path,
            decode_html(site.pages[doc.url_path][1], None),
        )
        for doc in corpus.docs
    ]
    out += [(p.url, p.url, p.html.decode("utf-8")) for p in build_pages(40)]
    return out


def test_short_fast_text_gets_the_full_pass_and_the_whole_article() -> None:
    # Enough paragraph text for the fast pass to be tried: it finds only the footer's news.
    html = _div_and_br_page(footer_paragraphs=FULL_PASS_BELOW // 40)
    assert len(_fast_pass(html).strip()) < FULL_PASS_BELOW
    body = _norm(extract_article(html, URL).body)
    assert all(_norm(sentence) in body for sentence in ARTICLE)


def test_page_without_paragraph_text_gets_its_article_from_the_full_pass() -> None:
    html = _div_and_br_page(footer_paragraphs=0)
    assert not _fast_pass(html)
    body = _norm(extract_article(html, URL).body)
    assert all(_norm(sentence) in body for sentence in ARTICLE)


def test_fast_then_full_keeps_what_the_full_pass_finds_on_every_page() -> None:
    pages = _pages()
    found, _reserved = real_pages()
    if not found:
        pytest.skip("no real page beside the checkout (../shared/corpus/articles)")
    short: list[str] = []
    for name, url, html in pages:
        full = _sentences(_full_pass(html, url))
        if not full:
            continue
        ours = _norm(body_text(load_html(html), url) or "")
        kept = [s for s in full if _norm(s) in ours]
        if len(kept) < 0.95 * len(full):
            short.append(f"{name}: {len(kept)}/{len(full)} sentences")
    assert not short, short


def test_extraction_leaves_the_parsed_page_as_it_was() -> None:
    html = _div_and_br_page(footer_paragraphs=FULL_PASS_BELOW // 40)
    tree = load_html(html)
    before = tostring(tree)
    first = body_text(tree, URL)
    assert tostring(tree) == before
    assert body_text(tree, URL) == first
