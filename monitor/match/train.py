"""Training the relevance model on the labelled corpus (``pantau relevance train``).

Rows: every (article, topic) of the ``train`` split where the matcher detects the topic; the
label is whether the annotators called it substantive. Features come from the matcher itself
(``relevance.FEATURES``), so training and use see the same numbers. One logistic regression
per topic (scikit-learn, L2, balanced classes); the regularisation strength and the decision
threshold are chosen by five-fold cross-validation over ``train`` and ``dev`` (the dev split
alone is too small to choose between close settings), by the F1 of the substantive verdict,
and the final model is fitted on both. The ``test`` split is never read here. Same corpus
and lexicon in, byte-identical model out.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.match.evaluate import TOPICS, LabelledArticle
from monitor.match.lexicon import Lexicon
from monitor.match.matcher import Matcher
from monitor.match.model import RelevanceModel, TextSpec, TopicModel, standard
from monitor.match.relevance import FEATURES

STRENGTHS = (0.3, 1.0, 3.0)


@dataclass
class _Recorder:
    """Stands in for a topic model while collecting rows: keeps what it is shown."""

    rows: list[tuple[tuple[float, ...], frozenset[int]]] = field(default_factory=list)
    threshold: float = 2.0  # never substantive: the rules' verdict is a feature, not the label

    def judge(
        self,
        features: Sequence[float],
        names: Sequence[str],
        words: Mapping[int, str],
        top: int = 3,
    ) -> tuple[float, tuple[tuple[str, float], ...]]:
        self.rows.append((tuple(features), frozenset(words)))
        return 0.0, ()


@dataclass(frozen=True)
class Rows:
    features: list[tuple[float, ...]]
    labels: list[int]
    words: list[frozenset[int]] = field(default_factory=list)


def collect(
    lexicon: Lexicon,
    articles: Sequence[LabelledArticle],
    *,
    with_urls: bool = False,
    text: TextSpec = TextSpec(),
) -> tuple[dict[str, Rows], dict[str, list[str]]]:
    """Per topic: the features of each article where the matcher detects it, its label, and
    (for cross-validation folds) its URL."""
    recorders = {t: _Recorder() for t in TOPICS}
    matcher = Matcher(lexicon, judges=recorders, text=text)
    out = {t: Rows([], [], []) for t in TOPICS}
    urls: dict[str, list[str]] = {t: [] for t in TOPICS}
    for a in articles:
        before = {t: len(r.rows) for t, r in recorders.items()}
        matcher.match(a.title, a.text, _noon(a))
        for t, r in recorders.items():
            if len(r.rows) > before[t]:
                features, words = r.rows[-1]
                out[t].features.append(features)
                out[t].words.append(words)
                out[t].labels.append(int(a.topics[t] == "substantive"))
                urls[t].append(a.url)
    return out, urls


def _noon(a: LabelledArticle) -> datetime:
    return datetime(a.published.year, a.published.month, a.published.day, 12, tzinfo=UTC)


def _f1(probs: Sequence[float], labels: Sequence[int], threshold: float, missed: int) -> float:
    tp = sum(1 for p, y in zip(probs, labels, strict=True) if p >= threshold and y)
    fp = sum(1 for p, y in zip(probs, labels, strict=True) if p >= threshold and not y)
    fn = sum(1 for p, y in zip(probs, labels, strict=True) if p < threshold and y) + missed
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _fit(rows: Rows, strength: float, text: TextSpec) -> TopicModel:
    from sklearn.linear_model import LogisticRegression

    columns = list(zip(*rows.features, strict=True))
    mean = tuple(statistics.fmean(c) for c in columns)
    scale = tuple(statistics.pstdev(c) or 1.0 for c in columns)
    n = len(mean)
    x = []
    for r, words in zip(rows.features, rows.words, strict=True):
        row = [standard(v, m, s) for v, m, s in zip(r, mean, scale, strict=True)]
        row += [0.0] * text.buckets
        for b in words:
            row[n + b] = text.weight
        x.append(row)
    model = LogisticRegression(C=strength, class_weight="balanced", max_iter=2000)
    model.fit(x, rows.labels)
    coef = [float(w) for w in model.coef_[0]]
    word_weights = tuple(w * text.weight for w in coef[n:])
    return TopicModel(tuple(coef[:n]), float(model.intercept_[0]), mean, scale, 0.5, word_weights)


def _prob(model: TopicModel, features: tuple[float, ...], words: frozenset[int]) -> float:
    return model.judge(features, FEATURES, dict.fromkeys(words, ""))[0]


def _missed(articles: Sequence[LabelledArticle], rows: Rows, topic: str) -> int:
    """Substantive articles the matcher did not detect at all: the model cannot win them."""
    return sum(1 for a in articles if a.topics[topic] == "substantive") - sum(rows.labels)


@dataclass(frozen=True)
class TrainReport:
    model: RelevanceModel
    chosen: dict[str, dict[str, float]]
    corpus_sha256: str

    def document(self) -> dict[str, Any]:
        return self.model.to_document(corpus_sha256=self.corpus_sha256, chosen=self.chosen)


FOLDS = 5


def _fold(url: str) -> int:
    return int(hashlib.sha256(("fold:" + url).encode()).hexdigest(), 16) % FOLDS


def _out_of_fold(rows: Rows, folds: Sequence[int], strength: float, text: TextSpec) -> list[float]:
    """Each row's probability from a model fitted without its fold."""
    probs = [0.0] * len(rows.labels)
    for k in range(FOLDS):
        fit_idx = [i for i, f in enumerate(folds) if f != k]
        labels = [rows.labels[i] for i in fit_idx]
        if len(set(labels)) < 2:
            continue
        part = Rows([rows.features[i] for i in fit_idx], labels, [rows.words[i] for i in fit_idx])
        fitted = _fit(part, strength, text)
        for i, f in enumerate(folds):
            if f == k:
                probs[i] = _prob(fitted, rows.features[i], rows.words[i])
    return probs


