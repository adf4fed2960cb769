"""Compact MinHash LSH: the band index behind dedup's near-duplicate lookup.

It proposes exactly the candidates ``datasketch.MinHashLSH`` would -- every indexed signature
that equals the query on all rows of at least one band, with the bands and rows datasketch
picks for the same (threshold, num_perm, weights) -- in ~1.2-1.5 KB per signature at 128
permutations (512 bytes of signature, 8-16 bytes per band entry) instead of datasketch's
~9 KB of dict-of-sets (a bytes key, a set and a key object per band and entry).

Layout, all numpy:

* signatures packed in one uint32 array ``[capacity, num_perm]``, one row per caller slot,
  grown geometrically (rows past the high-water mark are never touched, so cost no RSS);
* one open-addressing hash table (linear probing) shared by all bands, as two parallel arrays:
  a uint32 tag (high half of the band's 64-bit key) and the int32 slot (-1 empty, -2 deleted).
  Removal leaves a "deleted" mark that later inserts reuse; when live plus deleted entries
  fill half the table it is rebuilt, vectorised, from the live signatures at a third full.

Table hits are confirmed against the packed signatures (the band's rows must be equal), so
key collisions never add a candidate.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from numpy.polynomial.legendre import leggauss

__all__ = ["BandIndex", "lsh_params"]

_EMPTY = -1
_DELETED = -2
_MIN_TABLE = 1 << 12
_MIN_ROWS = 64
_FILL_MAX = 2  # rebuild when used (live + deleted) positions exceed capacity / _FILL_MAX
_FILL_AFTER = 3  # capacity after a rebuild: _FILL_AFTER x live entries
_SHRINK = 12  # rebuild smaller when live entries fall below capacity / _SHRINK
_CHUNK = 1024  # signatures per block when rebuilding: bounds transient memory
_RANGES = 16  # home-position ranges laid out one at a time when rebuilding
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_S29, _S32 = np.uint64(29), np.uint64(32)

IntArray = npt.NDArray[np.int64]
Hashvalues = npt.NDArray[np.uint32]


@lru_cache(maxsize=32)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float]) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and false negative areas.

    The same choice as ``datasketch.lsh._optimal_param``, without scipy: the integrands are
    polynomials of degree ``bands * rows <= num_perm``, which Gauss-Legendre quadrature with
    ``num_perm // 2 + 1`` nodes integrates exactly. Ties go to fewer bands, then fewer rows.
    """
    fp_weight, fn_weight = weights
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([b for b, _ in pairs], dtype=np.float64)[:, np.newaxis]
    rows = np.array([r for _, r in pairs], dtype=np.float64)[:, np.newaxis]
    nodes, node_weights = leggauss(num_perm // 2 + 1)

    def chance(lo: float, hi: float) -> npt.NDArray[np.float64]:
        """Per (b, r): chances, over similarities in [lo, hi], that no band collides."""
        return (1 - ((hi - lo) / 2 * nodes + (hi + lo) / 2) ** rows) ** bands

    def integral(lo: float, hi: float, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(values @ (node_weights * (hi - lo) / 2))

    false_positive = integral(0.0, threshold, 1 - chance(0.0, threshold))
    false_negative = integral(threshold, 1.0, chance(threshold, 1.0))
    error = false_positive * fp_weight + false_negative * fn_weight
    return pairs[int(np.argmin(error))]


class BandIndex:
    """MinHash signatures by caller-chosen slot (small non-negative ints), with LSH lookup."""

    def __init__(self, num_perm: int, bands: int, rows: int) -> None:
        if bands < 1 or rows < 1 or bands * rows > num_perm:
            raise ValueError(f"{bands} bands of {rows} rows do not fit {num_perm} permutations")
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        self._signatures = np.empty((0, num_perm), dtype=np.uint32)
        self._indexed = np.zeros(0, dtype=bool)
        self._count = 0
        self._used = 0  # table positions not empty: live entries plus deleted marks
        self._capacity = 0
        self._tags = np.zeros(0, dtype=np.uint32)
        self._slots = np.zeros(0, dtype=np.int32)
        self._salts = np.arange(1, bands + 1, dtype=np.uint64) * _GOLDEN
        self._multipliers = np.arange(1, 2 * rows, 2, dtype=np.uint64) * _GOLDEN | np.uint64(1)
        self._reset_table(_MIN_TABLE)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, slot: int) -> bool:
        return 0 <= slot < self._indexed.shape[0] and bool(self._indexed[slot])

    def insert(self, slot: int, hashvalues: Hashvalues) -> None:
        """Index ``hashvalues`` under ``slot`` (which must not be indexed already)."""
        if slot in self:
            raise ValueError(f"slot {slot} is already indexed")
        self._reserve(slot + 1)
        self._signatures[slot] = hashvalues
        self._indexed[slot] = True
        self._count += 1
        if (self._used + self.bands) * _FILL_MAX > self._capacity:
            self._rebuild()  # includes the new slot
            return
        for key in self._keys(self._signatures[slot : slot + 1]).ravel().tolist():
            self._put(key, slot)

    def remove(self, slot: int) -> None:
        """Forget the signature under ``slot``; unknown slots are ignored."""
        if slot not in self:
            return
        tags, slots, capacity = self._tag_view, self._slot_view, self._capacity
        for key in self._keys(self._signatures[slot : slot + 1]).ravel().tolist():
            tag, pos = key >> 32, key % capacity
            while slots[pos] != _EMPTY:
                if slots[pos] == slot and tags[pos] == tag:
                    slots[pos] = _DELETED
                    break
                pos = (pos + 1) % capacity
        self._indexed[slot] = False
        self._count -= 1
        if self._count * self.bands * _SHRINK < self._capacity and self._capacity > _MIN_TABLE:
            self._rebuild()

    def query(self, hashvalues: Hashvalues) -> IntArray:
        """Slots whose signature equals ``hashvalues`` on every row of at least one band."""
        if not self._count:
            return np.empty(0, dtype=np.int64)
        tags, slots, capacity = self._tag_view, self._slot_view, self._capacity
        found: set[int] = set()
        # Scalar probing beats numpy here: ~30 short chains, a third to half full.
        for key in self._keys(hashvalues[np.newaxis, :])[0].tolist():
            tag, pos = key >> 32, key % capacity
            while (slot := slots[pos]) != _EMPTY:
                if slot >= 0 and tags[pos] == tag:
                    found.add(slot)
                pos = (pos + 1) % capacity
        if not found:
            return np.empty(0, dtype=np.int64)
        candidates = np.fromiter(found, dtype=np.int64, count=len(found))
        width = self.bands * self.rows
        theirs = self._signatures[candidates, :width].reshape(-1, self.bands, self.rows)
        ours = hashvalues[:width].reshape(self.bands, self.rows)
        shared: IntArray = np.sort(candidates[(theirs == ours).all(axis=2).any(axis=1)])
        return shared

    def agreement(self, hashvalues: Hashvalues, slots: IntArray) -> IntArray:
        """How many permutations each slot's signature shares with ``hashvalues``."""
        counts: IntArray = np.count_nonzero(self._signatures[slots] == hashvalues, axis=1)
        return counts.astype(np.int64)

    def nbytes(self) -> int:
        """Bytes held in numpy arrays (signature rows past the high-water mark included)."""
        arrays = (self._signatures, self._indexed, self._tags, self._slots)
        return sum(a.nbytes for a in arrays)

    # --- internals -------------------------------------------------------------------------

    def _keys(self, signatures: Hashvalues) -> npt.NDArray[np.uint64]:
        """64-bit key of each band of each signature: ``[len(signatures), bands]``."""
        width = self.bands * self.rows
        cells = signatures[:, :width].reshape(-1, self.bands, self.rows).astype(np.uint64)
        # A random linear combination of the rows (mod 2**64), salted per band, then a
        # multiply-xorshift finaliser so every input bit reaches the position and the tag.
        key: npt.NDArray[np.uint64] = (cells * self._multipliers).sum(axis=2, dtype=np.uint64)
        key ^= self._salts
        key ^= key >> _S29
        key *= _MIX
        key ^= key >> _S32
        return key

    def _put(self, key: int, slot: int) -> None:
        self._place(key % self._capacity, key >> 32, slot)

    def _place(self, pos: int, tag: int, slot: int) -> None:
        slots, capacity = self._slot_view, self._capacity
        while slots[pos] >= 0:
            pos = (pos + 1) % capacity
        if slots[pos] == _EMPTY:
            self._used += 1
        slots[pos] = slot
        self._tag_view[pos] = tag

    def _reserve(self, size: int) -> None:
        if size <= self._indexed.shape[0]:
            return
        rows = max(size, _MIN_ROWS, 2 * self._indexed.shape[0])
        grown = np.empty((rows, self.num_perm), dtype=np.uint32)
        grown[: self._signatures.shape[0]] = self._signatures
        indexed = np.zeros(rows, dtype=bool)
        indexed[: self._indexed.shape[0]] = self._indexed
        self._signatures, self._indexed = grown, indexed

    def _reset_table(self, capacity: int) -> None:
        if capacity == self._capacity:  # in place: no second table alive during a rebuild
            self._tags.fill(0)
            self._slots.fill(_EMPTY)
        else:
            self._capacity = capacity
            self._tags = np.zeros(capacity, dtype=np.uint32)
            self._slots = np.full(capacity, _EMPTY, dtype=np.int32)
            self._tag_view = self._tags.data  # memoryviews: fast scalar access to entries
            self._slot_view = self._slots.data
        self._used = 0

    def _rebuild(self) -> None:
        """Lay every live entry out afresh, a third full, without deleted marks.

        Entries are placed range by range of home positions, so besides the table itself
        the transient arrays stay near 8 bytes per entry. The table is cleared in place
        when its size still fits (the usual case once a window is full).
        """
        live = np.flatnonzero(self._indexed)
        count = live.shape[0] * self.bands
        wanted = max(_MIN_TABLE, _FILL_AFTER * count)
        fits = wanted <= self._capacity <= wanted + wanted // 2
        self._reset_table(self._capacity if fits else wanted)
        capacity = self._capacity
        tags = np.empty(count, dtype=np.uint32)  # entry e: band e % bands of live[e // bands]
        homes = np.empty(count, dtype=np.uint32)
        for lo in range(0, live.shape[0], _CHUNK):
            keys = self._keys(self._signatures[live[lo : lo + _CHUNK]]).ravel()
            entries = slice(lo * self.bands, lo * self.bands + keys.shape[0])
            tags[entries] = keys >> _S32
            homes[entries] = keys % np.uint64(capacity)
        last = -1  # position of the entry placed last
        step = -(-capacity // _RANGES)
        for start in range(0, capacity, step):
            members = np.flatnonzero((homes >= start) & (homes < start + step))
            ordered = homes[members].astype(np.int64)
            order = np.argsort(ordered)  # any order among equal homes will do
            members, ordered = members[order], ordered[order]
            # Linear probing in order of home: each entry lands at its home or just after
            # the one before, i.e. position_i = i + max(last + 1, home_j - j for j <= i).
            ranks = np.arange(members.shape[0])
            positions = np.maximum(np.maximum.accumulate(ordered - ranks), last + 1) + ranks
            if not positions.shape[0]:
                continue
            last = int(positions[-1])
            inside = positions < capacity
            self._tags[positions[inside]] = tags[members[inside]]
            self._slots[positions[inside]] = live[members[inside] // self.bands]
            self._used += int(np.count_nonzero(inside))
            # The few that run off the end wrap round to the first free positions.
            for entry in members[~inside].tolist():
                self._place(0, int(tags[entry]), int(live[entry // self.bands]))
