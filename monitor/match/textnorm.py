"""Text folding for matching: one normalised string plus a map back to the original characters.

The matcher runs its Aho-Corasick automaton over the *folded* text (case folded, diacritics
removed, dashes and whitespace runs collapsed to one space) and reports spans in the *original*
text through ``FoldMap.orig``. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

# Dashes and hyphens split compounds ("Rusia-Ukraina", "AS–Rusia") like a space would.
_DASHES = frozenset("-‐‑‒–—―−_")
# Letters that NFKD leaves alone but readers treat as plain Latin.
_EXTRA = {"ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ı": "i", "ŀ": "l", "þ": "th"}


@dataclass(frozen=True)
class Folded:
    """``text`` is the folded string; ``orig[i]`` is the original index of ``text[i]``."""

    text: str
    orig: tuple[int, ...]


@dataclass(frozen=True)
class FoldMap:
    """The folded string with a compact map back to the original text.

    Folded and original text run in step except at a few seams (collapsed whitespace, letters
    that fold to several or none): from folded index ``starts[j]`` on, the original index is the
    folded one plus ``deltas[j]``.
    """

    text: str
    starts: tuple[int, ...]
    deltas: tuple[int, ...]

    def orig(self, i: int) -> int:
        """Original index of ``text[i]``."""
        return i + self.deltas[bisect_right(self.starts, i) - 1]

    def folded(self) -> Folded:
        return Folded(self.text, tuple(self.orig(i) for i in range(len(self.text))))


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """Fold one character: case, diacritics, compatibility forms. May return '' or several."""
    if ch.isascii():
        return " " if ch in _DASHES or ch.isspace() else ch.lower()
    if ch in _DASHES or ch.isspace():
        return " "
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = base.casefold()
    folded = "".join(_EXTRA.get(c, c) for c in folded if not unicodedata.combining(c))
    return " " if folded.isspace() else folded


# Folding is ``fold_char`` on every character, then runs of spaces collapse to one and leading
# spaces go. Plain ASCII (one space at a time) only needs ``lower()``, in bulk; the rest comes in
# runs: whitespace and dashes other than a lone space, and anything non-ASCII.
_IRREGULAR = re.compile(r"[\s\-_\x80-\U0010ffff]{2,}|[^\S ]|[\-_\x80-\U0010ffff]")


@lru_cache(maxsize=4096)
def _fold_run(run: str, last_space: bool) -> tuple[str, tuple[int, ...], bool]:
    """Fold one irregular run: the text, each character's index in ``run``, ends in a space."""
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(run):
        for c in fold_char(ch):
            if c == " ":
                if last_space:
                    continue
                last_space = True
            else:
                last_space = False
            out.append(c)
            offsets.append(i)
    return "".join(out), tuple(offsets), last_space


# ASCII folds byte for byte; every other character of ``text.encode("ascii", "replace")`` is a "?".
_ASCII = bytes(ord(fold_char(chr(i))) for i in range(128)) + bytes(range(128, 256))


def fold_map(text: str) -> FoldMap:
    """Fold ``text``: case folded, diacritics removed, dashes and whitespace runs as one space."""
    raw = text.encode("ascii", "replace")
    chars = raw.translate(_ASCII).decode("ascii")
    if not text.isascii():
        parts: list[str] = []
        pos = 0
        at = raw.find(b"?")
        while at != -1:
            piece = fold_char(text[at])
            if len(piece) != 1:
                return _fold_uneven(text)  # letters that fold to several characters or none
            parts += (chars[pos:at], piece)
            pos = at + 1
            at = raw.find(b"?", pos)
        parts.append(chars[pos:])
        chars = "".join(parts)
    # One character each way so far: only runs of spaces shift the map.
    lead = len(chars) - len(chars.lstrip(" "))
    kept: list[str] = []
    starts, deltas = [0], [lead]
    pos = lead
    k = 0
    at = chars.find("  ", pos)
    while at != -1:
        end = _space_run_end(chars, at)
        kept.append(chars[pos : at + 1])
        k += at + 1 - pos
        pos = end
        starts.append(k)
        deltas.append(end - k)
        at = chars.find("  ", pos)
    kept.append(chars[pos:])
    return FoldMap("".join(kept), tuple(starts), tuple(deltas))


