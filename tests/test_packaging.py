"""A plain (non-editable) install finds its default configuration, lexicons and seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(out.glob("pantau-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def _run(site: Path, code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wheel_carries_config_lexicons_seeds_and_migrations(unpacked_wheel: Path) -> None:
    defaults = unpacked_wheel / "monitor" / "_defaults"
    for name in ("pantau.toml", "feeds.toml", "topics.toml", "actors.toml"):
        assert (defaults / "config" / name).is_file(), name
    assert len(list((defaults / "seeds").glob("*.txt"))) == 5
    assert (unpacked_wheel / "storage" / "migrations" / "env.py").is_file()
    model = unpacked_wheel / "monitor" / "match" / "relevance_model.json"
    assert json.loads(model.read_text(encoding="utf-8"))["topics"].keys() >= {"nato", "ukraine"}


def test_installed_pantau_replays_the_seeds_with_its_packaged_defaults(
    unpacked_wheel: Path, tmp_path: Path
) -> None:
    probe = _run(
        unpacked_wheel,
        "from monitor.paths import default_config_dir as d; print(d())",
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(unpacked_wheel)
    result = _run(
        unpacked_wheel,
        "import sys; from monitor.cli import main; sys.argv[0] = 'pantau'; main()",
        "replay",
        "--json",
        "--db",
        str(tmp_path / "p.db"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"summary": {"stored": 5, "duplicates": 0, "skipped": 0, "alerts": 5}}


def _imported_top_level_modules(*packages: str) -> set[str]:
    import ast

    names: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            if "_defaults" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_of_the_package_is_a_declared_runtime_dependency() -> None:
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {norm(re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    optional = {  # imported only behind a clear error naming the extra to install
        norm(re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0])
        for extra in ("postgres", "apprise", "train")
        for d in project["optional-dependencies"][extra]
    }
    dists = packages_distributions()
    own = {"monitor", "storage"}
    missing = {}
    for module in _imported_top_level_modules("monitor", "storage") - own:
        if module in sys.stdlib_module_names:
            continue
        providers = {norm(d) for d in dists.get(module, [])}
        assert providers, f"{module} is imported but no installed distribution provides it"
        if not providers & (declared | optional):
            missing[module] = sorted(providers)
    assert not missing, f"imported by monitor/ or storage/ but not declared: {missing}"
