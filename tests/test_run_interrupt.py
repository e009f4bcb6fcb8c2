"""Stopping `plan-tasks run`, and the fail, fix, run-again loop, as a user lives them.

Every test runs ``python -m plan_tasks run`` as a real process on a real
Prefect server (the local one a run starts for itself, or a configured one)
with shell tasks that leave traces on disk: a line per execution, their own
process ids. Signals go where a terminal or a CI runner sends them: SIGINT to
the whole process group (Ctrl-C), SIGTERM to the plan-tasks process alone.
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

from plan_tasks.status.document import skip_cause

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 180.0
STOP_BUDGET_SECONDS = 5.0  # the issue's: from the signal to the process gone

SLOW_PLAN = """\
# Plan: Slow work

## Phase 1: Work

- [ ] 1.1 Long job
  Run: `echo run >> runs-1.1; echo $$ > pid-1.1; sleep 60`
- [ ] 1.2 Quick job
  Run: `echo run >> runs-1.2`
- [ ] 1.3 Another long job
  Run: `echo run >> runs-1.3; echo $$ > pid-1.3; sleep 60`

## Phase 2: After

- [ ] 2.1 Use the work (depends on 1.1, 1.3)
  Run: `echo run >> runs-2.1`
"""

STUBBORN_PLAN = """\
# Plan: Stubborn

## Phase 1: Work

- [ ] 1.1 Ignores SIGTERM
  Run: `trap '' TERM; echo $$ > pid-1.1; while true; do sleep 0.1; done`
"""

FIX_PLAN = """\
# Plan: Fix loop

## Phase 1: Base

- [ ] 1.1 Make the base
  Run: `echo run >> runs-1.1`

## Phase 2: Build

- [ ] 2.1 Compile
  Run: `echo run >> runs-2.1; test -f fixed || { echo "compiler error: missing semicolon" >&2; exit 1; }`
- [ ] 2.2 Link (depends on 2.1)
  Run: `echo run >> runs-2.2`
- [ ] 2.3 Package (depends on 2.2)
  Run: `echo run >> runs-2.3`
- [ ] 2.4 Notes, on purpose not run
  Run: `echo run >> runs-2.4`
"""


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def env(prefect_home: Path, tmp_path: Path) -> dict[str, str]:
    values = {name: value for name, value in os.environ.items()
              if not name.startswith("PREFECT_") and name != "PLAN_TASKS_AGENT_COMMAND"}
    values.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PLAN_TASKS_CACHE_DIR=str(tmp_path / "plan-cache"),
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return values


def project(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "plan.md").write_text(text, encoding="utf-8")
    return root


def run(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plan_tasks", "run", "plan.md", *args, "--executor", "shell"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def start(env: dict[str, str], root: Path) -> subprocess.Popen[str]:
    """A run in a process group of its own, as a shell starts a foreground job."""
    return subprocess.Popen([sys.executable, "-m", "plan_tasks", "run", "plan.md", "--executor", "shell"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_files(root: Path, *names: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while not all((root / name).exists() for name in names):
        assert time.monotonic() < deadline, f"{names} never appeared"
        time.sleep(0.1)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead, only not reaped yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(alive(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit()
               and _pgid(int(entry.name)) == pgid)


def _pgid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def tasks(root: Path) -> dict[str, dict[str, Any]]:
    status = json.loads((root / "docs/plan-outputs/plan/status.json").read_text(encoding="utf-8"))
    return {task["id"]: task for task in status["tasks"]}


def executions(root: Path, task_id: str) -> int:
    path = root / f"runs-{task_id}"
    return len(path.read_text().splitlines()) if path.exists() else 0


def stop_and_time(process: subprocess.Popen[str], send: Any) -> tuple[float, str, str]:
    began = time.monotonic()
    send()
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    return time.monotonic() - began, stdout, stderr


# -- Ctrl-C and SIGTERM ------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "sent_to", "exit_code", "name"), [
    (signal.SIGINT, "group", 130, "Ctrl-C"),
    (signal.SIGTERM, "process", 143, "SIGTERM"),
], ids=["ctrl-c to the group", "sigterm to the process"])
def test_a_stopped_run_ends_its_tasks_and_server_and_resumes(env: dict[str, str], tmp_path: Path, signum: int,
                                                             sent_to: str, exit_code: int, name: str) -> None:
    root = project(tmp_path, SLOW_PLAN)
    process = start(env, root)
    wait_for_files(root, "pid-1.1", "pid-1.3", "runs-1.2")
    below = descendants(process.pid)  # the local server and the task shells
    task_pids = [int((root / f"pid-{task_id}").read_text()) for task_id in ("1.1", "1.3")]

    def send() -> None:
        if sent_to == "group":
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)

    took, stdout, stderr = stop_and_time(process, send)

    assert process.returncode == exit_code, stderr
    assert took < STOP_BUDGET_SECONDS, f"took {took:.1f} s to stop"
    assert "Traceback" not in stderr + stdout
    last = stdout.strip().splitlines()[-1]
    assert f"interrupted by {name}" in last and "1.1, 1.3 stopped and back to pending" in last
    assert "resume with `plan-tasks run plan.md`" in last
    assert not group_alive(process.pid)
    assert not [pid for pid in below | set(task_pids) if alive(pid)], "a process outlived the run"
    state = tasks(root)
    assert {task_id: task["status"] for task_id, task in state.items()} == {
        "1.1": "pending", "1.2": "completed", "1.3": "pending", "2.1": "pending"}
    assert "interrupted" in state["1.1"]["notes"]

    again = run(env, root)
    assert again.returncode == 0, again.stderr
    assert [executions(root, task_id) for task_id in ("1.1", "1.2", "1.3", "2.1")] == [2, 1, 2, 1]


RETRYING_PLAN = """\
# Plan: Waits to retry