def folded_words(text: str) -> list[str]:
    """``fold_map(text).text.split()`` without the map: folding is ``fold_char`` on every
    character (plain ASCII byte for byte), and collapsing spaces changes no word."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII).decode("ascii").split()
    return "".join(map(fold_char, text)).split()


def _space_run_end(chars: str, at: int) -> int:
    end = at + 2
    while end < len(chars) and chars[end] == " ":
        end += 1
    return end


def _fold_uneven(text: str) -> FoldMap:
    """``fold_map`` for text with characters that fold to several characters or to none."""
    parts: list[str] = []
    starts, deltas = [0], [0]
    k = pos = 0  # next folded and original index
    last_space = True  # also drops leading whitespace

    def seam(at: int, delta: int) -> None:
        if deltas[-1] != delta:
            if starts[-1] == at:
                deltas[-1] = delta
            else:
                starts.append(at)
                deltas.append(delta)

    for m in chain(_IRREGULAR.finditer(text), (None,)):
        a = m.start() if m is not None else len(text)
        if a > pos:  # plain ASCII: a lone space here is never next to another one
            chunk = text[pos:a].lower()
            if last_space and chunk[0] == " ":  # only at the very start
                chunk, pos = chunk[1:], pos + 1
            if chunk:
                seam(k, pos - k)
                parts.append(chunk)
                k += len(chunk)
                last_space = chunk[-1] == " "
        if m is None:
            break
        out, offsets, last_space = _fold_run(m.group(), last_space)
        for j, off in enumerate(offsets):
            seam(k + j, a + off - k - j)
        parts.append(out)
        k += len(out)
        pos = m.end()
    return FoldMap("".join(parts), tuple(starts), tuple(deltas))


def fold(text: str) -> Folded:
    """Fold ``text`` keeping a map from every folded character to its original index."""
    return fold_map(text).folded()


def fold_term(term: str) -> str:
    """The automaton key for a lexicon term (same folding as the text, trimmed)."""
    return fold(term).text.strip()


def camel_start(text: str, i: int) -> bool:
    """True when a word may start at ``text[i]`` inside a glued token (``ChatSekjenNATO``)."""
    if i <= 0 or i >= len(text):
        return True
    prev, cur = text[i - 1], text[i]
    if prev.isalpha() != cur.isalpha():  # letter/digit seam: "NATO2024"
        return True
    if prev.islower() and cur.isupper():
        return True
    nxt = text[i + 1] if i + 1 < len(text) else ""
    return prev.isupper() and cur.isupper() and nxt.islower()


def camel_end(text: str, i: int) -> bool:
    """True when a word may end just before ``text[i]`` inside a glued token."""
    return camel_start(text, i)


# Sentences end at . ! ? (optionally followed by a closing quote) before whitespace, unless the
# period belongs to an initialism ("U.S.") or a short abbreviation ("Dr.", "Jr.").
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_ABBREV = re.compile(
    r"(?:\b[A-Za-z]\.)+$|\b(?:Mr|Mrs|Ms|Dr|Jr|Sr|St|Gen|Lt|Col|No|Prof|dll|dsb)\.$"
)


def sentence_bounds(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` (one paragraph) into sentence (start, end) pairs."""
    bounds: list[tuple[int, int]] = []
    cur = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if _ABBREV.search(text, max(cur, m.start() - 12), m.start() + 1):
            continue
        bounds.append((cur, m.end()))
        cur = m.end()
    if cur < end:
        bounds.append((cur, end))
    return bounds


def snippet(text: str, start: int, end: int, width: int = 120) -> str:
    """About ``width`` characters around text[start:end], cut at spaces, whitespace collapsed."""
    pad = max(0, (width - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    core = " ".join(text[lo:hi].split())  # whitespace runs as one space
    return ("…" if lo > 0 else "") + core + ("…" if hi < len(text) else "")
