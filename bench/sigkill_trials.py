"""SIGKILL trials: kill `plan-tasks run` at a random moment, resume, count side effects.

    .venv/bin/python bench/sigkill_trials.py [--trials 20] [--tasks-per-phase 10] [--seed 0] [--json]

Each trial makes a fresh project with a 30-task plan (3 phases of 10
independent shell tasks; task N sleeps 0.2-1.0 s, drawn from ``--seed``, then
appends one line to ``effects/N``: its side effect), starts `plan-tasks run`
(its own local Prefect server, as a user's plain run), waits until a random
moment between its first side effect and 3 s later, sends SIGKILL to the
plan-tasks process alone, reads status.json as the dead run left it, then runs
the same command again to the end. It counts, over all trials:

* completions recorded at the kill, and how many of those tasks' side effects
  happened more than once by the end (the claim: none);
* tasks whose side effect never happened (none: every task runs at least once);
* tasks run twice whose completion was not recorded when the run died (allowed:
  their work may have been done, the record says it was not);
* task process groups of the dead run that the resumed run stopped, and
  processes of the dead run still alive once the resumed run ended (none).

Prints one line per trial and the tally.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUN_TIMEOUT = 300.0


def write_project(root: Path, phases: int, per_phase: int, rng: random.Random) -> list[str]:
    (root / "effects").mkdir(parents=True)
    lines, ids = ["# Plan: Killed", ""], []
    for phase in range(1, phases + 1):
        lines += [f"## Phase {phase}: Part {phase}", ""]
        for number in range(1, per_phase + 1):
            task_id = f"{phase}.{number}"
            ids.append(task_id)
            lines.append(f"- [ ] {task_id} Step {task_id}")
            lines.append(f"  Run: `sleep {rng.uniform(0.2, 1.0):.2f}; echo done >> effects/{task_id}`")
        lines.append("")
    (root / "plan.md").write_text("\n".join(lines), encoding="utf-8")
    return ids


def effects(root: Path) -> dict[str, int]:
    return {path.name: len(path.read_text().splitlines()) for path in (root / "effects").iterdir()}


def recorded_completed(root: Path) -> set[str]:
    status = json.loads((root / "docs/plan-outputs/plan/status.json").read_text(encoding="utf-8"))
    return {task["id"] for task in status["tasks"] if task.get("status") == "completed"}


def session_members(session: int) -> list[int]:
    """Living processes whose session is ``session`` (the killed run's), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[3]) == session:
                found.append(int(entry.name))
    return found


def run_trial(number: int, args: argparse.Namespace, rng: random.Random, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sigkill-trial-") as directory:
        root = Path(directory)
        ids = write_project(root, 3, args.tasks_per_phase, rng)
        command = [sys.executable, "-m", "plan_tasks", "run", "plan.md", "--executor", "shell"]
        first = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + RUN_TIMEOUT
        while not any((root / "effects").iterdir()) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 3.0))  # the run takes 4-8 s: most kills land mid-run
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        recorded = recorded_completed(root)
        at_kill = effects(root)
        task_groups = [int(line.split()[0]) for line in
                       (root / "docs/plan-outputs/plan/.run-processes").read_text().splitlines()
                       if line.strip()] if (root / "docs/plan-outputs/plan/.run-processes").exists() else []
        resumed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        stopped = re.search(r"stopped (\d+) task process group", resumed.stderr)
        final = effects(root)
        alive_after = [pid for group in task_groups for pid in session_members(group)]
    return {
        "trial": number, "resumeExit": resumed.returncode, "recordedAtKill": len(recorded),
        "effectsAtKill": sum(at_kill.values()),
        "recordedRunAgain": sorted(t for t in recorded if final.get(t, 0) != 1),
        "neverRan": sorted(t for t in ids if final.get(t, 0) == 0),
        "unrecordedRunTwice": sorted(t for t in ids if t not in recorded and final.get(t, 0) > 1),
        "groupsStopped": int(stopped.group(1)) if stopped else 0,
        "aliveAfterResume": alive_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--tasks-per-phase", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="sigkill-home-") as home:
        env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
        env.update(PREFECT_HOME=home, PLAN_TASKS_CACHE_DIR=str(Path(home) / "plan-cache"),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                            os.environ.get("PYTHONPATH")])))
        results = []
        for number in range(1, args.trials + 1):
            result = run_trial(number, args, rng, env)
            results.append(result)
            print(json.dumps(result) if args.json else
                  f"trial {number:2}: {result['recordedAtKill']:2} recorded at the kill, "
                  f"{len(result['recordedRunAgain'])} of them run again, {len(result['neverRan'])} never ran, "
                  f"{len(result['unrecordedRunTwice'])} unrecorded run twice, {result['groupsStopped']} group(s) "
                  f"stopped, {len(result['aliveAfterResume'])} left alive, resume exit {result['resumeExit']}",
                  flush=True)
    print(f"tally over {len(results)} trials of a {3 * args.tasks_per_phase}-task plan: "
          f"{sum(r['recordedAtKill'] for r in results)} completions recorded at the kill, "
          f"{sum(len(r['recordedRunAgain']) for r in results)} of them with a side effect twice; "
          f"{sum(len(r['neverRan']) for r in results)} tasks never ran; "
          f"{sum(len(r['unrecordedRunTwice']) for r in results)} unrecorded tasks ran twice (allowed); "
          f"{sum(r['groupsStopped'] for r in results)} leftover task groups stopped by the resume; "
          f"{sum(len(r['aliveAfterResume']) for r in results)} processes of killed runs alive after the resume; "
          f"resume exits {sorted({r['resumeExit'] for r in results})}")


if __name__ == "__main__":
    main()
