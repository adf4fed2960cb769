"""`pantau replay --json` on the seeds and on ../shared/corpus/articles, compared with the output
saved before the stage-packages reorganisation (benchmarks/replay_baseline/).

    python -m benchmarks.replay_compare            # exit 0 when identical, 1 with a diff
    python -m benchmarks.replay_compare --save     # record a new baseline (after a reviewed change)

The replay site listens on a random loopback port; ports are masked before comparing.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).resolve().parent / "replay_baseline"
CORPORA = {"seeds": "seeds", "articles": "../shared/corpus/articles"}  # relative to ROOT
PORT = re.compile(r"127\.0\.0\.1:\d+")


def replay_json(directory: str) -> str:
    code = "import sys; from monitor.cli import main; sys.argv[0] = 'pantau'; main()"
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "replay.db")
        out = subprocess.run(
            [sys.executable, "-c", code, "replay", directory, "--json", "--db", db],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
    return PORT.sub("127.0.0.1:PORT", out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", action="store_true", help="write the current output as baseline")
    args = parser.parse_args(argv)
    different = 0
    for name, directory in CORPORA.items():
        now = replay_json(directory)
        saved = BASELINE / f"{name}.json"
        if args.save:
            saved.write_text(now, encoding="utf-8")
            print(f"{name}: baseline saved ({len(now.splitlines())} lines)")
            continue
        before = PORT.sub("127.0.0.1:PORT", saved.read_text(encoding="utf-8"))
        if now == before:
            print(f"{name}: identical ({len(now.splitlines())} lines)")
        else:
            different += 1
            print(f"{name}: DIFFERENT")
            sys.stdout.writelines(
                difflib.unified_diff(before.splitlines(True), now.splitlines(True), "before", "now")
            )
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main())
