"""Bad configuration and bad command lines: one clear message naming where (file or environment
variable), which key and why; a non-zero exit; never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

import monitor.cli.db
import monitor.cli.feeds
import monitor.cli.replay
import monitor.cli.run  # noqa: F401  (registers the commands on the app)
from monitor.cli import app

ROOT = Path(__file__).resolve().parents[2]

CONFIG_CASES = {
    # name: (pantau.toml text, expected key, expected reason)
    "negative-interval": (
        "[schedule]\ndefault_interval = -5\n",
        "schedule.default_interval",
        "greater than 0",
    ),
    "zero-max-bytes": ("[fetch]\nmax_bytes = 0\n", "fetch.max_bytes", "greater than 0"),
    "jitter-over-one": ("[schedule]\njitter = 2\n", "schedule.jitter", "less than or equal to 1"),
    "unknown-key": ("[fetch]\nmax_byte = 10\n", "fetch.max_byte", "Extra inputs are not permitted"),
    "unknown-section": ("[fetc]\nmax_bytes = 10\n", "fetc", "Extra inputs are not permitted"),
    "wrong-type": ('[fetch]\nmax_bytes = "lots"\n', "fetch.max_bytes", "valid integer"),
    "wrong-type-bool": ('[fetch]\nallow_private = "maybe"\n', "fetch.allow_private", "boolean"),
    "unknown-channel-reference": (
        '[[alerts.rules]]\nname = "desk"\nchannels = ["slack"]\n',
        "alerts.rules.0.channels",
        "unknown channel 'slack'",
    ),
    "unknown-channel-type": (
        '[[alerts.channels]]\nname = "pager"\ntype = "pager"\n',
        "alerts.channels.0.type",
        "Input should be",
    ),
    "duplicate-channel": (
        '[[alerts.channels]]\nname = "c"\ntype = "console"\n'
        '[[alerts.channels]]\nname = "c"\ntype = "console"\n',
        "alerts.channels",
        "must be unique",
    ),
    "bad-toml-syntax": ("[fetch\nmax_bytes = 1\n", "", "not valid TOML"),
    "status-port-out-of-range": ("[status]\nport = 70000\n", "status.port", "less than or equal"),
}


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, args, env=env)


def assert_clear_failure(result: Result, *fragments: str) -> str:
    """Non-zero exit through SystemExit (no escaped exception), one error, every fragment."""
    output = result.output
    assert result.exit_code != 0, output
    assert isinstance(result.exception, SystemExit), (
        f"escaped {type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in {output!r}"
    return output


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_invalid_config_value_names_file_key_and_reason(tmp_path: Path, case: str) -> None:
    text, key, reason = CONFIG_CASES[case]
    config = tmp_path / "pantau.toml"
    config.write_text(text, encoding="utf-8")
    result = invoke(["feeds", "list", "--config", str(config), "--db", str(tmp_path / "p.db")])
    output = assert_clear_failure(result, str(config), key, reason)
    assert output.count("error:") == 1
    assert result.exit_code == 2


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = invoke(["feeds", "list", "--config", str(missing)])
    assert_clear_failure(result, str(missing), "configuration file not found")


def test_config_path_that_is_a_directory_is_named(tmp_path: Path) -> None:
    result = invoke(["feeds", "list", "--config", str(tmp_path)])
    assert_clear_failure(result, str(tmp_path), "cannot read")


@pytest.mark.parametrize(
    ("variable", "value", "key", "reason"),
    [
        ("PANTAU_FETCH__MAX_BYTES", "lots", "fetch.max_bytes", "valid integer"),
        ("PANTAU_SCHEDULE__TICK", "-1", "schedule.tick", "greater than 0"),
        ("PANTAU_FECH__MAX_BYTES", "1", "fech", "Extra inputs are not permitted"),
    ],
)
def test_invalid_environment_override_names_the_variable(
    tmp_path: Path, variable: str, value: str, key: str, reason: str
) -> None:
    result = invoke(["feeds", "list", "--db", str(tmp_path / "p.db")], env={variable: value})
    assert_clear_failure(result, f"environment variable {variable}", key, reason)


def test_missing_secret_of_a_channel_names_the_variable(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text("# no feeds\n", encoding="utf-8")
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'feeds_file = "{feeds}"\n'
        '[[alerts.channels]]\nname = "slack"\ntype = "slack"\n'
        'webhook_url_env = "PANTAU_TEST_NO_SUCH_WEBHOOK"\n'
        '[[alerts.rules]]\nname = "desk"\nchannels = ["slack"]\n',
        encoding="utf-8",
    )
    result = invoke(["run", "--once", "--config", str(config), "--db", str(tmp_path / "p.db")])
    assert_clear_failure(result, "slack", "PANTAU_TEST_NO_SUCH_WEBHOOK", "is not set")


@pytest.mark.parametrize(
    ("feeds_text", "fragments"),
    [
        ('[[feed]]\nname = "no url"\n', ("feed", "url")),
        ('[[feed]]\nurl = "ftp://x.example/rss"\n', ("ftp://x.example/rss",)),
        ('[[feed]]\nurl = "https://x.example/rss"\ntz = "Mars/Olympus"\n', ("Mars/Olympus",)),
        ("[[feed]\n", ("not valid TOML",)),
    ],
    ids=["missing-url", "not-http", "unknown-zone", "bad-toml"],
)
def test_invalid_feeds_file_names_file_and_reason(
    tmp_path: Path, feeds_text: str, fragments: tuple[str, ...]
) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(feeds_text, encoding="utf-8")
    config = tmp_path / "pantau.toml"
    config.write_text(f'feeds_file = "{feeds}"\n', encoding="utf-8")
    result = invoke(["feeds", "list", "--config", str(config), "--db", str(tmp_path / "p.db")])
    assert_clear_failure(result, str(feeds), *fragments)


@pytest.mark.parametrize(
    ("db", "reason"),
    [
        ("/etc/hostname/pantau.db", "is a file, not a directory"),
        ("/proc/pantau/pantau.db", "cannot be created"),
        ("/proc/pantau.db", "unable to open database file"),
    ],
    ids=["parent-is-a-file", "parent-cannot-be-created", "read-only-filesystem"],
)
def test_database_path_that_cannot_be_used_is_a_clear_error(db: str, reason: str) -> None:
    if not Path("/proc/self").is_dir() or not Path("/etc/hostname").is_file():
        pytest.skip("needs Linux /proc and /etc/hostname")
    result = invoke(["feeds", "list", "--db", db])
    assert_clear_failure(result, db, reason)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["frobnicate"], ("No such command 'frobnicate'",)),
        (["run", "--bogus"], ("No such option: --bogus",)),
        (["feeds", "add", "https://x.example/rss", "--interval", "-5"], ("--interval",)),
        (["feeds", "check", "not a url"], ("'not a url' is not an absolute http(s) URL",)),
        (
            ["feeds", "check", "--tz", "Mars/Olympus", "http://127.0.0.1:9/rss"],
            ("--tz", "unknown time zone 'Mars/Olympus'"),
        ),
        (["replay", "/nonexistent/articles"], ("not a directory of articles",)),
        (["feeds"], ("Usage",)),
    ],
    ids=[
        "unknown-command",
        "unknown-option",
        "negative-interval",
        "bad-url",
        "bad-zone",
        "missing-dir",
        "missing-subcommand",
    ],
)
def test_bad_command_line_is_a_usage_error_not_a_traceback(
    tmp_path: Path, args: list[str], fragments: tuple[str, ...]
) -> None:
    result = invoke([*args, *(["--db", str(tmp_path / "p.db")] if args[0] == "replay" else [])])
    assert_clear_failure(result, *fragments)


def test_real_entry_point_prints_one_line_and_exit_code_two(tmp_path: Path) -> None:
    config = tmp_path / "pantau.toml"
    config.write_text("[schedule]\ndefault_interval = -5\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.cli import main; main()",
            "feeds",
            "list",
            "--config",
            str(config),
            "--db",
            str(tmp_path / "p.db"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {config}: schedule.default_interval: Input should be greater than 0"]
    assert proc.stdout == ""
