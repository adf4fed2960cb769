"""Validate a relevance-corpus JSON-lines file: format, reserved URLs, duplicates.

Usage: python3 tests/data/relevance/check.py FILE [FILE...]
Exits 1 and names the line of every problem.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the checkout: one definition of URL keys and splits
from monitor.match.evaluate import split_of, url_key  # noqa: E402

EXCLUSIONS = HERE.parents[2].parent / "shared" / "corpus" / "evaluation_exclusions.txt"
VERDICTS = {"substantive", "passing", "none"}
TOPICS = ("nato", "ukraine", "us_russia")
TAGS = {
    "nationality",
    "nato_alphabet",
    "currency_as",
    "cooccurrence_only",
    "war_background",
    "war_subject_once",
    "role_other_person",
    "role_backref",
    "transliteration",
    "namesake",
    "surname_after_full",
    "related_links",
    "hard_negative",
}


def reserved() -> set[str]:
    lines = EXCLUSIONS.read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def check(paths: list[Path]) -> list[str]:
    excluded = reserved()
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{n}"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON: {exc}")
                continue
            for field in ("url", "title", "published", "lang", "text"):
                if not isinstance(row.get(field), str) or not row[field].strip():
                    problems.append(f"{where}: missing {field}")
            if row.get("lang") not in ("id", "en"):
                problems.append(f"{where}: lang must be id or en")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(row.get("published", ""))):
                problems.append(f"{where}: published must be YYYY-MM-DD")
            topics = row.get("topics", {})
            for topic in TOPICS:
                if topics.get(topic) not in VERDICTS:
                    problems.append(f"{where}: topics.{topic} must be one of {sorted(VERDICTS)}")
            if not isinstance(row.get("actors"), list):
                problems.append(f"{where}: actors must be a list")
            for role in row.get("roles", []):
                if not isinstance(role, dict) or "term" not in role or "actor" not in role:
                    problems.append(f"{where}: roles entries need term and actor")
            for tag in row.get("tags", []):
                if tag not in TAGS:
                    problems.append(f"{where}: unknown tag {tag!r}")
            key = url_key(str(row.get("url", "")))
            split = split_of(str(row.get("url", "")))
            if row.get("fixture"):
                if row.get("split") != "train":
                    problems.append(f"{where}: a fixture (a seed article) belongs to train")
            elif "split" in row and row["split"] != split:
                problems.append(
                    f"{where}: split is fixed by the URL hash: {split}, not {row['split']}"
                )
            if hashlib.sha256(key.encode()).hexdigest() in excluded:
                problems.append(f"{where}: {row['url']} is reserved for outside evaluation")
            if key in seen:
                problems.append(f"{where}: duplicate of {seen[key]} ({key})")
            seen[key] = where
    return problems


def main() -> int:
    problems = check([Path(p) for p in sys.argv[1:]])
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
