"""Dedup: one story, one alert -- on the real seed articles and a detik section."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

from monitor.dedup.index import (
    SEED,
    DedupConfig,
    DedupIndex,
    DedupVerdict,
    IndexedArticle,
    Signature,
    body_hash,
    changed_substantially,
    normalize_body,
    shingle_hashes,
    signature,
)
from monitor.dedup.lsh import BandIndex, lsh_params
from monitor.errors import ConfigError

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"
RELEVANCE_CORPUS = Path(__file__).resolve().parents[1] / "data" / "relevance" / "corpus.jsonl"
NOW = datetime(2025, 4, 24, 12, 0, tzinfo=UTC)
# Paragraphs that scrapers glued together ("...Gedung Putih.Dirangkum detikcom...").
_GLUED = re.compile(r'(?<=[.!?"])(?=[A-Z"])')


def minhash(sig: Signature) -> LeanMinHash:
    """The same signature as datasketch's MinHash (seed 1, the affine32 scheme Pantau uses)."""
    return LeanMinHash(seed=SEED, hashvalues=sig.hashvalues, scheme="affine32")


def _seed_texts() -> dict[str, str]:
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt"))}


SEEDS = _seed_texts()


@pytest.fixture(scope="module")
def detik_bodies() -> dict[str, str]:
    """One site's articles: the tribunnews texts of the labelled corpus (real, and not among the
    pages reserved for outside evaluation, which ``../shared/corpus/articles`` holds)."""
    rows = [json.loads(line) for line in RELEVANCE_CORPUS.read_text("utf-8").splitlines()]
    bodies = {
        f"t{i:02d}": r["text"].partition("\n\n")[2] or r["text"]
        for i, r in enumerate(r for r in rows if urlsplit(r["url"]).netloc == "m.tribunnews.com")
    }
    assert len(bodies) >= 10, "tribunnews articles in tests/data/relevance/corpus.jsonl"
    return bodies


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for line in text.splitlines() for p in _GLUED.split(line) if p.strip()]


def syndicated_copy(text: str, *, has_headline: bool, trim: int = 1) -> str:
    """Another portal's copy: new headline, byline, share bar, inserted "Baca juga" and
    ADVERTISEMENT lines, a footer, and the last ``trim`` paragraphs cut."""
    paragraphs = _paragraphs(text)[1 if has_headline else 0 :]
    kept = paragraphs[: len(paragraphs) - trim] if len(paragraphs) > trim else paragraphs
    out = [
        "Ringkasan Berita: Kabar Terbaru yang Perlu Anda Ketahui Hari Ini",
        "Penulis: Ahmad Fauzi | Editor: Rina Wulandari",
        "Bagikan: Facebook Twitter WhatsApp Salin Tautan",
    ]
    for i, paragraph in enumerate(kept):
        out.append(paragraph)
        if i == 1:
            out.append("Baca juga: Harga Emas Antam Hari Ini Naik Rp 5.000 per Gram")
        if i == 3:
            out.append("ADVERTISEMENT")
    out += [
        "(ant/rw)",
        "Simak berita dan artikel lainnya di Google News",
        "Copyright © 2024 Liputan6.com. All rights reserved.",
    ]
    return "\n".join(out)


def record(
    article_id: int, url: str, body: str, *, seen_at: datetime = NOW, story_id: int | None = None
) -> IndexedArticle:
    return IndexedArticle(
        article_id=article_id,
        story_id=article_id if story_id is None else story_id,
        canonical_url=url,
        body_hash=body_hash(body),
        signature=signature(body).to_bytes(),
        seen_at=seen_at,
    )


def index_of(bodies: dict[str, str], config: DedupConfig | None = None) -> DedupIndex:
    index = DedupIndex(config)
    for n, (name, body) in enumerate(sorted(bodies.items()), start=1):
        index.add(record(n, f"https://www.origin.example/{name}", body))
    return index


# --- stories ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_syndicated_copy_of_a_seed_joins_its_story(name: str) -> None:
    index = index_of(SEEDS)
    story = sorted(SEEDS).index(name) + 1
    copy = syndicated_copy(SEEDS[name], has_headline=True)
    verdict = index.check("https://www.liputan6.com/news/read/1", copy, at=NOW)
    assert (verdict.kind, verdict.story_id) == ("near", story)
    assert verdict.similarity is not None and verdict.similarity >= index.config.threshold


