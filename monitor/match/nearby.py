"""Where things sit in the matched text, found by bisection: the people named near a role
mention, and the line holding a position. Both keep role resolution linear in the text: a page
dense with offices and names used to cost role mentions x name mentions."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from monitor.match.relevance import Hit

__all__ = ["Lines", "Nearby", "title_case_words"]

_SENTENCE_BREAK = re.compile(r"[.!?]\s|\n")


class Nearby:
    """The people hits of one text, indexed so a role mention finds those near it by bisection.

    Looking only at people ending within the window before a role, or starting within it after
    the role, keeps role resolution linear in the text (a page dense with offices and names used
    to cost role mentions × name mentions). ``compared`` counts the people looked at.
    """

    def __init__(self, people: Sequence[Hit]) -> None:
        self.people = people
        self._by_end = sorted(range(len(people)), key=lambda i: people[i].end)
        self._ends = [people[i].end for i in self._by_end]
        self._by_start = sorted(range(len(people)), key=lambda i: people[i].start)
        self._starts = [people[i].start for i in self._by_start]
        self.compared = 0

    def holder_beside(self, text: str, role_hit: Hit, holders: set[str], window: int) -> str | None:
        """The nearest holder of the role named within ``window`` characters, same sentence;
        on a tie, the one named first."""
        lo = bisect_left(self._ends, role_hit.start - window)
        hi = bisect_right(self._ends, role_hit.start)
        before = self._by_end[lo:hi]  # ending in the window before the role
        lo = bisect_left(self._starts, role_hit.end)
        hi = bisect_right(self._starts, role_hit.end + window)
        after = [i for i in self._by_start[lo:hi] if self.people[i].end > role_hit.start]
        self.compared += len(before) + len(after)
        best: tuple[int, str] | None = None
        for i in sorted(before + after):
            p = self.people[i]
            if p.owner not in holders:
                continue
            lo, hi = (p.end, role_hit.start) if p.end <= role_hit.start else (role_hit.end, p.start)
            if hi < lo or hi - lo > window or _SENTENCE_BREAK.search(text, lo, hi):
                continue
            if best is None or hi - lo < best[0]:
                best = (hi - lo, p.owner)
        return best[1] if best else None


class Lines:
    """Line boundaries of one text, found once, and which lines are set in title case."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._breaks: list[int] | None = None
        self._title_case: dict[int, bool] = {}

    def title_case(self, pos: int) -> bool:
        """Whether the line holding ``pos`` capitalises (nearly) every word, like a headline."""
        if self._breaks is None:
            self._breaks = [m.start() for m in re.finditer("\n", self.text)]
        i = bisect_left(self._breaks, pos)
        known = self._title_case.get(i)
        if known is None:
            lo = self._breaks[i - 1] + 1 if i else 0
            hi = self._breaks[i] if i < len(self._breaks) else len(self.text)
            known = self._title_case[i] = title_case_words(self.text[lo:hi])
        return known


def title_case_words(line: str) -> bool:
    """Headlines and subheadings capitalise (nearly) every word: no name can be told there."""
    words = [w for w in line.split() if w[:1].isalpha()]
    capital = sum(1 for w in words if w[0].isupper())
    return len(words) >= 3 and capital >= 0.6 * len(words)
