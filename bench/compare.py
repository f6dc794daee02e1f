"""This tree against an earlier commit, in interleaved pairs: what a change bought, on a noisy machine.

    .venv/bin/python bench/compare.py --base 6f6804c --pairs 6 --store sqlite --workloads W1,W2 \\
        --metrics runs_per_s,p50_ms,p99_ms,server_cpu_s

The machine this project is measured on changes speed by tens of percent within minutes, so two
trees are compared in the same minutes: the base commit is checked out in a temporary git worktree
and both servers are measured by this tree's ``bench/run.py --no-verify`` (the same client, so a
workload added since the base measures it too) with this virtualenv, alternately, the one that goes first
swapping each pair. It prints each run's figures, then per figure both medians and the median of
the per-pair ratios (this tree / base). The worktree is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_bench(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    """This tree's ``bench/run.py`` against a server of ``tree``'s code: ``{"sqlite.W1.runs_per_s": ...}``."""
    command = [
        sys.executable,
        str(REPO / "bench" / "run.py"),
        "--store",
        args.store,
        "--workloads",
        args.workloads,
        "--no-verify",
    ]
    env = dict(os.environ, PYTHONPATH=str(tree), BATON_BENCH_SERVER_TREE=str(tree))
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    figures: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if line.startswith("{") and '"baton_commit"' in line:
            print(f"{tree}: server at {json.loads(line)['baton_commit']}", file=sys.stderr, flush=True)
    for line in done.stdout.splitlines():
        result = json.loads(line)
        if "error" in result:
            raise SystemExit(f"{tree}: {result}")
        for metric in args.metric_list:
            if metric in result:
                figures[f"{result['store']}.{result['workload']}.{metric}"] = result[metric]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--workloads", default="W1")
    parser.add_argument("--metrics", default="runs_per_s,server_cpu_s")
    args = parser.parse_args()
    args.metric_list = [metric.strip() for metric in args.metrics.split(",") if metric.strip()]

    with tempfile.TemporaryDirectory(prefix="baton-compare-") as scratch:
        base_tree = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), args.base], cwd=REPO, check=True)
        try:
            runs: dict[str, list[dict[str, float]]] = {"this": [], "base": []}
            for pair in range(args.pairs):
                order = [("this", REPO), ("base", base_tree)]
                for name, tree in order if pair % 2 == 0 else reversed(order):
                    figures = run_bench(tree, args)
                    runs[name].append(figures)
                    print(json.dumps({"pair": pair, "tree": name, **figures}), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=REPO, check=False)

    for key in runs["this"][0]:
        mine = [figures[key] for figures in runs["this"]]
        theirs = [figures[key] for figures in runs["base"]]
        ratios = [round(a / b, 3) for a, b in zip(mine, theirs, strict=True) if b]
        print(
            f"{key}: this {statistics.median(mine):g}, base {statistics.median(theirs):g}, "
            f"ratio {statistics.median(ratios):.3f} {ratios}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
