"""The match stage: topics and tracked actors of an article, with what fired.

``Lexicon`` reads topics.toml and actors.toml; ``Matcher`` runs one Aho-Corasick pass over the
folded text, resolves roles by date, and judges each topic substantive or passing.
"""

from monitor.match.matcher import Lexicon, Matcher
from monitor.match.model import RelevanceModel, load_relevance_model

__all__ = ["Lexicon", "Matcher", "RelevanceModel", "load_relevance_model"]
