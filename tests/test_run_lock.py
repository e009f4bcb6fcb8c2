"""One run per plan: two real `plan-tasks run` processes on one status.json.

Every run is ``python -m plan_tasks run`` against one real Prefect server
(``prefect server start``, shared by the module); tasks are shell lines that
leave a line per execution on disk, so double execution shows as a count.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import prefect_env, prefect_server, stop_process_tree

RUN_TIMEOUT = 240.0
pytestmark = pytest.mark.slow  # every test here runs real plan-tasks processes on a server
TASKS_PER_PHASE = 10


def thirty_task_plan(seconds: float = 0.1, phase_1_waits_for: str | None = None) -> str:
    """Three phases of ten independent tasks; each appends a line to ``runs/<id>``
    (and, with ``phase_1_waits_for``, phase 1's tasks then wait for that file to exist)."""
    lines = ["# Plan: Thirty", ""]
    for phase in (1, 2, 3):
        lines += [f"## Phase {phase}: Part {phase}", ""]
        for number in range(1, TASKS_PER_PHASE + 1):
            task_id = f"{phase}.{number}"
            wait = f"; until [ -f {phase_1_waits_for} ]; do sleep 0.05; done" if phase_1_waits_for and phase == 1 else ""
            lines.append(f"- [ ] {task_id} Step {task_id}")
            lines.append(f"  Run: `echo run >> runs/{task_id}; sleep {seconds}{wait}`")
        lines.append("")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of runs that use one shared Prefect server."""
    base = tmp_path_factory.mktemp("run-lock-server")
    # PLAN_TASKS_GLOBAL_LIMIT=0: a run killed with SIGKILL never gives back the slots of the
    # server's shared concurrency limit it held, and the next run would wait for them.
    env = prefect_env(base / "home", PLAN_TASKS_CACHE_DIR=str(base / "plan-cache"), PLAN_TASKS_GLOBAL_LIMIT="0")
    with prefect_server(env, base / "server.log") as api_url:
        yield {**env, "PREFECT_API_URL": api_url}


def project(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "project"
    (root / "runs").mkdir(parents=True)
    (root / "plan.md").write_text(text, encoding="utf-8")
    return root


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "plan_tasks", "run", "plan.md", *args, "--executor", "shell"]


def start(env: dict[str, str], root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(command(*args), cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def executions(root: Path) -> dict[str, int]:
    return {path.name: len(path.read_text().splitlines()) for path in (root / "runs").iterdir()}


def wait_for_executions(root: Path, at_least: int, run: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while sum(executions(root).values()) < at_least:
        assert run.poll() is None, f"the first run ended early: {run.communicate()}"
        assert time.monotonic() < deadline, "the first run never started its tasks"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def status_tasks(root: Path) -> dict[str, dict[str, Any]]:
    status = json.loads((root / "docs/plan-outputs/plan/status.json").read_text(encoding="utf-8"))
    return {task["id"]: task for task in status["tasks"]}


def test_a_second_run_of_a_running_plan_refuses_at_once_naming_the_first(server: dict[str, str],
                                                                          tmp_path: Path) -> None:
    root = project(tmp_path, thirty_task_plan())
    first = start(server, root)
    try:
        wait_for_executions(root, 1, first)
        began = time.monotonic()
        second = subprocess.run(command(), cwd=root, env=server, capture_output=True, text=True,
                                timeout=RUN_TIMEOUT)
        refused_in = time.monotonic() - began
        _, err = first.communicate(timeout=RUN_TIMEOUT)
    finally:
        stop_process_tree(first)  # type: ignore[arg-type]
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    run_id = json.loads((root / "docs/plan-outputs/plan/status.json").read_text())["runs"][-1]["runId"]
    assert f"plan.md is already being run by run {run_id} (pid {first.pid} on {socket.gethostname()}" \
        in second.stderr, second.stderr
    assert "hint: wait for it with `plan-tasks run plan.md --wait`" in second.stderr
    assert refused_in < 5.0, f"the refusal took {refused_in:.1f} s"  # before any server or Prefect work
    assert executions(root) == {f"{p}.{n}": 1 for p in (1, 2, 3) for n in range(1, TASKS_PER_PHASE + 1)}


def test_wait_runs_after_the_first_run_has_ended(server: dict[str, str], tmp_path: Path) -> None:
    # The first run's tasks hold it until the second says it waits: however slow the machine,
    # the second starts while the first still runs.
    root = project(tmp_path, thirty_task_plan(phase_1_waits_for="release"))
    first = start(server, root, "phase:1")  # the first run does phase 1 only
    waiting = None
    try:
        wait_for_executions(root, 1, first)
        waiting = start(server, root, "--wait")
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(waiting.stderr or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + RUN_TIMEOUT
        while not any("waiting for run" in line for line in said):
            assert waiting.poll() is None, f"the second run did not wait: {said}"
            assert time.monotonic() < deadline, "the second run never said it waits"
            time.sleep(0.05)
        (root / "release").touch()
        first.communicate(timeout=RUN_TIMEOUT)
        waiting.wait(timeout=RUN_TIMEOUT)
        reader.join(timeout=RUN_TIMEOUT)
        second = subprocess.CompletedProcess(waiting.args, waiting.returncode, "", "".join(said))
    finally:
        for process in (first, waiting):
            if process is not None:
                stop_process_tree(process)  # type: ignore[arg-type]
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "plan.md: waiting for run run-" in second.stderr and f"(pid {first.pid} on" in second.stderr
    tasks = status_tasks(root)
    first_ended = max(tasks[f"1.{n}"]["completedAt"] for n in range(1, TASKS_PER_PHASE + 1))
    later = [tasks[f"{p}.{n}"]["startedAt"] for p in (2, 3) for n in range(1, TASKS_PER_PHASE + 1)]
    assert min(later) >= first_ended, (first_ended, min(later))
    assert set(executions(root).values()) == {1} and len(executions(root)) == 30


def test_a_run_killed_with_sigkill_leaves_a_lock_the_next_run_takes_over(server: dict[str, str],
                                                                         tmp_path: Path) -> None:
    root = project(tmp_path, thirty_task_plan())
    first = start(server, root)
    try:
        wait_for_executions(root, 3, first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=RUN_TIMEOUT)
    finally:
        stop_process_tree(first)  # type: ignore[arg-type]
    lock = root / "docs/plan-outputs/plan/.run.lock"
    assert json.loads(lock.read_text())["pid"] == first.pid  # the dead run is still named
    second = subprocess.run(command(), cwd=root, env=server, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert second.returncode == 0, second.stderr
    assert f"(pid {first.pid} on {socket.gethostname()}" in second.stderr
    assert "ended without releasing the plan (killed?); taking it over" in second.stderr
    assert {task["status"] for task in status_tasks(root).values()} == {"completed"}
    assert lock.read_text() == ""  # released cleanly: nobody named


LEFT_BEHIND_PLAN = """\
# Plan: Left behind

## Phase 1: Work

- [ ] 1.1 Long job with a child
  Run: `if [ -f resumed ]; then echo run >> runs/1.1; else sleep 300 & echo $! > child; echo $$ > leader; wait; fi`
"""


def test_a_resume_first_stops_the_task_groups_a_killed_run_left_running(server: dict[str, str],
                                                                         tmp_path: Path) -> None:
    root = project(tmp_path, LEFT_BEHIND_PLAN)
    first = start(server, root)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (root / "leader").exists() or not (root / "leader").read_text().strip():
            assert first.poll() is None and time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=RUN_TIMEOUT)
    finally:
        stop_process_tree(first)  # type: ignore[arg-type]
    child = int((root / "child").read_text())
    # A parent-death guard may already have stopped the task's group; a group planted in the
    # record as the dead run's on_start hook would have recorded it makes the check independent of that.
    planted = subprocess.Popen(["sleep", "300"], start_new_session=True)
    start_time = Path(f"/proc/{planted.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    with (root / "docs/plan-outputs/plan/.run-processes").open("a") as record:
        record.write(f"{planted.pid} {start_time}\n")
    (root / "resumed").write_text("")
    second = subprocess.run(command(), cwd=root, env=server, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert second.returncode == 0, second.stderr
    assert re.search(r"stopped [12] task process group\(s\) it left running", second.stderr), second.stderr
    assert planted.wait(timeout=10) == -signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.killpg(planted.pid, 0)
    assert not alive(child), "the dead run's task child still runs"
    assert executions(root) == {"1.1": 1}


def test_ctrl_c_while_waiting_stops_waiting_without_a_traceback(server: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, thirty_task_plan(seconds=0.5))
    first = start(server, root)
    try:
        wait_for_executions(root, 1, first)
        second = start(server, root, "--wait")
        assert second.stderr is not None
        assert "waiting for run" in second.stderr.readline()
        os.kill(second.pid, signal.SIGINT)
        _, err = second.communicate(timeout=RUN_TIMEOUT)
        first.communicate(timeout=RUN_TIMEOUT)
    finally:
        stop_process_tree(first)  # type: ignore[arg-type]
    assert second.returncode == 130, err
    assert "plan.md: stopped waiting (Ctrl-C); nothing ran" in err and "Traceback" not in err
    assert set(executions(root).values()) == {1}
