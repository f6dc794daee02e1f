"""The hottest functions in a py-spy speedscope profile, by own (self) time and by total (inclusive) time.

    .venv/bin/python bench/profile_top.py /tmp/prof/w1-sqlite.speedscope.json [--top 15] [--match baton/]

Functions are keyed by name and file (the line a sample stopped at is ignored), summed over every
thread; a function that recurses is counted once per sample for its total time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def short_path(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        index = path.find(marker)
        if index >= 0:
            return path[index + len(marker) :] if marker != "lib/python3" else "stdlib:" + path.rsplit("/", 1)[-1]
    return path


def summarise(profile: dict[str, Any]) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]], int]:
    frames = profile["shared"]["frames"]
    keys = [(f.get("name", "?"), short_path(f.get("file", "?"))) for f in frames]
    own: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    count = 0
    for thread in profile["profiles"]:
        # py-spy samples at a fixed rate, so every sample weighs the same; count them.
        for stack in thread.get("samples", []):
            if not stack:
                continue
            count += 1
            own[keys[stack[-1]]] += 1
            for key in {keys[i] for i in stack}:
                total[key] += 1
    return own, total, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--match", help="list only functions whose file path contains this (e.g. baton/)")
    args = parser.parse_args(argv)
    own, total, count = summarise(json.loads(args.profile.read_text()))
    if not count:
        print("no samples", file=sys.stderr)
        return 1
    for title, counter in (("own time", own), ("total time", total)):
        print(f"top {args.top} by {title} ({count} samples)")
        ranked = [(key, hits) for key, hits in counter.most_common() if not args.match or args.match in key[1]]
        for rank, ((name, path), hits) in enumerate(ranked[: args.top], start=1):
            print(f"{rank:3d}. {100 * hits / count:5.1f}%  {name}  ({path})")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
