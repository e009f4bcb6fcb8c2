"""The run's scheduler, handing out and finishing every task of a plan: linear in its size?

    .venv/bin/python bench/scheduler.py [--rounds 5] [--sizes 1000,10000] [--slots 8]
                                        [--gates 0.8,0] [--baseline GIT_REF] [--json]

For each plan size, a generated plan of 100 tasks per phase (``generate_plan``:
dependencies, shared files, complexity weights) is loaded once, untimed; then
what is timed is a whole run's worth of ``RunScheduler`` calls with no task
work: ``take()`` everything it hands out, ``finish()`` the task started
earliest, until every task settled (``--slots`` slots, file locks on, each
``--gates`` gate). A linear scheduler costs the same per task at every size:
the bench prints microseconds per task and the ratio of the largest size's to
the smallest's (1.0 is linear; 10.0 at ten times the tasks is quadratic).

Each measurement runs in a fresh interpreter and counts its CPU time (the
machine is shared: wall times of one measurement varied 2x between rounds),
rounds interleaved with a rotating order (``interleave.time_interleaved``). ``--baseline GIT_REF`` adds
the ``plan_tasks`` package of that git ref (extracted with ``git archive``) as
a contender, for before-and-after figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_plan import generate_plan  # noqa: E402
from interleave import extract_package, time_interleaved  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
TASKS_PER_PHASE = 100


def measure(plan_path: Path, slots: int, gate: float) -> float:
    """Seconds the scheduler takes to hand out and finish every task of the plan."""
    from plan_tasks.load import load_plan
    from plan_tasks.run.scheduler import RunScheduler

    loaded = load_plan(str(plan_path))
    graph = loaded.graph
    files = graph.held_files({task.id: task.files for task in loaded.plan.tasks})
    start = time.process_time()  # CPU time: on the shared machine, wall time varied 2x between rounds
    scheduler = RunScheduler(graph, graph.task_ids, files=files, max_parallel=slots, phase_gate=gate)
    running: collections.deque[str] = collections.deque()
    while True:
        running.extend(scheduler.take(None))
        if not running:
            break
        scheduler.finish(running.popleft(), succeeded=True)
    elapsed = time.process_time() - start
    if not scheduler.all_settled():
        raise SystemExit(f"the scheduler stalled at gate {gate}")
    return elapsed


def _contender(plan: Path, slots: int, gate: float, pythonpath: str | None):  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath

    def timed() -> float:
        argv = [sys.executable, __file__, "--measure", str(plan), "--slots", str(slots), "--gates", str(gate)]
        # Run from a scratch directory: the repository first on sys.path would shadow the baseline.
        result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=plan.parent, check=False)
        if result.returncode != 0:
            raise SystemExit(f"measuring {plan.name} failed:\n{result.stderr}")
        return float(result.stdout.strip())

    return timed


def run(rounds: int, sizes: list[int], slots: int, gates: list[float], baseline: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="plan-tasks-scheduler-") as scratch:
        work = Path(scratch)
        versions = {"this tree": str(REPOSITORY)}
        if baseline:
            versions[baseline] = str(extract_package(baseline, Path(tempfile.mkdtemp(dir=work))))
        contenders = {}
        for size in sizes:
            plan = work / f"plan-{size}.md"
            plan.write_text(generate_plan(max(1, size // TASKS_PER_PHASE), TASKS_PER_PHASE), encoding="utf-8")
            for gate in gates:
                for version, path in versions.items():
                    key = f"{version}|{gate:g}|{size}"
                    contenders[key] = (f"{version}, gate {gate:g}, {size} tasks", _contender(plan, slots, gate, path))
        results = time_interleaved(contenders, rounds, warm_up=False)
    return {"rounds": rounds, "slots": slots, "sizes": sizes, "results": results}


def report(data: dict) -> str:
    sizes = data["sizes"]
    lines = [f"{data['rounds']} rounds, {data['slots']} slots, medians (min), CPU microseconds per task", ""]
    rows: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    for key, result in data["results"].items():
        version, gate, size = key.split("|")
        per_task = (result["median_s"] / int(size) * 1e6, result["min_s"] / int(size) * 1e6)
        rows.setdefault((version, gate), {})[int(size)] = per_task
    header = "| scheduler | gate | " + " | ".join(f"{size:,} tasks" for size in sizes) + \
        f" | {sizes[-1]:,} / {sizes[0]:,} per task |"
    lines += [header, "|---|---:|" + "---:|" * (len(sizes) + 1)]
    for (version, gate), by_size in rows.items():
        cells = " | ".join(f"{by_size[size][0]:.1f} ({by_size[size][1]:.1f})" for size in sizes)
        ratio = by_size[sizes[-1]][0] / by_size[sizes[0]][0]
        lines.append(f"| {version} | {gate} | {cells} | {ratio:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--gates", default="0.8,0")
    parser.add_argument("--baseline", metavar="GIT_REF")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", metavar="PLAN", help=argparse.SUPPRESS)  # one measurement, in this process
    args = parser.parse_args(argv)
    gates = [float(gate) for gate in args.gates.split(",")]
    if args.measure:
        print(measure(Path(args.measure), args.slots, gates[0]))
        return 0
    data = run(args.rounds, [int(size) for size in args.sizes.split(",")], args.slots, gates, args.baseline)
    print(json.dumps(data, indent=2) if args.json else report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