def train(
    lexicon: Lexicon,
    articles: Sequence[LabelledArticle],
    *,
    version: str = "1",
    text: TextSpec = TextSpec(),
) -> TrainReport:
    """Choose strength and threshold by cross-validation over ``train`` + ``dev`` (five folds
    by URL hash), then fit on both; ``test`` is left alone."""
    seen = [a for a in articles if a.split != "test"]
    rows_by_topic, urls = collect(lexicon, seen, with_urls=True, text=text)
    topics: dict[str, TopicModel] = {}
    chosen: dict[str, dict[str, float]] = {}
    for t in TOPICS:
        rows = rows_by_topic[t]
        if len(set(rows.labels)) < 2:
            continue  # nothing to learn: the rules decide this topic
        folds = [_fold(u) for u in urls[t]]
        missed = _missed(seen, rows, t)
        best: tuple[tuple[float, float, float], float, float] | None = None
        for strength in STRENGTHS:
            probs = _out_of_fold(rows, folds, strength, text)
            for step in range(5, 96, 5):
                threshold = step / 100
                f1 = _f1(probs, rows.labels, threshold, missed)
                # Ties go to the stronger regularisation and the threshold nearest 0.5.
                key = (f1, -abs(threshold - 0.5), -strength)
                if best is None or key > best[0]:
                    best = (key, threshold, strength)
        assert best is not None
        (f1, _, _), threshold, strength = best
        fitted = _fit(rows, strength, text)
        topics[t] = TopicModel(
            fitted.weights,
            fitted.intercept,
            fitted.mean,
            fitted.scale,
            threshold,
            fitted.word_weights,
        )
        chosen[t] = {"C": strength, "threshold": threshold, "cv_f1": round(f1, 4)}
    digest = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.url):
        digest.update(f"{a.url}\n{a.title}\n{a.text}\n{sorted(a.topics.items())}\n".encode())
    model = RelevanceModel(version, FEATURES, topics, text)
    return TrainReport(model, chosen, digest.hexdigest())