def test_short_seed_copy_still_joins_with_two_paragraphs_trimmed() -> None:
    short = SEEDS["002"]  # ~2.4 KB, the shortest seed: each trimmed paragraph weighs most
    index = index_of({"002": short})
    copy = syndicated_copy(short, has_headline=True, trim=2)
    assert index.check("https://www.viva.co.id/x", copy, at=NOW).kind == "near"


def test_syndicated_copies_of_detik_articles_join_the_right_story(
    detik_bodies: dict[str, str],
) -> None:
    bodies = {**SEEDS, **detik_bodies}
    index = index_of(bodies)
    for story, (name, body) in enumerate(sorted(bodies.items()), start=1):
        if len(normalize_body(body).split()) < 100:  # video captions: see the short-body test
            continue
        copy = syndicated_copy(body, has_headline=name in SEEDS)
        verdict = index.check(f"https://www.okezone.com/{name}", copy, at=NOW)
        assert (verdict.kind, verdict.story_id) == ("near", story), name


def test_no_two_seed_articles_merge() -> None:
    pairs = list(itertools.combinations(sorted(SEEDS), 2))
    assert len(pairs) == 10
    for first, second in pairs:
        index = index_of({first: SEEDS[first]})
        verdict = index.check(f"https://www.other.example/{second}", SEEDS[second], at=NOW)
        assert verdict.kind == "new", (first, second, verdict.similarity)
        assert signature(SEEDS[first]).jaccard(signature(SEEDS[second])) < 0.1


def test_no_two_articles_of_one_detik_section_merge(detik_bodies: dict[str, str]) -> None:
    # Same site, same section, same furniture ("SCROLL TO CONTINUE WITH CONTENT"). Each
    # article against an index of the other twelve: every one of the 78 pairs, both ways.
    for name, body in sorted(detik_bodies.items()):
        others = {other: b for other, b in detik_bodies.items() if other != name}
        verdict = index_of(others).check(f"https://news.detik.com/{name}", body, at=NOW)
        assert verdict.kind == "new", (name, verdict.article_id, verdict.similarity)
    signatures = {name: signature(body) for name, body in detik_bodies.items()}
    for first, second in itertools.combinations(sorted(signatures), 2):
        assert signatures[first].jaccard(signatures[second]) < 0.1, (first, second)


def test_syndicated_copies_of_different_articles_do_not_merge(
    detik_bodies: dict[str, str],
) -> None:
    # Two portals wrapping two different stories in identical furniture.
    bodies = {**SEEDS, **detik_bodies}
    copies = {name: syndicated_copy(b, has_headline=name in SEEDS) for name, b in bodies.items()}
    for first, second in itertools.combinations(sorted(copies), 2):
        assert signature(copies[first]).jaccard(signature(copies[second])) < 0.5, (first, second)


def test_same_text_reformatted_is_an_exact_duplicate() -> None:
    index = index_of({"001": SEEDS["001"]})
    reformatted = "  ".join(SEEDS["001"].upper().split()).replace(",", " ,")
    verdict = index.check("https://www.tribunnews.com/x", reformatted, at=NOW)
    assert (verdict.kind, verdict.story_id, verdict.similarity) == ("exact", 1, 1.0)


def test_known_canonical_url_is_dropped_even_if_the_page_changed() -> None:
    index = index_of({"001": SEEDS["001"]})
    verdict = index.check("https://www.origin.example/001", SEEDS["003"], at=NOW)
    assert (verdict.kind, verdict.story_id, verdict.article_id) == ("same_url", 1, 1)


def test_new_story_verdict_carries_what_to_store() -> None:
    index = index_of({"001": SEEDS["001"]})
    verdict = index.check("https://www.other.example/x", SEEDS["004"], at=NOW)
    assert verdict == DedupVerdict(
        "new", None, None, None, signature(SEEDS["004"]), verdict.body_hash
    )
    assert verdict.body_hash == body_hash(SEEDS["004"])
    assert not verdict.is_duplicate


