"""Dedup stage: one story, one alert.

Pure and in-memory. Three identities, checked in order:

1. the canonical URL (``monitor.dedup.urls.canonicalize_url``) -- already stored: drop;
2. the hash of the normalised body -- same text under another URL: a syndicated copy;
3. a MinHash signature of the body's word shingles, looked up in a MinHash LSH band index
   (``monitor.dedup.lsh``: datasketch's candidates in a fifth of its memory) -- the same wire
   story re-headlined, trimmed or wrapped in other page furniture.

Signatures are computed here with numpy (one SHA-1 per distinct word, shingle hashes and
all permutations vectorised) using datasketch's ``affine32`` permutation scheme: they equal
``datasketch.MinHash(num_perm, seed=1)`` fed the same shingle hashes, and plug into
``datasketch.MinHashLSH`` as ``LeanMinHash``. They are stored as little-endian uint32 bytes
(512 bytes at 128 permutations), independent of the datasketch version.

The index holds a bounded window (``DedupConfig.window_days``): it is rebuilt at start-up from
the database and ``prune`` keeps memory flat. ``check`` ignores entries older than the window
even before they are pruned.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from monitor.dedup.lsh import BandIndex, lsh_params
from monitor.errors import ConfigError

__all__ = [
    "DedupConfig",
    "DedupIndex",
    "DedupVerdict",
    "IndexedArticle",
    "Signature",
    "VerdictKind",
    "body_hash",
    "changed_substantially",
    "normalize_body",
    "shingle_hashes",
    "signature",
]

VerdictKind = Literal["new", "same_url", "exact", "near"]

SEED = 1  # datasketch's default seed: keeps signatures comparable with datasketch.MinHash
_MAX_HASH = np.uint32(0xFFFFFFFF)
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
_CHUNK = 4096  # shingles per numpy block: bounds memory on very long bodies
_WORD = re.compile(r"[^\W_]+")  # runs of letters/digits: punctuation and "_" separate words
_GRAM_BASIS = np.uint32(0x811C9DC5)
_GRAM_PRIME = np.uint32(0x9E3779B1)
_PARAGRAPH_SHINGLE = 3
_PARAGRAPH_CONTAINMENT = 0.8
_T = TypeVar("_T", bound=np.generic)


# --- text identity -------------------------------------------------------------------------


def normalize_body(text: str) -> str:
    """Fold case, punctuation and whitespace: the text two copies of one story share."""
    return " ".join(_words(text))


def body_hash(text: str) -> str:
    """SHA-256 hex digest of :func:`normalize_body` -- the exact-duplicate identity."""
    return _digest(_words(text))


def _words(text: str) -> list[str]:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _WORD.findall(text.casefold())


def _digest(words: Sequence[str]) -> str:
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


class Signature:
    """MinHash signature of a body: ``num_perm`` uint32 minima over its word shingles."""

    __slots__ = ("_values",)

    def __init__(self, values: npt.NDArray[np.uint32]) -> None:
        values = np.ascontiguousarray(values, dtype=np.uint32)
        values.setflags(write=False)
        self._values = values

    @property
    def hashvalues(self) -> npt.NDArray[np.uint32]:
        return self._values

    @property
    def is_empty(self) -> bool:
        """True for a body without words: such a signature matches nothing."""
        return bool(np.all(self._values == _MAX_HASH))

    def jaccard(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        if len(other) != len(self):
            raise ValueError(f"signatures differ in size: {len(self)} vs {len(other)}")
        return float(np.count_nonzero(self._values == other._values)) / len(self)

    def to_bytes(self) -> bytes:
        return self._values.astype("<u4", copy=False).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        if not data or len(data) % 4:
            raise ValueError(f"not a stored signature: {len(data)} bytes (need a multiple of 4)")
        return cls(np.frombuffer(data, dtype="<u4").astype(np.uint32))

    def __len__(self) -> int:
        return int(self._values.shape[0])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signature) and bool(np.array_equal(self._values, other._values))

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"Signature(num_perm={len(self)}, empty={self.is_empty})"


def signature(text: str, *, num_perm: int = 128, shingle: int = 5) -> Signature:
    """MinHash over the word ``shingle``-grams of the normalised body."""
    return _signature_of_words(_words(text), num_perm, shingle)


@dataclass(frozen=True)
class Fingerprint:
    """What the index needs of a body, computed once (in a worker process if need be):
    its word count, exact hash and MinHash signature (as stored)."""

    words: int
    body_hash: str
    signature: bytes


def fingerprint(text: str, *, num_perm: int = 128, shingle: int = 5) -> Fingerprint:
    """The body's :class:`Fingerprint`: what :meth:`DedupIndex.check` computes from it."""
    words = _words(text)
    sig = _signature_of_words(words, num_perm, shingle)
    return Fingerprint(len(words), _digest(words), sig.to_bytes())


