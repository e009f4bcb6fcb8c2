"""Parse benchmark: plan-tasks against markdown-it-py on one large generated plan.

    .venv/bin/python bench/parse.py [--rounds 7] [--phases 100] [--tasks-per-phase 100] [--json]
    .venv/bin/python bench/parse.py --dialects [seed,speckit,...] [--rounds 5]

Contenders, timed side by side in one run and interleaved round by round (the
order rotates every round) so that machine noise hits all of them alike:

  (a) markdown-it     MarkdownIt("commonmark").parse(text), a full parse
  (b) md-it blocks    the same with inline rules disabled, as plan-tasks runs it
  (c) plan-tasks      parse_plan + build_graph + check_plan (what load_text does)
  (d) validate        `plan-tasks validate PLAN` as a whole process (wall time)
  (e) import          `python -c "import plan_tasks.load"` (startup + imports)
  (f) python          `python -c pass` (interpreter startup, for scale)

The target is (c) at most 2x (a). Reports the median and min of each, and the
ratio of medians (c)/(a) (and of mins). Run it with the venv's Python so that
(d) to (f) use the same interpreter.

``--dialects`` instead times, for the same plan written in each dialect
(``generate_dialects.py``), (a) markdown-it's full parse of that text and (c)
plan-tasks' parse + graph + checks with dialect detection, all interleaved
round by round, and prints (c)/(a) per dialect (target: at most 1.2x). Both
run in this process, so it measures this process's CPU time
(``time.process_time``), which other load on a shared machine disturbs far
less than wall time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_dialects import REWRITES, generate_dialect_plan  # noqa: E402
from generate_plan import generate_plan  # noqa: E402
from interleave import plan_tasks_command, time_interleaved  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402

from plan_tasks.check import check_plan  # noqa: E402
from plan_tasks.graph import build_graph  # noqa: E402
from plan_tasks.parse import parse_plan  # noqa: E402

TARGET_RATIO = 2.0
DIALECT_TARGET_RATIO = 1.2


def _in_process(function: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> Callable[[], float]:
    def timed() -> float:
        gc.collect()  # start every contender from the same heap state
        start = clock()
        function()
        return clock() - start

    return timed


def _process(argv: list[str]) -> Callable[[], float]:
    def timed() -> float:
        start = time.perf_counter()
        result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()}")
        return elapsed

    return timed


def _load(text: str) -> object:
    plan, problems = parse_plan(text, "bench.md")
    graph = build_graph(plan)
    problems += check_plan(plan, graph)
    return plan, graph, problems


def run(rounds: int, phases: int, tasks_per_phase: int) -> dict:
    text = generate_plan(phases, tasks_per_phase)
    full = MarkdownIt("commonmark")
    blocks = MarkdownIt("commonmark")
    blocks.disable(["inline", "text_join"])

    # Sanity: the plan is what we think it is, and valid.
    plan, graph, problems = _load(text)
    errors = [problem for problem in problems if problem.is_error]
    if errors or len(plan.tasks) != phases * tasks_per_phase:
        raise SystemExit(f"generated plan is not valid: {len(plan.tasks)} tasks, {errors[:3]}")
    kinds = {kind: sum(1 for edge in graph.edges if edge.kind == kind) for kind in ("depends", "sequential", "file")}

    with tempfile.TemporaryDirectory(prefix="plan-tasks-bench-") as directory:
        plan_path = os.path.join(directory, "plan.md")
        with open(plan_path, "w", encoding="utf-8") as handle:
            handle.write(text)
        contenders: dict[str, tuple[str, Callable[[], float]]] = {
            "a": ("markdown-it full parse", _in_process(lambda: full.parse(text))),
            "b": ("markdown-it block-only", _in_process(lambda: blocks.parse(text))),
            "c": ("plan-tasks parse+graph+check", _in_process(lambda: _load(text))),
            "d": ("plan-tasks validate (process)", _process([*plan_tasks_command(), "validate", plan_path])),
            "e": ("python -c 'import plan_tasks.load'", _process([sys.executable, "-c", "import plan_tasks.load"])),
            "f": ("python -c pass", _process([sys.executable, "-c", "pass"])),
        }
        results = time_interleaved(contenders, rounds)

    ratio_median = results["c"]["median_s"] / results["a"]["median_s"]
    ratio_min = results["c"]["min_s"] / results["a"]["min_s"]
    return {
        "plan": {
            "phases": phases,
            "tasks_per_phase": tasks_per_phase,
            "tasks": len(plan.tasks),
            "lines": text.count("\n") + 1,
            "bytes": len(text.encode("utf-8")),
            "edges": kinds,
        },
        "rounds": rounds,
        "python": platform.python_version(),
        "results": results,
        "ratio_c_over_a": {"median": ratio_median, "min": ratio_min},
        "target_ratio": TARGET_RATIO,
        "target_met": ratio_median <= TARGET_RATIO,
    }


def run_dialects(rounds: int, phases: int, tasks_per_phase: int, dialects: list[str]) -> dict:
    """(a) markdown-it full parse and (c) plan-tasks load of the plan in each dialect."""
    full = MarkdownIt("commonmark")
    contenders: dict[str, tuple[str, Callable[[], float]]] = {}
    sizes = {}
    for dialect in dialects:
        text = generate_dialect_plan(dialect, phases, tasks_per_phase)
        plan, _, problems = _load(text)
        errors = [problem for problem in problems if problem.is_error]
        if errors or plan.dialect != dialect or len(plan.tasks) != phases * tasks_per_phase:
            raise SystemExit(f"{dialect}: generated plan read as {plan.dialect}, {len(plan.tasks)} tasks, {errors[:3]}")
        sizes[dialect] = {"lines": text.count("\n") + 1, "bytes": len(text.encode("utf-8"))}
        contenders[f"a:{dialect}"] = (f"{dialect}: markdown-it full parse",
                                      _in_process(lambda t=text: full.parse(t), time.process_time))
        contenders[f"c:{dialect}"] = (f"{dialect}: plan-tasks parse+graph+check",
                                      _in_process(lambda t=text: _load(t), time.process_time))
    results = time_interleaved(contenders, rounds)
    ratios = {
        dialect: {
            "median": results[f"c:{dialect}"]["median_s"] / results[f"a:{dialect}"]["median_s"],
            "min": results[f"c:{dialect}"]["min_s"] / results[f"a:{dialect}"]["min_s"],
        }
        for dialect in dialects
    }
    return {"tasks": phases * tasks_per_phase, "sizes": sizes, "rounds": rounds,
            "python": platform.python_version(), "results": results, "ratios": ratios,
            "target_ratio": DIALECT_TARGET_RATIO}


def _dialect_table(report: dict) -> str:
    out = [
        f"{report['tasks']} tasks per plan, python {report['python']}, {report['rounds']} rounds "
        "(interleaved, rotating order, 1 warm-up round); CPU time of this process",
        "",
        f"{'dialect':11}{'lines':>8}{'MB':>6}{'(a) md-it CPU ms':>18}{'(c) CPU ms':>12}{'(c)/(a) median':>16}{'by min':>8}",
    ]
    for dialect, ratio in report["ratios"].items():
        size, a, c = report["sizes"][dialect], report["results"][f"a:{dialect}"], report["results"][f"c:{dialect}"]
        verdict = "" if ratio["median"] <= report["target_ratio"] else "  over target"
        out.append(f"{dialect:11}{size['lines']:8d}{size['bytes'] / 1e6:6.2f}{a['median_s'] * 1e3:18.0f}"
                   f"{c['median_s'] * 1e3:12.0f}{ratio['median']:15.2f}x{ratio['min']:7.2f}x{verdict}")
    out += ["", f"target: (c)/(a) <= {report['target_ratio']:.1f}x per dialect"]
    return "\n".join(out)


def _table(report: dict) -> str:
    plan = report["plan"]
    edges = plan["edges"]
    out = [
        f"plan: {plan['tasks']} tasks ({plan['phases']} phases x {plan['tasks_per_phase']}), "
        f"{plan['lines']} lines, {plan['bytes'] / 1e6:.2f} MB; edges: {edges['depends']} depends, "
        f"{edges['sequential']} sequential, {edges['file']} file",
        f"python {report['python']}, {report['rounds']} rounds (interleaved, rotating order, 1 warm-up round)",
        "",
        f"{'':4}{'contender':38}{'median ms':>11}{'min ms':>11}",
    ]
    for key, result in report["results"].items():
        out.append(f"({key}) {result['label']:38}{result['median_s'] * 1e3:11.1f}{result['min_s'] * 1e3:11.1f}")
    ratio = report["ratio_c_over_a"]
    verdict = "met" if report["target_met"] else "NOT met"
    out += [
        "",
        f"(c)/(a): {ratio['median']:.2f}x by median, {ratio['min']:.2f}x by min "
        f"(target <= {report['target_ratio']:.1f}x: {verdict})",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark plan-tasks parsing against markdown-it-py.")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per contender (default 7)")
    parser.add_argument("--phases", type=int, default=100, help="phases in the generated plan (default 100)")
    parser.add_argument("--tasks-per-phase", type=int, default=100, help="tasks per phase (default 100)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--dialects", nargs="?", const=",".join(REWRITES), metavar="LIST",
                        help=f"per dialect (default all: {','.join(REWRITES)}): plan-tasks against markdown-it")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.phases < 1 or args.tasks_per_phase < 1:
        parser.error("--rounds, --phases and --tasks-per-phase must be at least 1")
    if args.dialects:
        dialects = args.dialects.split(",")
        unknown = sorted(set(dialects) - set(REWRITES))
        if unknown:
            parser.error(f"no generator for {', '.join(unknown)}; choose from {', '.join(REWRITES)}")
        dialect_report = run_dialects(args.rounds, args.phases, args.tasks_per_phase, dialects)
        print(json.dumps(dialect_report, indent=2) if args.json else _dialect_table(dialect_report))
        return 0
    report = run(args.rounds, args.phases, args.tasks_per_phase)
    print(json.dumps(report, indent=2) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
