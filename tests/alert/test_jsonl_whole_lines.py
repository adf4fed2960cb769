"""The ``jsonl`` alert channel never leaves a torn line, never glues a retry onto one, and keeps
its file private: a full disk (or a file size limit) fails the delivery, which the outbox retries
(transient), with nothing of the failed line left behind."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.alert.channels import test_message
from monitor.alert.jsonl import JsonlChannel
from monitor.alert.sinks import RotationPolicy, backup_path

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[dict[str, object]]:
    """Every line of the file as JSON (fails on a torn or glued line)."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), raw[-80:]
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


async def test_a_torn_last_line_is_cut_off_and_the_next_alert_is_a_whole_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    channel = JsonlChannel("shipper", path)
    await channel.send(replace(test_message(), title="delivered before the disk filled"))
    with path.open("ab") as fh:  # what a full disk leaves of the next line
        fh.write(b'{"type":"alert","title":"Sekjen NATO bertem')
    await channel.send(replace(test_message(), title="Sekjen NATO bertemu Putin"))
    titles = [line["title"] for line in _lines(path)]
    assert titles == ["delivered before the disk filled", "Sekjen NATO bertemu Putin"]


_FILL_UP = textwrap.dedent(
    """
    import asyncio, resource, signal, sys
    from dataclasses import replace
    from pathlib import Path
    from monitor.alert.channels import test_message
    from monitor.alert.jsonl import JsonlChannel
    from monitor.errors import AlertDeliveryError

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    channel = JsonlChannel("shipper", Path(sys.argv[1]))
    asyncio.run(channel.send(replace(test_message(), title="first")))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # Room for part of the next line only: the kernel writes what fits, then refuses the rest.
    resource.setrlimit(resource.RLIMIT_FSIZE, (Path(sys.argv[1]).stat().st_size + 100, hard))
    try:
        asyncio.run(channel.send(replace(test_message(), title="second")))
    except AlertDeliveryError as exc:
        print("failed", "transient" if exc.transient else "permanent", exc.message)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again: the outbox retries
    asyncio.run(channel.send(replace(test_message(), title="second")))
    print("retried")
    """
)


def test_a_write_cut_short_by_a_full_file_leaves_no_fragment_and_the_retry_is_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", _FILL_UP, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    failed, retried = run.stdout.splitlines()
    assert failed.startswith("failed transient shipper: could not append to"), failed
    assert retried == "retried"
    assert [line["title"] for line in _lines(path)] == ["first", "second"]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
async def test_alert_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    channel = JsonlChannel("shipper", path, RotationPolicy(max_bytes=600, backups=1))
    for n in range(3):  # enough to rotate: the new file is created private too
        await channel.send(replace(test_message(), title=f"alert {n}"))
    assert backup_path(path, 1).exists()
    for file in (path, backup_path(path, 1)):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
