"""``python -m benchmarks [--quick] [--only NAME,...] [--out FILE.json]``

Runs the benchmarks of issue #9 in one process (the memory benchmark and the loopback site in
subprocesses of their own), prints one table with every figure, its target and whether it is
met, and writes the figures plus the raw details as JSON (default
``benchmarks/results/latest.json``). ``--quick`` runs smaller rounds for a fast look.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import bench_memory
from benchmarks.common import Figure, Mode, Result, fmt

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = (
    "pipeline",
    "matcher",
    "polling",
    "dedup",
    "memory",
    "storage",
    "parse",
    "alert",
    "timeliness",
)
# Benchmarks that use both cores first; then the memory child starts (niced) and runs on the
# second core beside the single-threaded ones, which saves minutes of wall time.
RUN_ORDER = (
    "pipeline",
    "polling",
    "dedup",
    "memory",
    "matcher",
    "storage",
    "parse",
    "alert",
    "timeliness",
)


def _dedup(mode: Mode) -> Result:
    import contextlib
    import io

    from benchmarks.bench_dedup import run

    sizes = {"full": (1000, 10000, 100000), "quick": (1000, 10000, 30000), "tiny": (200, 400)}
    queries = {"full": 300, "quick": 150, "tiny": 20}[mode]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its own table
        data = run(sizes[mode], queries=queries)
    rows = data["rows"]
    figures = [
        Figure(
            "4 dedup",
            f"check (lookup + signature), {r['size']:,} stored, median",
            r["check_new"]["median_us"],
            "µs",
        )
        for r in rows
    ]
    figures += [
        Figure(
            "4 dedup", f"lookup only, {r['size']:,} stored, median", r["lookup_new_median_us"], "µs"
        )
        for r in rows
    ]
    first, last = rows[0]["check_new"]["median_us"], rows[-1]["check_new"]["median_us"]
    from benchmarks.common import Target

    figures.append(
        Figure(
            "4 dedup",
            f"flatness: check at {rows[-1]['size']:,} / at {rows[0]['size']:,}",
            last / first,
            "ratio",
            Target("<=", 1.5),
            note="flat: within 50 %",
        )
    )
    return Result("dedup", figures, data, time.perf_counter() - started)


def _runners(postgres_url: str | None) -> dict[str, Callable[[Mode], Result]]:
    from benchmarks import (
        bench_alert,
        bench_matcher,
        bench_parse,
        bench_pipeline,
        bench_polling,
        bench_storage,
        bench_timeliness,
    )

    return {
        "pipeline": bench_pipeline.run,
        "matcher": bench_matcher.run,
        "polling": bench_polling.run,
        "dedup": _dedup,
        "storage": lambda mode: bench_storage.run(mode, postgres_url),
        "parse": bench_parse.run,
        "alert": bench_alert.run,
        "timeliness": bench_timeliness.run,
    }


def _failed(name: str, exc: Exception, failed: dict[str, str]) -> Result:
    traceback.print_exc()
    failed[name] = f"{type(exc).__name__}: {exc}"
    return Result(name, [Figure(name, "benchmark failed", None, "", note=failed[name])])


def _verdict(f: Figure) -> str:
    if f.value is None:
        return "not measurable"
    return {True: "met", False: "MISSED", None: "-"}[f.met]


def table(results: list[Result]) -> str:
    rows = [("item", "figure", "value", "unit", "target", "verdict")]
    for r in results:
        for f in r.figures:
            rows.append((f.item, f.name, fmt(f.value), f.unit, str(f.target or ""), _verdict(f)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i != 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {f.item} / {f.name}: {f.note}" for r in results for f in r.figures if f.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def markdown(results: list[Result]) -> str:
    out = ["| item | figure | value | unit | target | verdict |", "|---|---|---:|---|---|---|"]
    for r in results:
        for f in r.figures:
            out.append(
                f"| {f.item} | {f.name} | {fmt(f.value)} | {f.unit} | "
                f"{f.target or ''} | {_verdict(f)} |"
            )
    return "\n".join(out)


def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=RESULTS.parent.parent,
            timeout=5,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "commit": commit,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[2]
    )
    parser.add_argument("--quick", action="store_true", help="smaller rounds, a few minutes")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PANTAU_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode: Mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(ORDER)
    unknown = set(names) - set(ORDER)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    runners = _runners(args.postgres)
    started = time.perf_counter()
    env = environment()
    results: list[Result] = []
    failed: dict[str, str] = {}
    warnings.simplefilter("ignore")  # third-party deprecation chatter would break the table
    memory: bench_memory.Running | None = None
    for name in [n for n in RUN_ORDER if n in names]:
        print(f"[{time.perf_counter() - started:6.1f} s] {name} ...", file=sys.stderr, flush=True)
        try:
            if name == "memory":
                memory = bench_memory.start(mode, nice=10)
            else:
                results.append(runners[name](mode))
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            results.append(_failed(name, exc, failed))
    if memory is not None:
        print(f"[{time.perf_counter() - started:6.1f} s] memory (finishing) ...", file=sys.stderr)
        try:
            results.append(bench_memory.finish(memory))
        except Exception as exc:
            results.append(_failed("memory", exc, failed))
    results.sort(key=lambda r: ORDER.index(r.name) if r.name in ORDER else len(ORDER))
    total = time.perf_counter() - started
    print(table(results))
    print(f"\nmode {mode}, {total:.0f} s in all; load average at start {env['load_average']}")
    payload = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "command": "python -m benchmarks" + (" --quick" if mode == "quick" else ""),
        "total_seconds": round(total, 1),
        "environment": {**env, "load_average_end": os.getloadavg()},
        "figures": [f.as_json() for r in results for f in r.figures],
        "benchmarks": {
            r.name: {"seconds": round(r.seconds, 1), "details": r.details} for r in results
        },
        "failed": failed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(results) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
