"""`plan-tasks run` against tasks that misbehave: a task that prints without
end, an agent that answers with a write to the run's own status.json, and a
run killed with SIGKILL while a task runs.

Real runs: ``python -m plan_tasks run`` as a process on the local Prefect
server it starts, tasks that leave their process ids on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_executors import process_is_gone, wait_until_gone
from test_run_interrupt import RUN_TIMEOUT, env, prefect_home, project, start, wait_for_files  # noqa: F401

HOSTILE_PLAN = """\
# Plan: Hostile

## Phase 1: Work

- [ ] 1.1 Print forever
  Run: `yes 'endless output'`
- [ ] 1.2 Ask the agent for a status file
"""

STATUS_WRITER = """\
import sys
sys.stdin.read()
print("I fixed your status for you.")
print("FILE: docs/plan-outputs/plan/status.json")
print("```json")
print('{"tasks": []}')
print("```")
"""


@pytest.mark.slow
def test_a_run_fails_a_task_over_the_output_limit_and_an_answer_writing_status_json(
        env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, HOSTILE_PLAN)
    (tmp_path / "agent.py").write_text(STATUS_WRITER)
    result = subprocess.run(
        [sys.executable, "-m", "plan_tasks", "run", "plan.md", "--output-limit", "100kB", "--retries", "0",
         "--agent-command", f"{sys.executable} {tmp_path / 'agent.py'}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 1, result.stderr
    assert "output over 100 kB" in result.stderr
    assert "refused to write `docs/plan-outputs/plan/status.json`" in result.stderr
    status = json.loads((root / "docs/plan-outputs/plan/status.json").read_text(encoding="utf-8"))
    assert [(task["id"], task["status"], task["error"]) for task in status["tasks"]] == [
        ("1.1", "failed", "output over 100 kB"),
        ("1.2", "failed", "refused to write `docs/plan-outputs/plan/status.json`: it is a protected path "
                          "(`/docs/plan-outputs/plan`)")]
    log = (root / "docs/plan-outputs/plan/logs/1.1.log").read_bytes()
    assert log.count(b"endless output\n") == 100_000 // len(b"endless output\n")
    assert log.endswith(b"attempt 1: failed, permanent: output over 100 kB\n")


def test_a_bad_output_limit_is_refused_before_the_run_starts(env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, HOSTILE_PLAN)
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "run", "plan.md", "--output-limit", "lots"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 2
    assert "error: `--output-limit`: cannot read size 'lots'" in result.stderr and "hint: write it as" in result.stderr
    assert not (root / "docs").exists()


LONG_TASK_PLAN = """\
# Plan: Long

## Phase 1: Work

- [ ] 1.1 Work for a long time
  Run: `echo $$ > pid-shell; sleep 300 & echo $! > pid-child; wait`
"""


@pytest.mark.slow
def test_task_processes_die_within_two_seconds_of_the_run_being_killed(env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, LONG_TASK_PLAN)
    run = start(env, root)
    try:
        wait_for_files(root, "pid-shell", "pid-child")
        time.sleep(0.1)  # the pid files are written by the shell: let it finish the line
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the run and its local Prefect server; tasks have groups of their own
        run.communicate()
    pids = {name: int((root / name).read_text()) for name in ("pid-shell", "pid-child")}
    try:
        for name, pid in pids.items():
            assert wait_until_gone(pid, within=2.0), f"{name} ({pid}) outlived the killed run"
    finally:
        for pid in pids.values():
            if not process_is_gone(pid):
                os.kill(pid, signal.SIGKILL)
