"""The relevance model: a logistic regression per topic over explainable features.

The rules of topics.toml say *where* a topic is mentioned; the model decides whether the
mention is the article's subject (substantive) or in passing. Each topic has its own weights
over the same named features (``relevance.FEATURES``), standardised with the training set's
mean and scale, and a decision threshold chosen on the dev split. The model ships as a JSON
file with the package (``relevance_model.json``) and is rebuilt reproducibly by
``pantau relevance train``; without it the rules' verdict stands.

Beside those features, each topic has weights over the words of the title and lead (hashed
into a fixed number of buckets): "harga", "saham", "sanksi", "gencatan" say more about what an
article is about than any count of topic terms. A verdict keeps its reasons: the probability
(``confidence``) and the features or words that pushed it most, each with its signed
contribution to the log-odds.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from monitor.errors import ConfigError

FORMAT = 2
DEFAULT_PATH = Path(__file__).with_name("relevance_model.json")
_WORD = re.compile(r"[^\W_]+")
_MARKS = re.compile(r"[\u0300-\u036f]")  # combining accents left by NFKD


@dataclass(frozen=True)
class TextSpec:
    """How the words of an article become model inputs: the first ``chars`` characters of the
    body after the title, case and accents folded, each distinct word hashed (CRC-32) into one
    of ``buckets`` inputs worth ``weight``."""

    buckets: int = 1024
    chars: int = 1500
    weight: float = 1.0

    def words(self, title: str, body: str) -> dict[int, str]:
        """Bucket -> one word that fell into it (for explanations)."""
        text = unicodedata.normalize("NFKD", f"{title}\n{body[: self.chars]}").casefold()
        out: dict[int, str] = {}
        for w in dict.fromkeys(_WORD.findall(_MARKS.sub("", text))):
            out.setdefault(zlib.crc32(w.encode()) % self.buckets, w)
        return out


def standard(x: float, mean: float, scale: float) -> float:
    """A feature in training standard deviations, clipped to three: the model never
    extrapolates far beyond what it was trained on."""
    return max(-3.0, min(3.0, (x - mean) / scale))


class Judge(Protocol):
    """What decides one topic's verdict from its features (a TopicModel; a recorder when
    collecting training rows)."""

    @property
    def threshold(self) -> float: ...

    def judge(
        self,
        features: Sequence[float],
        names: Sequence[str],
        words: Mapping[int, str],
        top: int = 3,
    ) -> tuple[float, tuple[tuple[str, float], ...]]: ...


@dataclass(frozen=True)
class TopicModel:
    weights: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    word_weights: tuple[float, ...] = ()  # per bucket, already multiplied by TextSpec.weight

    def judge(
        self,
        features: Sequence[float],
        names: Sequence[str],
        words: Mapping[int, str],
        top: int = 3,
    ) -> tuple[float, tuple[tuple[str, float], ...]]:
        """Probability of substantive and the ``top`` features or words by contribution."""
        parts = [
            (name, w * standard(x, m, s))
            for name, w, x, m, s in zip(
                names, self.weights, features, self.mean, self.scale, strict=True
            )
        ]
        if self.word_weights:
            parts += [(f"word:{word}", self.word_weights[b]) for b, word in words.items()]
        z = self.intercept + sum(v for _, v in parts)
        p = 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0
        strongest = heapq.nlargest(top, parts, key=lambda nv: abs(nv[1]))
        return p, tuple((n, round(v, 3)) for n, v in strongest if v)


def load_relevance_model(choice: str) -> RelevanceModel | None:
    """``matching.relevance_model``: "bundled", "rules" (None: the rules decide), or a path."""
    if choice == "rules":
        return None
    return RelevanceModel.load(DEFAULT_PATH if choice == "bundled" else Path(choice))


@dataclass(frozen=True)
class RelevanceModel:
    version: str
    features: tuple[str, ...]
    topics: Mapping[str, TopicModel]
    text: TextSpec = TextSpec()

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> RelevanceModel:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: relevance model not found") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the relevance model: {exc}") from None
        return cls.from_document(doc, str(path))

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], where: str = "model") -> RelevanceModel:
        if doc.get("format") != FORMAT:
            raise ConfigError(
                f"{where}: relevance model format {doc.get('format')!r} is not {FORMAT}; "
                "rebuild it with `pantau relevance train`"
            )
        names = tuple(doc["features"])
        text = TextSpec(**doc.get("text", {}))
        topics: dict[str, TopicModel] = {}
        for topic, t in doc["topics"].items():
            model = TopicModel(
                tuple(map(float, t["weights"])),
                float(t["intercept"]),
                tuple(map(float, t["mean"])),
                tuple(float(s) or 1.0 for s in t["scale"]),
                float(t["threshold"]),
                tuple(float(w) for w in t.get("word_weights", ())),
            )
            if not len(model.weights) == len(model.mean) == len(model.scale) == len(names):
                raise ConfigError(f"{where}: topics.{topic}: weights do not match the features")
            if model.word_weights and len(model.word_weights) != text.buckets:
                raise ConfigError(f"{where}: topics.{topic}: word weights do not match the text")
            topics[topic] = model
        return cls(str(doc.get("version", "")), names, topics, text)

    def to_document(self, **meta: Any) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            **meta,
            "features": list(self.features),
            "text": {
                "buckets": self.text.buckets,
                "chars": self.text.chars,
                "weight": self.text.weight,
            },
            "topics": {
                name: {
                    "weights": [round(w, 6) for w in t.weights],
                    "intercept": round(t.intercept, 6),
                    "mean": [round(m, 6) for m in t.mean],
                    "scale": [round(s, 6) for s in t.scale],
                    "threshold": round(t.threshold, 4),
                    "word_weights": [round(w, 5) for w in t.word_weights],
                }
                for name, t in sorted(self.topics.items())
            },
        }
