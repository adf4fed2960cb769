"""Term hits whose span and snippet are made when first read.

Matching finds thousands of hits an hour and most snippets are never read: a stored article
keeps one, training and evaluation none. A lazy hit is a :class:`TermHit` in every way a reader
sees: equal to, hashed and pickled (to and from worker processes) as the plain one.
"""

from __future__ import annotations

from monitor.match.relevance import Hit, Snippets
from monitor.match.textnorm import snippet
from monitor.models import Span, TermHit

__all__ = ["LazySnippets", "LazyTermHit"]


class LazyTermHit(TermHit):
    """A :class:`TermHit` whose span and snippet are made from the matched text when first read.

    Most snippets are never read (a stored article keeps one, training none). Equal to, hashed
    and pickled as the plain ``TermHit`` with the same term, span and snippet.
    """

    def __init__(self, term: str, span: Span, snippet: str) -> None:
        # What ``dataclasses.replace`` calls: every field given, nothing left to make.
        fields = self.__dict__  # frozen: fill the fields as the dataclass would
        fields["term"] = term
        fields["span"] = span
        fields["snippet"] = snippet

    @classmethod
    def of(cls, term: str, text: str, start: int, end: int) -> LazyTermHit:
        """The hit of ``term`` at ``text[start:end]`` (made without ``__init__``: thousands a
        page, and nothing here needs checking)."""
        hit = cls.__new__(cls)
        fields = hit.__dict__
        fields["term"] = term
        fields["_cut"] = (text, start, end)
        return hit

    def __getattr__(self, name: str) -> Span | str:
        fields = self.__dict__
        cut = fields.get("_cut")
        if cut is None or name not in ("span", "snippet"):
            if name in fields:  # made by another thread since this lookup began
                return fields[name]  # type: ignore[no-any-return]
            raise AttributeError(name)
        text, start, end = cut
        value = fields[name] = Span(start, end) if name == "span" else snippet(text, start, end)
        if "span" in fields and "snippet" in fields:
            fields.pop("_cut", None)
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TermHit):
            return NotImplemented
        return (self.term, self.span, self.snippet) == (other.term, other.span, other.snippet)

    def __hash__(self) -> int:
        return hash((self.term, self.span, self.snippet))

    def __repr__(self) -> str:
        return f"TermHit(term={self.term!r}, span={self.span!r}, snippet={self.snippet!r})"

    def __reduce__(self) -> tuple[type[TermHit], tuple[str, Span, str]]:
        return (TermHit, (self.term, self.span, self.snippet))


class LazySnippets(Snippets):
    """:class:`Snippets` handing out hits whose span and snippet are made on first read."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._lazy: dict[Hit, TermHit] = {}

    def term_hit(self, h: Hit) -> TermHit:
        made = self._lazy.get(h)
        if made is None:
            made = self._lazy[h] = LazyTermHit.of(h.term, self.text, h.start, h.end)
        return made
