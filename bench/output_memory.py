"""Peak memory of `plan-tasks run` while a task prints a lot, as whole processes.

    .venv/bin/python bench/output_memory.py [--baseline GIT_REF] [--cases all|quiet|200mb|endless|endless-uncapped]

One single-task shell plan per case, run by `plan-tasks run` in a temporary
project on the local Prefect server it starts; the figure is the run
process's own peak RSS (``VmHWM`` of ``/proc/self/status`` at exit, so the
server and the task's processes are not counted):

  quiet              the task prints one line: what a run costs anyway
  200mb              the task prints 200 MB (100-byte lines) and exits 0
                     (current code: `--output-limit 1GB`, so the cap does not end it)
  endless            the task prints without end; `--timeout 3` (current code: the default 50 MB cap)
  endless-uncapped   as endless, current code with `--output-limit 100GB`: only the timeout ends it

With ``--baseline REF`` each case also runs the `plan_tasks` package of that
git ref (extracted with `git archive`), without the options it does not know.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
LINE = "x" * 99
CASES = {
    "quiet": ("echo done", []),
    "200mb": (f"yes {LINE} | head -c 200000000", ["--output-limit", "1GB"]),
    "endless": (f"yes {LINE}", []),
    "endless-uncapped": (f"yes {LINE}", ["--output-limit", "100GB"]),
}
# Runs the CLI and prints the process's peak RSS (VmHWM, KiB) as its last stderr line; not
# ru_maxrss, which Linux carries over an exec from the process that forked it.
WRAPPER = """\
import atexit, runpy, sys
def peak():
    lines = open("/proc/self/status").read().splitlines()
    print("peak-rss-kib", next(line for line in lines if line.startswith("VmHWM:")).split()[1], file=sys.stderr)
atexit.register(peak)
sys.argv = ["plan-tasks", *sys.argv[1:]]
runpy.run_module("plan_tasks", run_name="__main__")
"""
PLAN = "# Plan: Output\n\n## Phase 1: Print\n\n- [ ] 1.1 Print a lot\n  Run: `{command}`\n"


def run_case(command: str, options: list[str], package_dir: Path | None) -> tuple[float, float, str]:
    """(peak RSS MiB, seconds, the run's last stdout line)."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "project"
        root.mkdir()
        (root / "plan.md").write_text(PLAN.format(command=command))
        env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
        env["PREFECT_HOME"] = str(Path(directory) / "prefect-home")
        env["PLAN_TASKS_CACHE_DIR"] = str(Path(directory) / "cache")
        if package_dir is not None:
            env["PYTHONPATH"] = str(package_dir)
        argv = [sys.executable, "-c", WRAPPER, "run", "plan.md", "--executor", "shell", "--retries", "0",
                "--timeout", "3", *options]
        began = time.perf_counter()
        result = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - began
    peak = [line for line in result.stderr.splitlines() if line.startswith("peak-rss-kib ")]
    if not peak:
        raise SystemExit(f"no figure from {' '.join(argv)}:\n{result.stderr}")
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return int(peak[-1].split()[1]) / 1024, seconds, last


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", ref, "plan_tasks"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="GIT_REF")
    parser.add_argument("--cases", default="all", choices=["all", *CASES])
    args = parser.parse_args()
    names = list(CASES) if args.cases == "all" else [args.cases]
    with tempfile.TemporaryDirectory() as baseline_dir:
        baseline = extract(args.baseline, Path(baseline_dir)) if args.baseline else None
        print(f"{'case':<18} {'code':<10} {'peak RSS':>10} {'wall':>7}  outcome")
        for name in names:
            command, options = CASES[name]
            contenders = [("current", options, Path(REPOSITORY))]
            if baseline is not None and name != "endless-uncapped":
                contenders.append((args.baseline, [], baseline))
            for label, extra, package in contenders:
                peak, seconds, last = run_case(command, extra, package)
                print(f"{name:<18} {label:<10} {peak:>6.0f} MiB {seconds:>6.1f}s  {last[:90]}", flush=True)


if __name__ == "__main__":
    main()
