"""Two `plan-tasks run` processes against one configured Prefect server share
the slot budget of its global concurrency limit ``plan-tasks``.

The server is a real one (``LocalServer``, Prefect's server application),
started by this module and handed to both runs as ``PREFECT_API_URL``, as a
team's server would be. Each task appends when it really runs to a shared log,
so the test sees execution, not bookkeeping.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import prefect_env

from plan_tasks.prefect.local_server import LocalServer

TASK_SECONDS = 1.5
TASKS_PER_PLAN = 4
SHARED_LIMIT = 2

TASK_SCRIPT = """
import sys, time
log, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(log, "a") as out:
    out.write(f"start {time.time():.6f} {name}\\n")
time.sleep(seconds)
with open(log, "a") as out:
    out.write(f"end {time.time():.6f} {name}\\n")
"""


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    env = prefect_env(tmp_path_factory.mktemp("team-server-home"))
    server = LocalServer(env)
    api_url = server.start()
    try:
        yield api_url, env
    finally:
        server.stop()


def write_plan(root: Path, name: str, log: Path, script: Path) -> Path:
    root.mkdir(parents=True)
    lines = [f"# Implementation Plan: {name}", "", "## Phase 1: Work", ""]
    for number in range(1, TASKS_PER_PLAN + 1):
        command = f"{sys.executable} {script} {log} {name}-{number} {TASK_SECONDS}"
        lines += [f"- [ ] 1.{number} Step {number} of {name}", f"  - Run: `{command}`"]
    plan = root / f"{name}.md"
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return plan


def most_at_once(log: Path) -> int:
    """The most tasks running at the same moment (an end before a start at the same instant)."""
    marks = []
    for line in log.read_text(encoding="utf-8").splitlines():
        kind, moment, _ = line.split()
        marks.append((float(moment), 0 if kind == "end" else 1))
    running = peak = 0
    for _, starting in sorted(marks):
        running += 1 if starting else -1
        peak = max(peak, running)
    return peak


def test_two_runs_on_one_server_share_its_global_limit(team_server: tuple[str, dict[str, str]],
                                                      tmp_path: Path) -> None:
    api_url, env = team_server
    env = {**env, "PREFECT_API_URL": api_url, "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache")}
    created = subprocess.run([sys.executable, "-m", "prefect", "gcl", "create", "plan-tasks",
                              "--limit", str(SHARED_LIMIT)], env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    script = tmp_path / "task.py"
    script.write_text(TASK_SCRIPT, encoding="utf-8")
    log = tmp_path / "ran.log"
    plans = [write_plan(tmp_path / name, name, log, script) for name in ("alpha", "beta")]
    # Each run alone may use all its slots (as many as it has tasks); together they get SHARED_LIMIT.
    runs = [subprocess.Popen([sys.executable, "-m", "plan_tasks", "run", str(plan), "--root", str(plan.parent),
                              "--max-parallel", str(TASKS_PER_PLAN)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for plan in plans]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n".join(outputs)
    # Without the shared limit, one run alone would run all its tasks at once.
    assert most_at_once(log) == SHARED_LIMIT, log.read_text(encoding="utf-8")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * 2 * TASKS_PER_PLAN
    assert {line.split()[2].rsplit("-", 1)[0] for line in lines} == {"alpha", "beta"}