def test_short_bodies_are_matched_by_url_only() -> None:
    caption = "Paus Fransiskus meninggal dunia di Vatikan pada pukul 07:35 pagi waktu setempat."
    index = index_of({"caption": caption})
    assert index.check("https://www.other.example/v", caption, at=NOW).kind == "new"
    assert index.check("https://www.origin.example/caption", caption, at=NOW).kind == "same_url"


# --- window, memory, rebuild ----------------------------------------------------------------


def test_articles_older_than_the_window_no_longer_match() -> None:
    config = DedupConfig(window_days=14)
    index = DedupIndex(config)
    index.add(record(1, "https://www.origin.example/a", SEEDS["001"], seen_at=NOW))
    copy = syndicated_copy(SEEDS["001"], has_headline=True)
    assert index.check("https://x.example/b", copy, at=NOW + timedelta(days=13)).kind == "near"
    assert index.check("https://x.example/b", copy, at=NOW + timedelta(days=15)).kind == "new"


def test_pruning_keeps_memory_flat_over_months() -> None:
    index = DedupIndex(DedupConfig(window_days=14))
    texts = list(SEEDS.values())
    for day in range(120):
        moment = NOW + timedelta(days=day)
        index.add(record(day, f"https://www.origin.example/{day}", texts[day % 5], seen_at=moment))
        index.prune(moment - index.config.window)
        assert len(index) <= 15
    assert len(index) == 15


def test_prune_forgets_urls_hashes_and_signatures() -> None:
    index = index_of({"001": SEEDS["001"]})
    assert index.prune(NOW + timedelta(seconds=1)) == 1
    assert len(index) == 0
    assert index.check("https://www.origin.example/001", SEEDS["001"], at=NOW).kind == "new"


def test_rebuild_from_stored_rows_gives_the_same_verdicts() -> None:
    live = DedupIndex()
    stored: list[IndexedArticle] = []
    for n, (name, body) in enumerate(sorted(SEEDS.items()), start=1):
        url = f"https://www.origin.example/{name}"
        verdict = live.check(url, body, at=NOW)
        row = IndexedArticle(n, n, url, verdict.body_hash, verdict.signature.to_bytes(), NOW)
        live.add(row)
        stored.append(row)
    stale = record(99, "https://www.origin.example/old", "lama " * 50, seen_at=NOW - timedelta(30))
    rebuilt = DedupIndex.rebuild([stale, *stored], DedupConfig())
    assert len(rebuilt) == 5
    copy = syndicated_copy(SEEDS["003"], has_headline=True)
    for index in (live, rebuilt):
        verdict = index.check("https://www.kumparan.com/x", copy, at=NOW)
        assert (verdict.kind, verdict.story_id) == ("near", 4)  # 000 is story 1


def test_unreadable_stored_signature_still_matches_by_url_and_hash() -> None:
    good = record(1, "https://www.origin.example/a", SEEDS["001"])
    broken = IndexedArticle(1, 1, good.canonical_url, good.body_hash, b"\x00\x01\x02", NOW)
    index = DedupIndex.rebuild([broken])
    assert index.check(good.canonical_url, "", at=NOW).kind == "same_url"
    assert index.check("https://b.example/", SEEDS["001"], at=NOW).kind == "exact"


def test_readding_an_article_replaces_its_entry() -> None:
    index = DedupIndex()
    index.add(record(1, "https://www.origin.example/a", SEEDS["001"]))
    index.add(record(1, "https://www.origin.example/a", SEEDS["002"]))
    assert len(index) == 1
    assert index.check("https://b.example/", SEEDS["001"], at=NOW).kind == "new"
    assert index.check("https://b.example/", SEEDS["002"], at=NOW).kind == "exact"


def test_naive_timestamps_are_taken_as_utc() -> None:
    index = DedupIndex()
    index.add(
        record(1, "https://www.origin.example/a", SEEDS["001"], seen_at=datetime(2025, 4, 20))
    )
    assert index.check("https://b.example/", SEEDS["001"], at=NOW).kind == "exact"


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"num_perm": 8}, {"shingle": 0}, {"window_days": 0}],
)
def test_bad_dedup_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="dedup"):
        DedupConfig(**kwargs)  # type: ignore[arg-type]


# --- signatures and text identity ------------------------------------------------------------


