"""``pantau relevance train|eval``: the relevance model and its figures on the labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from monitor.cli import app
from monitor.cli.common import cli_errors
from monitor.errors import ConfigError
from monitor.match import Lexicon, Matcher, load_relevance_model
from monitor.match.evaluate import evaluate, load_corpus
from monitor.match.model import DEFAULT_PATH
from monitor.paths import default_config_dir, default_relevance_corpus

relevance_app = typer.Typer(
    help="The relevance model: rebuild it from the labelled corpus, or score it.",
    no_args_is_help=True,
)
app.add_typer(relevance_app, name="relevance")

CorpusOption = typer.Option(
    None, "--corpus", help="Labelled corpus (JSON lines; default: tests/data/relevance/)."
)
ConfigDirOption = typer.Option(
    None, "--config-dir", help="Directory with topics.toml and actors.toml."
)


def _corpus(path: Path | None) -> Path:
    path = path or default_relevance_corpus()
    if not path.is_file():
        raise ConfigError(
            f"{path}: labelled corpus not found (it ships with the source checkout; "
            "pass --corpus FILE)"
        )
    return path


@relevance_app.command("train")
def train_command(
    corpus: Path | None = CorpusOption,
    output: Path = typer.Option(DEFAULT_PATH, "--output", "-o", help="Where to write the model."),
    config_dir: Path | None = ConfigDirOption,
) -> None:
    """Fit the model on the train and dev splits (never the test split) and write it."""
    from monitor.match.train import train

    with cli_errors():
        articles = load_corpus([_corpus(corpus)])
        lexicon = Lexicon.load(config_dir or default_config_dir())
        console = Console(stderr=True)
        with console.status(f"training on {sum(a.split != 'test' for a in articles)} articles"):
            report = train(lexicon, articles)
        output.write_text(
            json.dumps(report.document(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        for topic, chosen in report.chosen.items():
            console.print(
                f"{topic}: C={chosen['C']:g} threshold={chosen['threshold']:g} "
                f"cross-validated F1={chosen['cv_f1']:.3f}"
            )
        typer.echo(f"wrote {output}")


@relevance_app.command("eval")
def eval_command(
    corpus: Path | None = CorpusOption,
    split: str = typer.Option("test", "--split", help="train, dev, test or all."),
    model: str = typer.Option(
        "bundled", "--model", help='"bundled", "rules" (no model) or a model file.'
    ),
    config_dir: Path | None = ConfigDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    errors: bool = typer.Option(False, "--errors", help="List every wrong verdict too."),
) -> None:
    """Score substantive verdicts, actors and roles on one split of the labelled corpus."""
    with cli_errors():
        if split not in ("train", "dev", "test", "all"):
            raise ConfigError(f"--split {split!r}: expected train, dev, test or all")
        chosen: Literal["train", "dev", "test", "all"] = split  # type: ignore[assignment]
        articles = [
            a for a in load_corpus([_corpus(corpus)]) if chosen == "all" or a.split == chosen
        ]
        matcher = Matcher(
            Lexicon.load(config_dir or default_config_dir()), load_relevance_model(model)
        )
        report = evaluate(matcher, articles)
        if as_json:
            figures = {k: round(v, 4) for k, v in report.figures().items()}
            typer.echo(json.dumps({"split": split, "articles": len(articles), **figures}))
            return
        typer.echo(f"split: {split}, model: {model}")
        typer.echo(report.table())
        if errors:
            for tally in report.tallies.values():
                for line in tally.errors:
                    typer.echo(f"  {line}")
            for line in report.role_errors:
                typer.echo(f"  role: {line}")
