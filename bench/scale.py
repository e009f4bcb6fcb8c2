#!/usr/bin/env python3
"""Scale: a 10,000-task plan runs to completion, at a cost per task close to a 500-task run's.

Each run is a process of its own (``--one``), so its peak memory is its own:
``plan-tasks``' flow (``plan_tasks.prefect.flow.run_plan`` with a ``RunSettings``)
on the local server the run starts, no-op ``Call:`` tasks, 8 slots. Printed:
wall time, ms per task, the driver's peak RSS, and the 10,000-task run's cost
per task against the 500-task run's. Then ``show`` and ``run --dry-run`` on
1,000 and 10,000-task plans, as whole processes: their cost per task should
not grow with the plan.

    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/scale.py [--big 10000] [--phases 100]

Public names only: ``RunSettings``, ``run_plan``, ``prefect_api``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORKERS = 8


def plan_text(tasks: int, phases: int) -> str:
    sizes = [tasks // phases + (1 if number < tasks % phases else 0) for number in range(phases)]
    out = [f"# Scale: {tasks} no-op tasks in {phases} phases", ""]
    for phase, size in enumerate(sizes, 1):
        out += [f"## Phase {phase}: Block {phase}", ""]
        out += [line for number in range(1, size + 1)
                for line in (f"- [ ] {phase}.{number} No-op {number} of block {phase}", "  - Call: `bench_tasks:noop`")]
        out.append("")
    return "\n".join(out)


def one_run(tasks: int, phases: int, task_runner: str) -> dict:
    """In this process: run the plan on a fresh local server; wall time and peak RSS."""
    sys.path.insert(0, str(BENCH))
    from plan_tasks.prefect.local_server import prefect_api
    from plan_tasks.run.settings import RunSettings

    with tempfile.TemporaryDirectory(prefix="plan-tasks-scale-") as directory:
        root = Path(directory)
        (root / "plan.md").write_text(plan_text(tasks, phases), encoding="utf-8")
        os.environ["PREFECT_HOME"] = str(root / "prefect-home")
        with prefect_api():
            from plan_tasks.prefect.flow import run_plan

            began = time.perf_counter()
            summary = run_plan(settings=RunSettings(plan=str(root / "plan.md"), root=str(root), phase_gate=0.0,
                                                    max_parallel=WORKERS, executor="python", task_runner=task_runner))
            wall = time.perf_counter() - began
    return {"tasks": tasks, "phases": phases, "runner": task_runner, "completed": summary["completed"],
            "wall_s": wall, "ms_per_task": wall / tasks * 1e3,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def spawn(tasks: int, phases: int, task_runner: str = "threads") -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH), str(ROOT),
                                                                     os.environ.get("PYTHONPATH")])))
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run([sys.executable, __file__, "--one", str(tasks), str(phases), task_runner], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {tasks}-task run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def command_cost(tasks: int, arguments: list[str], rounds: int) -> float:
    """Median wall seconds of ``plan-tasks <arguments> plan.md`` on a plan of ``tasks`` tasks."""
    phases = max(1, round(tasks ** 0.5))
    with tempfile.TemporaryDirectory(prefix="plan-tasks-scale-cmd-") as directory:
        root = Path(directory)
        (root / "plan.md").write_text(plan_text(tasks, phases), encoding="utf-8")
        env = dict(os.environ, PLAN_TASKS_CACHE_DIR=str(root / "cache"))
        samples = []
        for _ in range(rounds + 1):  # the first fills the parse cache
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "plan_tasks", *arguments, "plan.md"], cwd=root, env=env,
                           capture_output=True, check=True)
            samples.append(time.perf_counter() - began)
        return statistics.median(samples[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--phases", type=int, default=100)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of show / --dry-run")
    parser.add_argument("--one", nargs=3, metavar=("TASKS", "PHASES", "RUNNER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(int(args.one[0]), int(args.one[1]), args.one[2])))
        return 0
    small, big = spawn(args.small, 5), spawn(args.big, args.phases)
    for run in (small, big):
        print(f"run {run['tasks']:6d} tasks, {run['phases']:3d} phases: {run['wall_s']:7.1f} s, "
              f"{run['ms_per_task']:6.1f} ms/task, driver peak RSS {run['peak_rss_mib']:.0f} MiB, "
              f"{run['completed']} completed")
    print(f"cost per task, {args.big} against {args.small}: {big['ms_per_task'] / small['ms_per_task']:.2f}x "
          f"(target <= 1.5x); peak RSS {big['peak_rss_mib']:.0f} MiB (target < 1024)")
    for arguments in (["show"], ["run", "--dry-run"]):
        low, high = command_cost(1000, arguments, args.rounds), command_cost(10_000, arguments, args.rounds)
        print(f"plan-tasks {' '.join(arguments):14} 1,000 tasks {low:.2f} s, 10,000 tasks {high:.2f} s: "
              f"{high / low:.2f}x for 10x the tasks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
