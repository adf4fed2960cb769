"""The systemd unit starts without credentials it does not need, and its documentation exists
after the pip install the README describes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "pantau.service"


def unit_values(key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip()
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if line.startswith(f"{key}=")
    ]


def test_credentials_are_optional() -> None:
    # An absolute path that does not exist stops the service from starting; a bare name is
    # looked up in systemd's credential store and skipped when missing.
    credentials = unit_values("LoadCredential")
    assert credentials, "the unit hands secrets over as credentials"
    for value in credentials:
        name, _, path = value.partition(":")
        assert not path, f"LoadCredential={value} fails the start when its file is missing"
        assert name in {"slack_webhook_url", "smtp_password"}


@pytest.mark.slow
def test_the_documentation_path_exists_after_pip_install(tmp_path: Path) -> None:
    [exec_start] = unit_values("ExecStart")
    venv = Path(exec_start.split()[0]).parent.parent  # /opt/pantau/venv/bin/pantau
    [documentation] = unit_values("Documentation")
    assert documentation.startswith("file://")
    doc = Path(documentation.removeprefix("file://"))
    assert doc.is_relative_to(venv)
    prefix = tmp_path / "venv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--prefix",
            str(prefix),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    installed = prefix / doc.relative_to(venv)
    assert installed.is_file()
    assert installed.read_text(encoding="utf-8").startswith("# Pantau")