## Phase 1: Work

- [ ] 1.1 Fails with a passing fault
  Run: `echo run >> runs-1.1; exit 75`
"""


def test_ctrl_c_during_a_retry_delay_stops_at_once_and_the_task_is_pending(env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    root = project(tmp_path, RETRYING_PLAN)
    process = subprocess.Popen([sys.executable, "-m", "plan_tasks", "run", "plan.md", "--executor", "shell",
                                "--retry-delay", "120"], cwd=root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    status = root / "docs/plan-outputs/plan/status.json"
    deadline = time.monotonic() + RUN_TIMEOUT
    while not (status.exists() and tasks(root)["1.1"]["status"] == "failed"):  # the first attempt has failed
        assert time.monotonic() < deadline and process.poll() is None, "the first attempt never failed"
        time.sleep(0.1)
    took, _, stderr = stop_and_time(process, lambda: os.killpg(process.pid, signal.SIGINT))
    assert process.returncode == 130, stderr
    assert took < STOP_BUDGET_SECONDS, f"took {took:.1f} s to stop: it waited for the retry"
    assert executions(root, "1.1") == 1
    assert tasks(root)["1.1"]["status"] == "pending"  # runs again, with a fresh retry budget, next time


def test_a_second_ctrl_c_exits_at_once(env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, STUBBORN_PLAN)
    process = start(env, root)
    wait_for_files(root, "pid-1.1")
    task_pid = int((root / "pid-1.1").read_text())
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.3)  # the first one is being handled: the task ignores SIGTERM
    took, _, stderr = stop_and_time(process, lambda: os.killpg(process.pid, signal.SIGINT))
    assert process.returncode == 130, stderr
    assert took < 1.5, f"took {took:.1f} s after the second Ctrl-C"
    deadline = time.monotonic() + 2
    while alive(task_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(task_pid), "the task's process outlived a hard stop"
    assert "Traceback" not in stderr


def test_the_flow_run_of_a_stopped_run_ends_cancelled(env: dict[str, str], tmp_path: Path,
                                                      prefect_server: str) -> None:
    root = project(tmp_path, SLOW_PLAN.replace("# Plan: Slow work", "# Plan: Cancelled on the server"))
    process = start({**env, "PREFECT_API_URL": prefect_server}, root)
    wait_for_files(root, "pid-1.1", "pid-1.3")
    _, stdout, stderr = stop_and_time(process, lambda: os.kill(process.pid, signal.SIGTERM))
    assert process.returncode == 143, stderr
    assert stderr.startswith(f"using the Prefect server at {prefect_server}")

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        plans = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["plan"])))
        assert plans, "the plan's flow run is not on the server"
        plan_run = max(plans, key=lambda flow_run: flow_run.created)
        assert plan_run.state is not None and plan_run.state.is_cancelled(), plan_run.state
        phases = client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id={"any_": [plan_run.id]}))
        # Phase 1's tasks were stopped; phase 2's subflow was up (gate 0.8 starts it early) but never ran one.
        assert sorted(phase.state.type.value for phase in phases if phase.state) == ["CANCELLED", "CANCELLED"]


# -- a server that does not answer -------------------------------------------------------------


def test_an_unreachable_configured_server_is_one_line_and_exit_3(env: dict[str, str], tmp_path: Path) -> None:
    from plan_tasks.prefect.local_server import free_port

    root = project(tmp_path, FIX_PLAN)
    url = f"http://127.0.0.1:{free_port()}/api"
    began = time.monotonic()
    result = run({**env, "PREFECT_API_URL": url}, root)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"plan.md: error: the Prefect server at {url} does not answer")
    assert lines[1].startswith("hint: start it (`prefect server start`), or unset PREFECT_API_URL")
    assert len(lines) == 2 and result.stdout == ""
    assert sorted(path.name for path in root.iterdir()) == ["plan.md"], "something was written"
    assert time.monotonic() - began < 10  # answered before Prefect was even imported


# -- fail, fix, run again ----------------------------------------------------------------------


def test_fail_fix_and_run_again_runs_the_failed_task_and_its_skipped_dependants(env: dict[str, str],
                                                                                tmp_path: Path) -> None:
    root = project(tmp_path, FIX_PLAN)
    for command in (["init"], ["mark-skipped", "2.4", "--reason", "not this time"]):
        subprocess.run([sys.executable, "-m", "plan_tasks", *command, "--plan", "plan.md"], cwd=root, env=env,
                       check=True, capture_output=True)

    first = run(env, root)
    assert first.returncode == 1
    # The reason is where the user looks: the output's last lines and the whole log's path.
    assert "compiler error: missing semicolon" in first.stderr
    assert "whole output: docs/plan-outputs/plan/logs/2.1.log" in first.stderr
    assert first.stdout.strip().splitlines()[-1].endswith("status: docs/plan-outputs/plan/status.json")
    assert "1 completed, 1 failed, 2 skipped" in first.stdout
    state = tasks(root)
    assert state["2.2"]["planTasks"] == {"skipCause": "failure", "skippedBecauseOf": "2.1"}
    assert state["2.3"]["planTasks"]["skipCause"] == "failure"
    assert skip_cause(state["2.4"]) == "manual"

    (root / "fixed").touch()
    dry = subprocess.run([sys.executable, "-m", "plan_tasks", "run", "plan.md", "--dry-run"], cwd=root, env=env,
                         capture_output=True, text=True, check=True)
    assert "3 task(s) to run" in dry.stdout and "2.1 -> 2.2 -> 2.3" in dry.stdout

    second = run(env, root)
    assert second.returncode == 0, second.stderr
    assert "3 completed, 0 failed, 0 skipped" in second.stdout
    assert [executions(root, task_id) for task_id in ("1.1", "2.1", "2.2", "2.3", "2.4")] == [1, 2, 1, 1, 0]
    state = tasks(root)
    assert [state[task_id]["status"] for task_id in ("2.1", "2.2", "2.3", "2.4")] == [
        "completed", "completed", "completed", "skipped"]
    assert state["2.1"]["retryCount"] == 0  # a new run's retry budget starts afresh
    log = (root / "docs/plan-outputs/plan/logs/2.1.log").read_text(encoding="utf-8")
    assert log.count("=====") == 2 and "compiler error: missing semicolon" in log

    named = run(env, root, "2.3")  # named by id, a completed task runs again
    assert named.returncode == 0 and executions(root, "2.3") == 2


def test_the_result_reaches_stdout_when_stderr_is_thrown_away(env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, FIX_PLAN)
    result = subprocess.run(f"{sys.executable} -m plan_tasks run plan.md --executor shell 2>/dev/null",
                            shell=True, cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 1
    assert "plan.md: 2 completed, 1 failed, 2 skipped in" in result.stdout
    assert "▶" not in result.stdout  # progress is on stderr


def test_the_first_line_says_a_local_server_is_starting(env: dict[str, str], tmp_path: Path) -> None:
    root = project(tmp_path, FIX_PLAN.replace("test -f fixed ||", "true ||"))
    process = subprocess.Popen([sys.executable, "-m", "plan_tasks", "run", "plan.md", "--executor", "shell"],
                               cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first = process.stderr.readline()
    _, rest = process.communicate(timeout=RUN_TIMEOUT)
    assert first == "starting a local Prefect server (first start prepares its database)...\n"
    assert rest.startswith("local Prefect server ready at http://127.0.0.1:")
    assert process.returncode == 0
