"""JSON lines files for log shippers: size rotation, the ``jsonl`` alert channel, tail --output."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.alert.channels import build_channel
from monitor.alert.jsonl import JsonlChannel
from monitor.alert.sinks import RotatingJsonl, RotationPolicy, backup_path
from monitor.cli import app
from monitor.cli import tail as _tail  # noqa: F401  (registers the command)
from monitor.config import load_settings
from monitor.demo.replay import run_replay
from monitor.errors import ConfigError
from monitor.paths import default_seeds_dir


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rotation_keeps_n_backups_of_whole_lines_and_drops_the_oldest(tmp_path: Path) -> None:
    path = tmp_path / "matches.jsonl"
    sink = RotatingJsonl(path, RotationPolicy(max_bytes=100, backups=2))
    for n in range(12):
        sink.write({"n": n, "pad": "x" * 20})  # 37 bytes a line: two lines per file
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["matches.jsonl", "matches.jsonl.1", "matches.jsonl.2"]
    kept = _read(backup_path(path, 2)) + _read(backup_path(path, 1)) + _read(path)
    assert [r["n"] for r in kept] == list(range(12))[-len(kept) :]
    assert len(kept) == 6 and kept[-1]["n"] == 11
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())


def test_without_backups_the_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    sink = RotatingJsonl(path, RotationPolicy(max_bytes=40, backups=0))
    for n in range(5):
        sink.write({"n": n, "pad": "y" * 10})
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]
    assert [r["n"] for r in _read(path)] == [4]


def test_a_line_longer_than_the_cap_is_written_whole_in_a_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    sink = RotatingJsonl(path, RotationPolicy(max_bytes=50, backups=3))
    sink.write({"n": 1})
    sink.write({"n": 2, "text": "Sekjen NATO " * 20})
    sink.write({"n": 3})
    assert [r["n"] for r in _read(backup_path(path, 2))] == [1]
    assert _read(backup_path(path, 1))[0]["text"] == "Sekjen NATO " * 20
    assert [r["n"] for r in _read(path)] == [3]


def test_jsonl_channel_appends_each_alert_as_a_webhook_payload_line(tmp_path: Path) -> None:
    out = tmp_path / "alerts" / "alerts.jsonl"
    settings = load_settings(
        None,
        env={},
        overrides={
            "database": {"url": f"sqlite:///{tmp_path / 'p.db'}"},
            "alerts": {
                "channels": [{"name": "shipper", "type": "jsonl", "path": str(out)}],
                "rules": [{"name": "default", "channels": ["shipper"]}],
            },
        },
    )
    report = asyncio.run(run_replay(default_seeds_dir(), settings, alert_stream=io.StringIO()))
    assert report.delivery.sent == 5
    lines = _read(out)
    assert len(lines) == 5
    assert {line["type"] for line in lines} == {"alert"}
    assert all(line["rule"] == "default" and line["actors"] for line in lines)


def test_jsonl_channel_config_is_checked_key_by_key(tmp_path: Path) -> None:
    channel = build_channel("f", {"type": "jsonl", "path": str(tmp_path / "a.jsonl")})
    assert isinstance(channel, JsonlChannel)
    bad = [
        ({"type": "jsonl"}, "path: is required"),
        ({"type": "jsonl", "path": "x", "backups": -1}, "backups: must be a whole number"),
        ({"type": "jsonl", "path": "x", "max_bytes": "10MB"}, "max_bytes: must be a positive"),
        ({"type": "jsonl", "path": "x", "rotate": True}, "rotate: unknown key"),
    ]
    for options, message in bad:
        with pytest.raises(ConfigError, match=message):
            build_channel("f", options)


def test_tail_output_writes_rotated_json_lines(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    settings = load_settings(None, env={}, overrides={"database": {"url": f"sqlite:///{db}"}})
    asyncio.run(run_replay(default_seeds_dir(), settings, alert_stream=io.StringIO()))
    out = tmp_path / "feed" / "matches.jsonl"
    args = ["tail", "--db", str(db), "--output", str(out), "--max-bytes", "6000", "--backups", "9"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    files = [out] + [backup_path(out, n) for n in range(1, 10) if backup_path(out, n).exists()]
    assert len(files) > 1  # five matches do not fit in 6000 bytes
    lines = [line for f in reversed(files) for line in _read(f)]
    assert len(lines) == 5
    assert {line["type"] for line in lines} == {"match"}