def test_body_hash_folds_whitespace_case_and_punctuation() -> None:
    assert (
        normalize_body("  NATO:\n\n“Rusia”  menyerang—Ukraina!! ") == "nato rusia menyerang ukraina"
    )
    assert body_hash("Rusia, menyerang.") == body_hash("rusia menyerang")
    assert body_hash("Rusia menyerang") != body_hash("Ukraina menyerang")


def test_signature_is_compact_and_round_trips_through_bytes() -> None:
    sig = signature(SEEDS["000"])
    data = sig.to_bytes()
    assert len(data) == 128 * 4
    assert Signature.from_bytes(data) == sig
    with pytest.raises(ValueError, match="not a stored signature"):
        Signature.from_bytes(b"abc")


def test_signature_is_stable_across_releases() -> None:
    # Stored signatures must stay comparable: this pins the shingle hash and permutations.
    text = "Jakarta (ANTARA) - Sekretaris Jenderal NATO Mark Rutte bertemu Presiden Ukraina."
    assert signature(text).to_bytes()[:8].hex() == "f6fdbe0c44846e3d"


def test_signature_equals_datasketch_minhash_of_the_same_shingles() -> None:
    reference = MinHash(num_perm=128, hashfunc=int)
    words = normalize_body(SEEDS["004"]).split()
    reference.update_batch([int(h) for h in shingle_hashes(words, 5)])
    assert np.array_equal(reference.hashvalues, signature(SEEDS["004"]).hashvalues)


def test_signatures_plug_into_datasketch_lsh() -> None:
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for name, body in SEEDS.items():
        lsh.insert(name, minhash(signature(body)))
    copy = syndicated_copy(SEEDS["001"], has_headline=True)
    assert lsh.query(minhash(signature(copy))) == ["001"]


def test_empty_body_signature_matches_nothing() -> None:
    assert signature("").is_empty
    assert signature("...!").is_empty
    assert not signature("satu").is_empty


# --- follow-ups -------------------------------------------------------------------------------


def test_new_paragraph_naming_an_actor_is_reported_as_the_change() -> None:
    old = SEEDS["002"]
    added = "Sekjen NATO Mark Rutte mengatakan Rusia harus menarik pasukannya dari Ukraina."
    lines = old.splitlines()
    updated = "\n".join([*lines[:3], added, *lines[3:]])
    assert changed_substantially(old, updated) == [added]


def test_reworded_trimmed_or_refurnished_copy_has_no_substantial_change() -> None:
    old = SEEDS["001"]
    paragraphs = _paragraphs(old)
    repunctuated = "\n".join(p.replace(",", "").upper() for p in paragraphs[:-1])
    assert changed_substantially(old, repunctuated) == []
    assert changed_substantially(old, old) == []


def test_small_edit_inside_a_paragraph_is_not_a_change() -> None:
    old = SEEDS["003"]
    paragraph = max(_paragraphs(old), key=len)
    edited = paragraph.replace(paragraph.split()[5], "diperbarui", 1)
    assert changed_substantially(old, edited) == []


# --- the band index ---------------------------------------------------------------------------


def _related_signatures(rng: np.random.Generator, count: int) -> list[npt.NDArray[np.uint32]]:
    """Signatures in families: each copies a random share of an earlier one's values, so
    queries meet every outcome -- no shared band, one, many."""
    out: list[npt.NDArray[np.uint32]] = []
    for _ in range(count):
        sig = rng.integers(0, 2**32 - 1, 128, dtype=np.uint32)
        if out and rng.random() < 0.7:
            parent = out[int(rng.integers(len(out)))]
            keep = rng.random(128) < rng.uniform(0.3, 1.0)
            sig[keep] = parent[keep]
        out.append(sig)
    return out


