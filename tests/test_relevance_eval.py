"""The relevance verdicts on articles nobody tuned for: the labelled corpus's test split.

``pytest -s tests/test_relevance_eval.py`` prints the table. The figures the README reports are
in tests/data/relevance/figures.json; a test fails when any drops more than 0.02 below them.
The test split is never used to fit or choose anything (``pantau relevance train`` reads train
and dev only); ``pantau relevance eval --split test`` prints the same table.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from monitor.match import Lexicon, Matcher, RelevanceModel, load_relevance_model
from monitor.match.evaluate import evaluate, load_corpus, split_of, url_key
from monitor.match.model import DEFAULT_PATH
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "relevance"
CORPUS = DATA / "corpus.jsonl"
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def articles() -> list:  # type: ignore[type-arg]
    return load_corpus([CORPUS])


def test_corpus_is_large_real_labelled_and_split_by_url(articles: list) -> None:  # type: ignore[type-arg]
    real = [a for a in articles if not a.fixture]
    assert len(real) >= 400
    assert Counter(a.lang for a in real)["id"] >= 300
    assert len({url_key(a.url) for a in real}) == len(real)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    for row, a in zip(rows, articles, strict=True):
        assert row["split"] == a.split  # stored as computed: fixed by the URL's hash
        if not a.fixture:
            assert a.split == split_of(a.url)
    counts = Counter(a.split for a in real)
    assert counts["test"] >= 80 and counts["dev"] >= 60, counts
    for name in ("GUIDE.md", "SOURCES.md"):
        assert (DATA / name).is_file(), name


def test_no_article_reserved_for_outside_evaluation_is_in_the_corpus(articles: list) -> None:  # type: ignore[type-arg]
    exclusions = SHARED / "corpus" / "evaluation_exclusions.txt"
    if not exclusions.is_file():
        pytest.skip(f"{exclusions} not found beside the checkout")
    reserved = {
        line.strip()
        for line in exclusions.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    keys = {hashlib.sha256(url_key(a.url).encode()).hexdigest(): a.url for a in articles}
    assert not set(keys) & reserved, [keys[k] for k in set(keys) & reserved]


def test_checker_accepts_the_corpus() -> None:
    run = subprocess.run(
        [sys.executable, str(DATA / "check.py"), str(CORPUS)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout


def test_test_split_figures_hold_the_readme_figures(articles: list) -> None:  # type: ignore[type-arg]
    matcher = Matcher(Lexicon.load(ROOT / "config"), load_relevance_model("bundled"))
    test = [a for a in articles if a.split == "test"]
    report = evaluate(matcher, test)
    print(f"\ntest split, bundled model\n{report.table()}")
    assert report.roles_total >= 30
    recorded = json.loads((DATA / "figures.json").read_text(encoding="utf-8"))["figures"]
    now = report.figures()
    dropped = {k: (v, round(now[k], 4)) for k, v in recorded.items() if now[k] < v - TOLERANCE}
    assert not dropped, f"figures dropped more than {TOLERANCE} below the README's: {dropped}"


def test_the_model_beats_the_rules_on_the_test_split(articles: list) -> None:  # type: ignore[type-arg]
    lexicon = Lexicon.load(ROOT / "config")
    test = [a for a in articles if a.split == "test"]
    rules = evaluate(Matcher(lexicon), test).tallies
    model = evaluate(Matcher(lexicon, load_relevance_model("bundled")), test).tallies
    for topic in ("nato", "ukraine", "us_russia"):
        key = f"{topic}/substantive"
        assert model[key].f1 >= rules[key].f1, (topic, model[key].f1, rules[key].f1)


def test_the_shipped_model_is_what_training_on_the_corpus_gives(articles: list) -> None:  # type: ignore[type-arg]
    pytest.importorskip("sklearn")
    from monitor.match.train import train

    report = train(Lexicon.load(ROOT / "config"), articles)
    shipped = RelevanceModel.load(DEFAULT_PATH)
    rebuilt = RelevanceModel.from_document(report.document())
    assert rebuilt.features == shipped.features and rebuilt.text == shipped.text
    for topic, model in shipped.topics.items():
        again = rebuilt.topics[topic]
        assert again.threshold == model.threshold
        assert again.weights == pytest.approx(model.weights, abs=1e-3)
        assert again.word_weights == pytest.approx(model.word_weights, abs=1e-3)
    # and the rebuilt model gives the same verdicts on the dev split
    lexicon = Lexicon.load(ROOT / "config")
    dev = [a for a in articles if a.split == "dev"]
    a = evaluate(Matcher(lexicon, shipped), dev).figures()
    b = evaluate(Matcher(lexicon, rebuilt), dev).figures()
    assert a == pytest.approx(b, abs=1e-9)