def shingle_hashes(words: Sequence[str], size: int) -> npt.NDArray[np.uint32]:
    """Distinct 32-bit hashes of the word ``size``-grams (one gram if the text is shorter).

    A word's hash is the first 4 bytes of its UTF-8 SHA-1, little-endian, as datasketch's
    ``sha1_hash32`` (cached per process: SHA-1 runs once per distinct word); a gram's hash
    chains its words' hashes through the MurmurHash3 finalizer, vectorised over all
    positions. Stored signatures depend on this definition: changing it means re-signing the
    window (tests pin a known value).
    """
    if not words:
        return np.empty(0, dtype=np.uint32)
    # One cache lookup per word (in C); SHA-1 only for words the process has not seen.
    digests = b"".join(map(_word_hash, words))
    sequence = np.frombuffer(digests, dtype="<u4").astype(np.uint32)
    size = min(size, len(words))
    count = len(words) - size + 1
    hashed = np.full(count, _GRAM_BASIS, dtype=np.uint32)
    for offset in range(size):
        hashed = _fmix32(hashed * _GRAM_PRIME + sequence[offset : offset + count])
    return np.unique(hashed)


@lru_cache(maxsize=1 << 16)
def _word_hash(word: str) -> bytes:
    """First 4 bytes of the word's UTF-8 SHA-1. Cached: a news vocabulary is small and
    repeats from article to article (64k words, a few MB per process, worker or daemon)."""
    return hashlib.sha1(word.encode("utf-8")).digest()[:4]


def _signature_of_words(words: Sequence[str], num_perm: int, shingle: int) -> Signature:
    hashed = _fmix32(shingle_hashes(words, shingle))  # datasketch's affine32 pre-mix
    minima = np.full(num_perm, _MAX_HASH, dtype=np.uint32)
    a, b = _permutations(num_perm)
    for start in range(0, hashed.shape[0], _CHUNK):
        # (num_perm x chunk) block of a*h + b, wrapping mod 2^32 like datasketch.
        block = np.multiply.outer(a, hashed[start : start + _CHUNK])
        block += b[:, np.newaxis]
        np.minimum(minima, block.min(axis=1), out=minima)
    return Signature(minima)


