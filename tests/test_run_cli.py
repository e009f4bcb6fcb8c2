"""`python -m plan_tasks run` as users run it: a subprocess on the server it
starts for itself (no ``PREFECT_API_URL``), in temporary projects.

Each run starts its own server (several seconds), so only what needs a real
process is here: exit codes, what reaches the terminal, a run killed with
SIGKILL and resumed, and the README's main-job command. Bad input and
``--dry-run`` must answer without importing Prefect. The flow-level behaviour
is tested in-process in ``test_run_prefect.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.load import load_plan

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "plans_run"
AGENT = shlex.join([sys.executable, str(ROOT / "examples" / "fake_agent.py")])
RUN_TIMEOUT = 180  # seconds: a hung run fails the test instead of the suite
NOISE = ("Traceback", "telemetry", "database is locked", "CancelledError")


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect home (and local server database) for the runs of this module, not the user's."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def cli_env(prefect_home: Path, tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in ("PREFECT_API_URL", "PLAN_TASKS_AGENT_COMMAND")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PLAN_TASKS_CACHE_DIR=str(tmp_path / "plan-cache"),
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def run_cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plan_tasks", "run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)


def copy_plan(name: str, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIXTURES / f"{name}.md", root / f"{name}.md"))


def read_tasks(root: Path, name: str) -> dict[str, dict[str, Any]]:
    status = json.loads((root / "docs" / "plan-outputs" / name / "status.json").read_text(encoding="utf-8"))
    return {task["id"]: task for task in status["tasks"]}


def assert_quiet(output: str) -> None:
    found = [word for word in NOISE if word in output]
    assert not found, f"{found} in the output:\n{output}"


# -- answers without Prefect ----------------------------------------------------------

# Runs `main(argv)` and reports its exit code and whether Prefect got imported.
PROBE = """
import json, sys
from plan_tasks.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "prefect": "prefect" in sys.modules}))
"""


def probe(env: dict[str, str], *argv: str, cwd: Path) -> tuple[dict[str, Any], list[str], str]:
    """(report, stdout lines before the report, stderr) of ``main(argv)`` in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    *lines, report = result.stdout.splitlines()
    return json.loads(report), lines, result.stderr


def test_dry_run_prints_the_execution_groups_without_importing_prefect(cli_env: dict[str, str], tmp_path: Path) -> None:
    plan = copy_plan("shapes", tmp_path / "project")
    report, lines, stderr = probe(cli_env, "run", str(plan), "--dry-run", "--phase-gate", "0", cwd=tmp_path)
    assert report == {"code": 0, "prefect": False}, stderr
    assert lines == [
        "Implementation Plan: Shapes: 8 task(s) to run, phase gate 0",
        "  group 1 (parallel): 1.1, 1.4, 1.5, 2.1",
        "  group 2 (parallel): 1.2, 2.2, 2.3",
        "  group 3 (single): 1.3",
        "Critical path (weight 3): 1.1 -> 1.2 -> 1.3",
    ]
    assert not (plan.parent / "docs").exists()  # nothing ran, nothing recorded


@pytest.mark.parametrize(("plan_name", "args", "message"), [
    ("selection", ["1.9"], "error: no task 1.9 in "),
    ("invalid", [], "error: task 1.2 depends on unknown task 1.9; did you mean 1.1?"),
    ("selection", [], "error: 5 task(s) need an agent (e.g. 1.1) but no agent command is set"),
], ids=["unknown task id", "invalid plan", "no agent command"])
def test_bad_input_exits_2_at_once_with_error_and_hint(
    cli_env: dict[str, str], tmp_path: Path, plan_name: str, args: list[str], message: str,
) -> None:
    # The working directory has no pyproject.toml, so no agent command is configured.
    plan = copy_plan(plan_name, tmp_path / "project")
    started = time.monotonic()
    report, lines, stderr = probe(cli_env, "run", str(plan), *args, cwd=tmp_path)
    assert report == {"code": 2, "prefect": False}, stderr
    assert time.monotonic() - started < 15  # no server started: seconds at most even on a busy machine
    assert (lines, "Traceback" in stderr) == ([], False), stderr
    assert message in stderr
    assert "\n  hint: " in stderr
    assert not (plan.parent / "docs").exists()


def test_run_with_nothing_left_to_do_says_so_and_exits_0_without_prefect(
    cli_env: dict[str, str], tmp_path: Path,
) -> None:
    plan = copy_plan("selection", tmp_path / "project")
    plan.write_text(plan.read_text(encoding="utf-8").replace("- [ ] ", "- [x] "), encoding="utf-8")
    report, lines, stderr = probe(cli_env, "run", str(plan), "--root", str(plan.parent), cwd=tmp_path)
    assert report == {"code": 0, "prefect": False}, stderr
    assert lines == ["selection.md: nothing to run: every selected task is completed or skipped"]


# -- runs on the server plan-tasks starts ---------------------------------------------


