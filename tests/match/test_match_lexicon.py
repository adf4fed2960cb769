"""Lexicon files: user-extensible without code, and bad content stops with file, key and reason."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.match.matcher import Lexicon, Matcher

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    for name in ("topics.toml", "actors.toml"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    return tmp_path


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def test_shipped_lexicon_tracks_at_least_forty_actors_and_three_topics() -> None:
    lexicon = Lexicon.load(ROOT / "config")
    assert len(lexicon.actors) >= 40
    assert {t.name for t in lexicon.topics} == {"nato", "ukraine", "us_russia"}
    for name in ("topics.toml", "actors.toml"):
        head = (ROOT / "config" / name).read_text(encoding="utf-8").splitlines()[:20]
        assert all(line.startswith("#") or not line for line in head)  # documented format


def test_a_user_can_add_an_actor_and_a_role_without_code(config: Path) -> None:
    append(
        config / "actors.toml",
        """
[[actors]]
name = "Mette Frederiksen"
aliases = ["Frederiksen"]

[[roles]]
name = "Prime Minister of Denmark"
terms = ["PM Denmark", "Perdana Menteri Denmark"]
holders = [{ actor = "Mette Frederiksen", from = 2019-06-27 }]
""",
    )
    matcher = Matcher(Lexicon.load(config))
    result = matcher.match(
        "", "Perdana Menteri Denmark tiba di Kyiv.", datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert [a.name for a in result.actors] == ["Mette Frederiksen"]


def test_a_user_can_add_a_topic_term(config: Path) -> None:
    text = (config / "topics.toml").read_text(encoding="utf-8")
    text = text.replace('"Ukraina", "Ukraine",', '"Ukraina", "Ukraine", "Dnipro",')
    (config / "topics.toml").write_text(text, encoding="utf-8")
    result = Matcher(Lexicon.load(config)).match("", "Serangan di Dnipro.", None)
    assert [t.name for t in result.topics] == ["ukraine"]


@pytest.mark.parametrize(
    ("file", "addition", "expected"),
    [
        ("actors.toml", '[[actors]]\nname = "X"\nnicknames = ["Y"]\n', "nicknames"),
        ("actors.toml", '[[actors]]\nname = "X"\ntopics = ["sports"]\n', "unknown topic"),
        ("actors.toml", '[[actors]]\nname = "X"\nside = "china"\n', "unknown group"),
        ("actors.toml", '[[actors]]\nname = "Joe Biden"\n', "duplicate"),
        (
            "actors.toml",
            '[[roles]]\nname = "R"\nterms = ["Raja"]\nholders = [{ actor = "Nobody" }]\n',
            "unknown actor 'Nobody'",
        ),
        (
            "actors.toml",
            '[[roles]]\nname = "R"\nterms = ["Raja"]\n'
            'holders = [{ actor = "Joe Biden", from = "2021" }]\n',
            "must be a date",
        ),
        (
            "actors.toml",
            '[[roles]]\nname = "R"\nterms = ["Raja"]\n'
            'holders = [{ actor = "Joe Biden", from = 2021-01-01, until = 2020-01-01 }]\n',
            "must be after",
        ),
        ("topics.toml", "[topics.china]\nterms = []\n", "needs at least one term"),
        ("topics.toml", '[topics.china]\nterms = ["Tiongkok"]\npair = ["us"]\n', "exactly two"),
        (
            "topics.toml",
            '[topics.china]\nterms = ["Tiongkok"]\n[topics.china.relevance]\nmin_share = 2\n',
            "between 0 and 1",
        ),
        ("topics.toml", '[topics.china]\nterms = ["  "]\n', "blank"),
        ("topics.toml", "[topics.china\n", "invalid TOML"),
    ],
)
def test_bad_lexicon_content_names_file_key_and_reason(
    config: Path, file: str, addition: str, expected: str
) -> None:
    append(config / file, addition)
    with pytest.raises(ConfigError) as err:
        Lexicon.load(config)
    assert file in err.value.message
    assert expected in err.value.message


def test_missing_lexicon_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"topics\.toml: lexicon file not found"):
        Lexicon.load(tmp_path)