def _fmix32(hv: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3 finalizer (datasketch's pre-mix for the affine32 scheme)."""
    s1, m1, s2, m2 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s1)


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    # Same draws as datasketch.MinHash(num_perm, seed=SEED) with scheme "affine32".
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


# --- follow-ups ----------------------------------------------------------------------------


def changed_substantially(old_body: str, new_body: str) -> list[str]:
    """Paragraphs of ``new_body`` that ``old_body`` does not already carry (near-)verbatim.

    A paragraph counts as carried when its normalised text occurs in the old body, or when
    at least 80% of its word 3-grams do (small edits, re-punctuation, a changed figure).
    Returned in order, as written in ``new_body``; an empty list means nothing new.
    """
    old_words = _words(old_body)
    old_padded = f" {' '.join(old_words)} "
    old_grams = _grams(old_words, _PARAGRAPH_SHINGLE)
    added: list[str] = []
    for paragraph in _paragraphs(new_body):
        words = _words(paragraph)
        if not words or f" {' '.join(words)} " in old_padded:
            continue
        grams = _grams(words, _PARAGRAPH_SHINGLE)
        carried = len(grams & old_grams) / len(grams)
        if carried < _PARAGRAPH_CONTAINMENT:
            added.append(paragraph)
    return added


def _grams(words: Sequence[str], size: int) -> set[tuple[str, ...]]:
    if len(words) <= size:
        return {tuple(words)}
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- the index -----------------------------------------------------------------------------


# Tuned on tests/test_dedup.py (exact Jaccard of the 5-word shingle sets): a syndicated copy
# of a seed or detik article -- new headline, byline, share bar, "Baca juga" and ADVERTISEMENT
# lines, footer, last paragraph trimmed -- scores 0.69-0.94 (0.57 with two paragraphs
# trimmed; seed 002, ~330 words, is the lowest), while any two *different* articles score
# <= 0.005, and two ~25-word video captions wrapped in the same ~50 words of furniture 0.35.
# 0.5 sits in that gap with room for MinHash noise (sd ~0.045 at 128 permutations).
DEFAULT_THRESHOLD = 0.5
_LSH_WEIGHTS = (0.2, 0.8)  # (false positive, false negative) weights for choosing bands
# A MinHash estimate is off by up to ~3 standard deviations (sd <= 0.5/sqrt(num_perm)): a
# rewritten short story of true similarity 0.60 was estimated at 0.48 and alerted as new.
# Candidates estimated that close to the threshold are judged on their exact shingle Jaccard
# when both shingle sets are at hand: the index keeps them for bodies up to EXACT_WORDS words
# (<= 1.6 KB each, the size of a signature row), which is where rewrites move the most.
EXACT_WORDS = 400
_EXACT_SIGMAS = 3.0
_RECENT_SHINGLES = 1024  # checked bodies whose shingles wait for ``add`` (by body hash)


@dataclass(frozen=True)
class DedupConfig:
    """Dedup knobs. ``min_words``: bodies shorter than this are matched by URL only --
    too little text (a video caption, a teaser) to tell two stories apart by content."""

    threshold: float = DEFAULT_THRESHOLD
    num_perm: int = 128
    shingle: int = 5
    window_days: int = 14
    min_words: int = 20

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"dedup.threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 16:
            raise ConfigError(f"dedup.num_perm must be at least 16, got {self.num_perm}")
        if self.shingle < 1:
            raise ConfigError(f"dedup.shingle must be at least 1, got {self.shingle}")
        if self.window_days < 1:
            raise ConfigError(f"dedup.window_days must be at least 1, got {self.window_days}")
        if self.min_words < 0:
            raise ConfigError(f"dedup.min_words must not be negative, got {self.min_words}")

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


@dataclass(frozen=True)
class IndexedArticle:
    """A stored article as the index needs it (one row of the database's window)."""

    article_id: int
    story_id: int
    canonical_url: str
    body_hash: str
    signature: bytes
    seen_at: datetime


@dataclass(frozen=True)
class DedupVerdict:
    """What ``check`` decided. ``story_id``/``article_id`` name the match (None for "new").

    * ``same_url`` -- the canonical URL is already stored: drop the article;
    * ``exact`` / ``near`` -- another URL carries the same story: attach to ``story_id``;
    * ``new`` -- a new story: store it and alert.

    ``signature`` and ``body_hash`` are the new article's, ready to be stored.
    """

    kind: VerdictKind
    story_id: int | None
    article_id: int | None
    similarity: float | None
    signature: Signature
    body_hash: str

    @property
    def is_duplicate(self) -> bool:
        return self.kind != "new"


class DedupIndex:
    """In-memory dedup index over a bounded window of stored articles.

    Lookups cost the same at 1k and 100k entries (see ``benchmarks/bench_dedup.py``). Memory
    is ~2-3 KB per entry at the defaults (see :mod:`monitor.dedup.lsh`): one packed signature
    row, ~30 band-table entries, a few numpy fields and the URL and body-hash strings, plus
    the shingle hashes of a body of at most ``EXACT_WORDS`` words (<= 1.6 KB) added after it
    was checked here, for exact verification near the threshold.
    Entries live in numbered slots, reused after ``prune``: per-slot numpy arrays and lists,
    no Python object per article beyond its strings and ids.
    """

    def __init__(self, config: DedupConfig | None = None) -> None:
        self._config = cfg = config or DedupConfig()
        # LSH only proposes candidates; each is confirmed against the threshold. Weighting
        # false negatives up (bands of 4 rows instead of 5 at the defaults) lifts recall at
        # the threshold from ~55% to ~86% (~97% at J=0.57) for a handful more candidates.
        bands, rows = lsh_params(cfg.threshold, cfg.num_perm, _LSH_WEIGHTS)
        self._lsh = BandIndex(cfg.num_perm, bands, rows)
        self._slot_of: dict[int, int] = {}  # article_id -> slot
        self._by_url: dict[str, int] = {}  # canonical URL -> slot of its newest article
        self._by_hash: dict[str, int] = {}  # body hash -> slot of its newest article
        self._free: list[int] = []
        self._article = np.zeros(0, dtype=np.int64)
        self._story = np.zeros(0, dtype=np.int64)
        self._seen = np.zeros(0, dtype=np.int64)  # microseconds since the epoch, UTC
        self._occupied = np.zeros(0, dtype=bool)
        self._urls: list[str] = []
        self._hashes: list[str] = []
        self._shingles: list[npt.NDArray[np.uint32] | None] = []  # short bodies only
        # Shingles of recently checked short bodies, for ``add`` of the same body (the caller
        # checks, stores, then adds): bounded, oldest dropped first.
        self._recent: OrderedDict[str, npt.NDArray[np.uint32]] = OrderedDict()
        self._margin = _EXACT_SIGMAS * 0.5 / math.sqrt(cfg.num_perm)

    @classmethod
    def rebuild(
        cls, records: Iterable[IndexedArticle], config: DedupConfig | None = None
    ) -> DedupIndex:
        """Index built at start-up from the database's window; older records are dropped."""
        index = cls(config)
        for record in records:
            index.add(record)
        if index._slot_of:
            newest = int(index._seen[index._occupied].max())
            index._prune_before(newest - _micros(index._config.window))
        return index

    @property
    def config(self) -> DedupConfig:
        return self._config

    @property
    def lsh_bands(self) -> tuple[int, int]:
        """(bands, rows) of the LSH: the pair datasketch picks for the same settings."""
        return self._lsh.bands, self._lsh.rows

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._slot_of

    def add(self, record: IndexedArticle) -> None:
        """Index a stored article (replaces an earlier entry with the same article_id)."""
        if record.article_id in self._slot_of:
            self._remove(self._slot_of[record.article_id])
        slot = self._allocate()
        self._slot_of[record.article_id] = slot
        self._article[slot] = record.article_id
        self._story[slot] = record.story_id
        self._seen[slot] = _micros(_utc(record.seen_at) - _EPOCH)
        self._occupied[slot] = True
        self._urls[slot] = record.canonical_url
        self._hashes[slot] = record.body_hash
        self._shingles[slot] = self._recent.get(record.body_hash)
        # Newest wins: its mapping outlives the older copies when the window slides.
        self._by_url[record.canonical_url] = slot
        self._by_hash[record.body_hash] = slot
        hashvalues = self._decode(record.signature)
        if hashvalues is not None and not np.all(hashvalues == _MAX_HASH):
            self._lsh.insert(slot, hashvalues)

    def check(
        self,
        canonical_url: str,
        body: str,
        *,
        at: datetime,
        fingerprint: Fingerprint | None = None,
    ) -> DedupVerdict:
        """Classify an incoming article against the window ending at ``at``. ``fingerprint``:
        the body's, when already computed with this index's settings (``body`` is then unread)."""
        cfg = self._config
        words: list[str] | None = None
        if fingerprint is None:
            words = _words(body)
            sig = _signature_of_words(words, cfg.num_perm, cfg.shingle)
            digest, count = _digest(words), len(words)
        else:
            sig = Signature.from_bytes(fingerprint.signature)
            digest, count = fingerprint.body_hash, fingerprint.words
        shingles: npt.NDArray[np.uint32] | None = None
        if cfg.min_words <= count <= EXACT_WORDS:
            words = words if words is not None else _words(body)
            if len(words) == count:  # the body the fingerprint was made from
                shingles = shingle_hashes(words, cfg.shingle)
                self._remember(digest, shingles)
        horizon = _micros(_utc(at) - cfg.window - _EPOCH)

        def verdict(kind: VerdictKind, slot: int | None, sim: float | None) -> DedupVerdict:
            story = int(self._story[slot]) if slot is not None else None
            article = int(self._article[slot]) if slot is not None else None
            return DedupVerdict(kind, story, article, sim, sig, digest)

        same = self._live(self._by_url.get(canonical_url), horizon)
        if same is not None:
            return verdict("same_url", same, None)
        if count < cfg.min_words:
            return verdict("new", None, None)
        exact = self._live(self._by_hash.get(digest), horizon)
        if exact is not None:
            return verdict("exact", exact, 1.0)
        near, similarity = self._nearest(sig, horizon, shingles)
        if near is not None:
            return verdict("near", near, similarity)
        return verdict("new", None, None)

    def prune(self, before: datetime) -> int:
        """Forget articles seen before ``before``; returns how many were removed."""
        return self._prune_before(_micros(_utc(before) - _EPOCH))

    def _prune_before(self, cutoff: int) -> int:
        stale = np.flatnonzero(self._occupied & (self._seen < cutoff))
        for slot in stale.tolist():
            self._remove(slot)
        return int(stale.shape[0])

    def _allocate(self) -> int:
        if self._free:
            return self._free.pop()
        slot = len(self._urls)
        if slot == self._seen.shape[0]:
            size = max(64, 2 * slot)
            self._article = _grown(self._article, size)
            self._story = _grown(self._story, size)
            self._seen = _grown(self._seen, size)
            self._occupied = _grown(self._occupied, size)
        self._urls.append("")
        self._hashes.append("")
        self._shingles.append(None)
        return slot

    def _remove(self, slot: int) -> None:
        del self._slot_of[int(self._article[slot])]
        url, digest = self._urls[slot], self._hashes[slot]
        if self._by_url.get(url) == slot:
            del self._by_url[url]
        if self._by_hash.get(digest) == slot:
            del self._by_hash[digest]
        self._lsh.remove(slot)
        self._occupied[slot] = False
        self._urls[slot] = self._hashes[slot] = ""
        self._shingles[slot] = None
        self._free.append(slot)

    def _live(self, slot: int | None, horizon: int) -> int | None:
        return slot if slot is not None and self._seen[slot] >= horizon else None

    def _remember(self, digest: str, shingles: npt.NDArray[np.uint32]) -> None:
        self._recent[digest] = shingles
        self._recent.move_to_end(digest)
        while len(self._recent) > _RECENT_SHINGLES:
            self._recent.popitem(last=False)

    def _nearest(
        self, sig: Signature, horizon: int, shingles: npt.NDArray[np.uint32] | None = None
    ) -> tuple[int | None, float | None]:
        if sig.is_empty:
            return None, None
        slots = self._lsh.query(sig.hashvalues)
        slots = slots[self._seen[slots] >= horizon]
        # LSH candidates are only likely matches: confirm against the threshold.
        similarity = self._lsh.agreement(sig.hashvalues, slots) / self._config.num_perm
        if shingles is not None:
            self._verify_exactly(slots, similarity, shingles)
        confirmed = similarity >= self._config.threshold
        slots, similarity = slots[confirmed], similarity[confirmed]
        if not slots.shape[0]:
            return None, None
        # Most similar first; on a tie the older article (the story's first report) wins.
        best = int(np.lexsort((self._article[slots], self._seen[slots], -similarity))[0])
        return int(slots[best]), float(similarity[best])

    def _verify_exactly(
        self,
        slots: npt.NDArray[np.int64],
        similarity: npt.NDArray[np.float64],
        shingles: npt.NDArray[np.uint32],
    ) -> None:
        """Replace, in place, the estimates within the margin of the threshold by the exact
        Jaccard of the shingle sets, where the candidate's are kept."""
        near = np.abs(similarity - self._config.threshold) <= self._margin
        for i in np.flatnonzero(near).tolist():
            theirs = self._shingles[int(slots[i])]
            if theirs is not None:
                similarity[i] = exact_jaccard(shingles, theirs)

    def _decode(self, data: bytes) -> npt.NDArray[np.uint32] | None:
        if len(data) != 4 * self._config.num_perm:
            return None  # unusable: the article is matched by URL and body hash only
        return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def exact_jaccard(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """Jaccard similarity of two sets of distinct shingle hashes (``shingle_hashes``)."""
    if not a.shape[0] and not b.shape[0]:
        return 1.0
    common = int(np.intersect1d(a, b, assume_unique=True).shape[0])
    return common / (int(a.shape[0]) + int(b.shape[0]) - common)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(delta: timedelta) -> int:
    """Whole microseconds in ``delta`` (exact: datetimes carry microseconds)."""
    return delta // timedelta(microseconds=1)


def _grown(array: npt.NDArray[_T], size: int) -> npt.NDArray[_T]:
    grown = np.zeros(size, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


def _utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