def test_a_server_that_cannot_start_is_reported_in_one_line_with_a_hint(
    cli_env: dict[str, str], tmp_path: Path,
) -> None:
    plan = copy_plan("selection", tmp_path / "project")
    env = {**cli_env, "PREFECT_API_DATABASE_CONNECTION_URL": "not-a-database-url"}
    result = run_cli(env, str(plan), "--executor", "shell", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "error: the local Prefect server exited with code 1:\n" in result.stderr
    assert "Could not parse SQLAlchemy URL" in result.stderr
    assert "\nhint: set PREFECT_API_URL to a running Prefect server" in result.stderr
    assert "Traceback" not in result.stderr and "File \"" not in result.stderr
    assert not (plan.parent / "docs").exists()  # nothing ran, nothing recorded


def test_run_with_a_failed_task_exits_1_without_a_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    plan = copy_plan("failures", tmp_path / "project")
    result = run_cli(cli_env, str(plan), "--root", str(plan.parent), "--agent-command", AGENT,
                     "--retry-delay", "0.1", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # The result is on stdout (progress and failure details on stderr), its last line names status.json.
    assert "failures.md: 3 completed, 2 failed, 3 skipped in " in result.stdout
    assert result.stdout.rstrip().endswith("status: project/docs/plan-outputs/failures/status.json")
    assert_quiet(result.stdout + result.stderr)
    statuses = {task_id: task["status"] for task_id, task in read_tasks(plan.parent, "failures").items()}
    assert statuses == {"1.1": "failed", "1.2": "skipped", "1.3": "skipped", "1.4": "completed",
                        "1.5": "failed", "1.6": "completed", "2.1": "skipped", "2.2": "completed"}


def run_until_killed(env: dict[str, str], plan: Path, log: Path) -> dict[str, dict[str, Any]]:
    """Start a run, SIGKILL its process group once 2 or more tasks completed while
    another runs; returns status.json's tasks as the killed run left them."""
    status = plan.parent / "docs" / "plan-outputs" / plan.stem / "status.json"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "plan_tasks", "run", str(plan), "--root", str(plan.parent), "--agent-command",
             AGENT, "--max-parallel", "2"], cwd=plan.parent, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: the CLI and its Prefect server
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            statuses: list[str] = []
            while process.poll() is None and time.monotonic() < deadline:
                if statuses.count("completed") >= 2 and "in_progress" in statuses:
                    break
                time.sleep(0.02)
                try:
                    statuses = [task["status"] for task in json.loads(status.read_text(encoding="utf-8"))["tasks"]]
                except (OSError, ValueError):
                    continue  # not written yet
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{log.read_text()}"
    return read_tasks(plan.parent, plan.stem)


def test_run_killed_with_sigkill_resumes_without_redoing_completed_tasks(
    cli_env: dict[str, str], tmp_path: Path,
) -> None:
    plan = copy_plan("resume", tmp_path / "project")
    root = plan.parent
    at_kill = run_until_killed(cli_env, plan, tmp_path / "killed-run.log")
    by_status = {state: {i for i, task in at_kill.items() if task["status"] == state}
                 for state in ("completed", "in_progress", "pending")}
    # Killed while a task ran (in_progress), as polled; it may have completed just before the kill.
    assert 2 <= len(by_status["completed"]) < 8, at_kill
    assert sum(map(len, by_status.values())) == 8, at_kill  # nothing failed or was skipped

    result = run_cli(cli_env, str(plan), "--root", str(root), "--agent-command", AGENT,
                     "--events-jsonl", str(tmp_path / "events.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_quiet(result.stdout + result.stderr)

    final = read_tasks(root, "resume")
    assert {task["status"] for task in final.values()} == {"completed"}
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    # The second run ran exactly the tasks the killed one had not completed.
    rerun = by_status["in_progress"] | by_status["pending"]
    assert sorted(e["task"] for e in events if e["event"] == "plan.task.started") == sorted(rerun)
    for task_id in by_status["completed"]:
        assert final[task_id]["completedAt"] == at_kill[task_id]["completedAt"]  # untouched by the second run
    # `count` comes before `sleep` in every task, so the agent counts as it starts.
    # Completed before the kill, or not started: ran exactly once overall. In
    # progress at the kill: its killed attempt may not have reached its agent
    # yet (0) or may have (1), and the second run adds 1; so 1 or 2.
    runs = {task_id: int((root / ".fake-agent" / f"{task_id}.runs").read_text()) for task_id in final}
    for task_id, count in runs.items():
        allowed = {1, 2} if task_id in by_status["in_progress"] else {1}
        assert count in allowed, (task_id, count, by_status)


def test_readme_main_job_runs_the_example_plan_end_to_end(cli_env: dict[str, str], tmp_path: Path) -> None:
    # As the README runs it: from the repository, whose pyproject.toml names the agent.
    demo = tmp_path / "demo-project"
    result = run_cli(cli_env, "examples/report-export.md", "--root", str(demo), cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert_quiet(output)
    tasks = read_tasks(demo, "report-export")
    assert len(tasks) == 16
    assert {task["status"] for task in tasks.values()} == {"completed"}
    named = sorted({path for task in load_plan(str(ROOT / "examples" / "report-export.md")).plan.tasks
                    for path in task.files})
    assert "src/cli/main.py" in named
    assert [path for path in named if not (demo / path).is_file()] == []
    assert result.stdout.startswith(f"{ROOT / 'examples' / 'report-export.md'}: 16 completed, 0 failed, 0 skipped")
