"""`run --dry-run` against `show` on one large generated plan, as whole processes.

    .venv/bin/python bench/dry_run.py [--rounds 3] [--phases 200] [--tasks-per-phase 100]
                                      [--baseline GIT_REF] [--json]

Both commands load the plan, group its tasks into levels and find the critical
path, so `run --dry-run` should cost about what `show` costs. Contenders, each
`plan-tasks` as a subprocess (wall time), interleaved round by round:

  (a) show            `plan-tasks show PLAN`
  (b) dry-run         `plan-tasks run PLAN --dry-run`
  (c) dry-run, REF    (b) with the `plan_tasks` package of git ref ``--baseline``
                      (extracted with `git archive`), for before-and-after figures

Every process gets its own `PLAN_TASKS_CACHE_DIR` in a temporary directory.
Prints the median and min of each and the ratio of medians (b)/(a).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_plan import generate_plan  # noqa: E402
from interleave import extract_package, plan_tasks_command, time_interleaved  # noqa: E402


def _process(argv: list[str], env: dict[str, str], cwd: Path) -> Callable[[], float]:
    def timed() -> float:
        start = time.perf_counter()
        # The working directory is not the repository: `python -m` puts it first
        # on sys.path, where it would shadow the baseline's package.
        result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd,
                                check=False)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()}")
        return elapsed

    return timed


def run(rounds: int, phases: int, tasks_per_phase: int, baseline: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="plan-tasks-dry-run-") as scratch:
        work = Path(scratch)
        plan = work / "plan.md"
        plan.write_text(generate_plan(phases, tasks_per_phase), encoding="utf-8")
        env = {**os.environ, "PLAN_TASKS_CACHE_DIR": str(work / "cache")}
        root = ["--root", str(work / "project")]
        command = plan_tasks_command()
        contenders = {
            "a": ("show", _process([*command, "show", str(plan)], env, work)),
            "b": ("run --dry-run", _process([*command, "run", str(plan), "--dry-run", *root], env, work)),
        }
        if baseline:
            old = extract_package(baseline, Path(tempfile.mkdtemp(dir=work)))
            old_env = {**env, "PYTHONPATH": str(old)}
            argv = [sys.executable, "-m", "plan_tasks", "run", str(plan), "--dry-run", *root]
            contenders["c"] = (f"run --dry-run at {baseline}", _process(argv, old_env, work))
        results = time_interleaved(contenders, rounds, warm_up=False)
    return {"tasks": phases * tasks_per_phase, "rounds": rounds, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phases", type=int, default=200)
    parser.add_argument("--tasks-per-phase", type=int, default=100)
    parser.add_argument("--baseline", metavar="GIT_REF", help="also time `run --dry-run` of this git ref")
    parser.add_argument("--json", action="store_true", help="print every sample as JSON")
    args = parser.parse_args()
    report = run(args.rounds, args.phases, args.tasks_per_phase, args.baseline)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    results = report["results"]
    print(f"{report['tasks']:,} tasks, {report['rounds']} interleaved rounds, whole processes")
    for key, result in results.items():
        print(f"  ({key}) {result['label']:<32} median {result['median_s']:6.2f} s   min {result['min_s']:6.2f} s")
    print(f"  (b)/(a) = {results['b']['median_s'] / results['a']['median_s']:.2f}x by median")


if __name__ == "__main__":
    main()
