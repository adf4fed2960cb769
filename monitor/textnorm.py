"""Text folding for matching: one normalised string plus a map back to the original characters.

The matcher runs its Aho-Corasick automaton over the *folded* text (case folded, diacritics
removed, dashes and whitespace runs collapsed to one space) and reports spans in the *original*
text through ``Folded.orig``. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Dashes and hyphens split compounds ("Rusia-Ukraina", "AS–Rusia") like a space would.
_DASHES = frozenset("-‐‑‒–—―−_")
# Letters that NFKD leaves alone but readers treat as plain Latin.
_EXTRA = {"ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ı": "i", "ŀ": "l", "þ": "th"}


@dataclass(frozen=True)
class Folded:
    """``text`` is the folded string; ``orig[i]`` is the original index of ``text[i]``."""

    text: str
    orig: tuple[int, ...]


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


# Runs of plain ASCII words and punctuation joined by single spaces fold with one ``lower()``;
# other separators collapse to one space; anything else goes through ``fold_char``.
_RUNS = re.compile(r"([!-,.-^`-~]+(?: [!-,.-^`-~]+)*)|([\s\-_‐‑‒–—―−]+)|(.)", re.DOTALL)


def fold(text: str) -> Folded:
    """Fold ``text`` keeping a map from every folded character to its original index."""
    out: list[str] = []
    orig: list[int] = []
    last_space = True  # also drops leading whitespace
    for m in _RUNS.finditer(text):
        start = m.start()
        if m.group(1) is not None:
            out.append(m.group(1).lower())
            orig.extend(range(start, m.end()))
            last_space = False
            continue
        piece = " " if m.group(2) is not None else fold_char(m.group(3))
        for c in piece:
            if c == " ":
                if last_space:
                    continue
                last_space = True
            else:
                last_space = False
            out.append(c)
            orig.append(start)
    return Folded("".join(out), tuple(orig))


def fold_term(term: str) -> str:
    """The automaton key for a lexicon term (same folding as the text, trimmed)."""
    return fold(term).text.strip()


def is_word(ch: str) -> bool:
    return ch.isalnum()


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


def paragraph_bounds(text: str) -> list[tuple[int, int]]:
    """Non-blank lines of ``text`` as (start, end) pairs; every line is one paragraph."""
    bounds: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        content = line.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        if content.strip():
            bounds.append((pos, pos + len(content)))
        pos += len(line)
    return bounds


_WS = re.compile(r"\s+")


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
    core = _WS.sub(" ", text[lo:hi]).strip()
    return ("…" if lo > 0 else "") + core + ("…" if hi < len(text) else "")
