"""`plan-tasks run --task-runner dask`: the same run, its tasks in Dask worker processes.

Every test runs ``python -m plan_tasks run`` as a real process, with its own
local Prefect server and a ``distributed.LocalCluster`` of worker processes
that the run starts and closes. Shell tasks leave their parent's process id on
disk: the Dask worker that ran them, never the run's own process. What the
driver owns (status.json, retries, skipped dependants, the agent's FILE
blocks, the exit code) must come out as it does with threads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from server_helpers import prefect_env

pytest.importorskip("prefect_dask", reason="the Dask extra: pip install 'plan-tasks[dask]'")

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 300.0
FAKE_AGENT = ROOT / "examples" / "fake_agent.py"

PLAN = """\
# Plan: Spread out

## Phase 1: Work

- [ ] 1.1 Record where it ran
  Run: `echo $PPID > parent-1.1; echo run >> runs-1.1`
- [ ] 1.2 Record where it ran too
  Run: `echo $PPID > parent-1.2; echo run >> runs-1.2`
- [ ] 1.3 Flaky: fails once with a passing fault, then works
  Run: `echo run >> runs-1.3; test -f tried-1.3 || { touch tried-1.3; exit 75; }`
- [ ] 1.4 Broken for good
  Run: `echo run >> runs-1.4; echo "compiler error" >&2; exit 1`
- [ ] 1.5 Needs the broken one (depends on 1.4)
  Run: `echo run >> runs-1.5`

## Phase 2: Agent

- [ ] 2.1 Write a module through the agent [fake-agent: count]
  Files: `src/made_by_agent.py`
"""

SLOW_PLAN = """\
# Plan: Slow

## Phase 1: Work

- [ ] 1.1 Long job
  Run: `echo $$ > pid-1.1; sleep 120`
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return prefect_env(tmp_path / "prefect-home", PLAN_TASKS_CACHE_DIR=str(tmp_path / "plan-cache"))


def project(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "plan.md").write_text(text, encoding="utf-8")
    return root


def run_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "plan_tasks", "run", "plan.md", "--task-runner", "dask",
            "--retry-delay", "0.1", "--agent-command", f"{sys.executable} {FAKE_AGENT}", *extra]


def tasks(root: Path) -> dict[str, dict[str, Any]]:
    status = json.loads((root / "docs/plan-outputs/plan/status.json").read_text(encoding="utf-8"))
    return {task["id"]: task for task in status["tasks"]}


def executions(root: Path, task_id: str) -> int:
    path = root / f"runs-{task_id}"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], int]:
    tmp_path = tmp_path_factory.mktemp("dask")
    root = project(tmp_path, PLAN)
    (root / "src").mkdir()
    env = prefect_env(tmp_path / "prefect-home", PLAN_TASKS_CACHE_DIR=str(tmp_path / "plan-cache"))
    # Tasks with a `Run:` line are shell tasks; 2.1 has none, so the default executor (the agent) runs it.
    process = subprocess.Popen(run_command("--max-parallel", "4"), cwd=root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    return root, subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), process.pid


def test_tasks_run_in_dask_worker_processes_not_in_the_run(dask_run: tuple[Path, Any, int]) -> None:
    root, finished, run_pid = dask_run
    assert (root / "parent-1.1").exists(), finished.stderr
    parents = {int((root / f"parent-{task_id}").read_text()) for task_id in ("1.1", "1.2")}
    assert run_pid not in parents  # with threads, a task's shell is a child of the run's process
    for parent in parents:  # the run's LocalCluster closed with it: its workers are gone
        assert not Path(f"/proc/{parent}").exists(), "a Dask worker outlived its run"


def test_status_retries_and_skipped_dependants_are_as_with_threads(dask_run: tuple[Path, Any, int]) -> None:
    root, finished, _ = dask_run
    status = tasks(root)
    assert {task_id: task["status"] for task_id, task in status.items()} == {
        "1.1": "completed", "1.2": "completed", "1.3": "completed", "1.4": "failed", "1.5": "skipped",
        "2.1": "completed"}, finished.stderr
    assert status["1.3"]["retryCount"] == 1 and executions(root, "1.3") == 2
    assert executions(root, "1.4") == 1  # a permanent failure is not retried
    assert "compiler error" in status["1.4"]["error"]
    assert status["1.5"]["skipReason"] == "depends on failed task 1.4" and executions(root, "1.5") == 0


def test_agent_file_blocks_come_back_and_are_written_by_the_run(dask_run: tuple[Path, Any, int]) -> None:
    root, _, _ = dask_run
    assert (root / "src/made_by_agent.py").exists()
    findings = root / tasks(root)["2.1"]["findingsPath"]
    assert findings.exists()


def test_a_failed_task_fails_the_run_with_exit_code_1(dask_run: tuple[Path, Any, int]) -> None:
    _, finished, _ = dask_run
    assert finished.returncode == 1, finished.stderr
    assert "Traceback" not in finished.stderr


def test_ctrl_c_stops_a_dask_run_and_its_task_processes(env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, SLOW_PLAN)
    process = subprocess.Popen(run_command(), cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    deadline = time.monotonic() + RUN_TIMEOUT
    while not (root / "pid-1.1").exists():
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.1)
    task_pid = int((root / "pid-1.1").read_text())
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 20
    while Path(f"/proc/{task_pid}").exists() and "Z" not in Path(f"/proc/{task_pid}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the task's process outlived the stopped Dask run"
        time.sleep(0.1)
    assert tasks(root)["1.1"]["status"] == "pending"  # interrupted: it runs again on the next run