def test_band_index_proposes_exactly_datasketchs_candidates() -> None:
    rng = np.random.default_rng(9)
    sigs = _related_signatures(rng, 3000)
    reference = MinHashLSH(threshold=0.5, num_perm=128, weights=(0.2, 0.8))
    # Grows and rebuilds its band table several times on the way.
    ours = BandIndex(128, *lsh_params(0.5, 128, (0.2, 0.8)))
    assert (ours.bands, ours.rows) == (reference.b, reference.r) == (30, 4)
    live: set[int] = set()
    for step, sig in enumerate(sigs):
        reference.insert(step, minhash(Signature(sig)), check_duplication=False)
        ours.insert(step, sig)
        live.add(step)
        if step % 3 == 0 and len(live) > 50:  # slide a window: deleted marks, reused slots
            gone = min(live)
            live.discard(gone)
            reference.remove(gone)
            ours.remove(gone)
        if step % 25 == 0:
            probe = sigs[int(rng.integers(step + 1))]
            expected = sorted(reference.query(minhash(Signature(probe))))
            assert ours.query(probe).tolist() == expected, step
    for sig in sigs[::7]:
        expected = sorted(reference.query(minhash(Signature(sig))))
        assert ours.query(sig).tolist() == expected
    assert len(ours) == len(live)


def test_band_index_stays_exact_while_a_full_window_slides() -> None:
    # Steady state: one in, one out. Deleted marks pile up and the table is rebuilt in place.
    rng = np.random.default_rng(11)
    sigs = _related_signatures(rng, 6000)
    ours = BandIndex(128, 30, 4)
    window = 400
    for step, sig in enumerate(sigs):
        ours.insert(step % (window + 1), sig)  # slots reused round-robin
        if step >= window:
            ours.remove((step + 1) % (window + 1))
        if step % 97 == 0 and step >= window:
            live = {(step - k) % (window + 1): sigs[step - k] for k in range(window)}
            probe = sigs[int(rng.integers(step + 1))]
            expected = sorted(
                slot
                for slot, theirs in live.items()
                if (theirs[:120].reshape(30, 4) == probe[:120].reshape(30, 4)).all(1).any()
            )
            assert ours.query(probe).tolist() == expected, step
    assert len(ours) == window


def test_band_index_shrinks_back_when_the_window_empties() -> None:
    ours = BandIndex(128, 30, 4)
    sigs = _related_signatures(np.random.default_rng(3), 2000)
    for slot, sig in enumerate(sigs):
        ours.insert(slot, sig)
    full = ours.nbytes()
    for slot in range(1990):
        ours.remove(slot)
    assert len(ours) == 10
    assert ours.query(sigs[1995]).tolist() == [1995]
    assert 5 not in ours.query(sigs[5]).tolist()
    assert ours.nbytes() < full  # the band table was rebuilt smaller


@pytest.mark.parametrize(
    ("threshold", "num_perm", "weights"),
    [(0.5, 128, (0.2, 0.8)), (0.3, 64, (0.2, 0.8)), (0.8, 256, (0.5, 0.5)), (0.95, 16, (0.5, 0.5))],
)
def test_bands_and_rows_are_datasketchs_choice(
    threshold: float, num_perm: int, weights: tuple[float, float]
) -> None:
    from datasketch.lsh import _optimal_param

    assert lsh_params(threshold, num_perm, weights) == _optimal_param(threshold, num_perm, *weights)


def test_threshold_of_one_needs_the_whole_signature_to_agree() -> None:
    # datasketch refuses a single band; this index takes it: only identical signatures match.
    index = DedupIndex(DedupConfig(threshold=1.0))
    assert index.lsh_bands == (1, 128)
    index.add(record(1, "https://www.origin.example/a", SEEDS["001"]))
    copy = syndicated_copy(SEEDS["001"], has_headline=True)
    assert index.check("https://b.example/", copy, at=NOW).kind == "new"


def test_index_holds_a_window_in_a_few_kilobytes_per_article() -> None:
    rng = np.random.default_rng(5)
    sigs = _related_signatures(rng, 2500)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = DedupIndex()
        for n, sig in enumerate(sigs):
            url = f"https://www.kabarnusantara.example/berita/2025/04/24/{n}/judul-berita"
            digest = hashlib.sha256(url.encode()).hexdigest()
            index.add(IndexedArticle(n, n, url, digest, sig.astype("<u4").tobytes(), NOW))
        per_article = (tracemalloc.get_traced_memory()[0] - before) / len(index)
    finally:
        tracemalloc.stop()
    assert per_article < 2500, per_article  # ~1.8 KB; datasketch's MinHashLSH alone took ~9 KB
