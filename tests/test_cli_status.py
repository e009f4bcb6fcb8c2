"""The seed's status commands and `next`, on a project in a temporary directory.

Output shapes are checked through ``main([...])`` (fast); exit codes, stderr,
standard input and `.claude/current-plan.txt` through real
``python -m plan_tasks`` subprocesses. The plan is ``fixtures/ready/auth.md``:
1.1 is checked, 1.2 (HIGH) leads to 2.1 and 2.2, phase 2 has three tasks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
READY = Path(__file__).parent / "fixtures" / "ready"
AUTH = "docs/plans/auth.md"
BILLING = "docs/plans/billing.md"
FOUNDATIONS = "Phase 1: Foundations"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


class Project:
    """A project root with plans under docs/plans/, driven through the CLI."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys

    def add_plan(self, fixture: str, plan: str) -> Path:
        path = self.root / plan
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(READY / fixture, path)
        return path

    def cli(self, *args: str, plan: str | None = AUTH) -> Result:
        """``main`` with ``--root`` (and ``--plan`` unless ``plan`` is None)."""
        self.capsys.readouterr()
        code = main([*args, "--root", str(self.root), *(["--plan", plan] if plan else [])])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``python -m plan_tasks`` with the project as working directory."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        return subprocess.run([sys.executable, "-m", "plan_tasks", *args], input=stdin, capture_output=True,
                              text=True, cwd=self.root, env=env, timeout=120)

    def status_file(self, name: str = "auth") -> Path:
        return self.root / "docs" / "plan-outputs" / name / "status.json"

    def status_json(self, name: str = "auth") -> dict[str, Any]:
        return json.loads(self.status_file(name).read_text(encoding="utf-8"))

    def task(self, task_id: str, name: str = "auth") -> dict[str, Any]:
        (task,) = [task for task in self.status_json(name)["tasks"] if task["id"] == task_id]
        return task

    def edit_status(self, change: Any, name: str = "auth") -> None:
        document = self.status_json(name)
        change(document)
        self.status_file(name).write_text(json.dumps(document, indent=2), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Project:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    created = Project(tmp_path / "project", capsys)
    created.add_plan("auth.md", AUTH)
    return created


@pytest.fixture
def started(project: Project) -> Project:
    """The project after `init`."""
    assert project.cli("init").code == 0
    return project


def assert_reported_error(result: subprocess.CompletedProcess[str], first_line: str) -> None:
    """Exit 2, nothing on stdout, `error:` then a `hint:` line on stderr, no traceback."""
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == first_line
    assert lines[1].startswith("  hint: "), result.stderr


# -- end to end --------------------------------------------------------------


def test_every_command_runs_as_a_subprocess_on_the_current_plan_pointer(project: Project) -> None:
    (project.root / ".claude").mkdir()
    (project.root / ".claude" / "current-plan.txt").write_text(AUTH + "\n", encoding="utf-8")

    def ok(*args: str, stdin: str | None = None) -> str:
        result = project.run(*args, stdin=stdin)
        assert (result.returncode, result.stderr) == (0, ""), (args, result.stderr)
        return result.stdout

    assert json.loads(ok("init"))["taskCount"] == 7
    assert json.loads(ok("status"))["planPath"] == AUTH
    assert [task["id"] for task in json.loads(ok("next"))["tasks"]] == ["1.2", "1.3", "1.4"]
    assert [task["id"] for task in json.loads(ok("next", "2", "--policy", "seed"))["tasks"]] == ["1.2", "1.3"]
    run_id = json.loads(ok("start-run"))["runId"]
    assert json.loads(ok("mark-started", "1.2"))["status"] == "in_progress"
    assert json.loads(ok("mark-complete", "1.2", "--notes", "model done"))["notes"] == "model done"
    assert json.loads(ok("mark-failed", "1.3", "--error", "hash mismatch"))["error"] == "hash mismatch"
    assert json.loads(ok("mark-skipped", "1.4", "--reason", "out of scope"))["reason"] == "out of scope"
    assert json.loads(ok("increment-retry", "1.3", "--error", "again"))["retryCount"] == 1
    assert [task["id"] for task in json.loads(ok("retryable"))["tasks"]] == ["1.3"]
    assert json.loads(ok("exhausted")) == {"count": 0, "tasks": []}
    assert json.loads(ok("complete-run", run_id, "--completed", "1", "--failed", "1"))["runId"] == run_id
    assert json.loads(ok("write-findings", "1.2", "--stdin", stdin="# Findings\n"))["findingsPath"] == (
        "docs/plan-outputs/auth/findings/1-2.md")
    assert ok("read-findings", "1.2") == "# Findings\n\n"
    assert [phase["completed"] for phase in json.loads(ok("phases"))["phases"]] == [2, 0]
    assert "Progress: [" in ok("progress")
    assert json.loads(ok("validate"))["valid"] is True
    assert [row["name"] for row in json.loads(ok("plans", "--json"))["plans"]] == ["auth"]
    assert project.task("1.2")["status"] == "completed"


# -- init and status ---------------------------------------------------------


def test_init_creates_status_json_with_checked_tasks_completed(project: Project) -> None:
    assert project.cli("init").json() == {
        "success": True,
        "planPath": AUTH,
        "outputDir": "docs/plan-outputs/auth",
        "structure": {
            "statusJson": "docs/plan-outputs/auth/status.json",
            "findingsDir": "docs/plan-outputs/auth/findings",
            "timestampsDir": "docs/plan-outputs/auth/timestamps",
        },
        "taskCount": 7,
        "initialized": True,
        "created": True,
    }
    document = project.status_json()
    assert [(task["id"], task["status"]) for task in document["tasks"]] == [
        ("1.1", "completed"), ("1.2", "pending"), ("1.3", "pending"), ("1.4", "pending"),
        ("2.1", "pending"), ("2.2", "pending"), ("2.3", "pending")]
    assert document["tasks"][1] == {"id": "1.2", "phase": FOUNDATIONS, "status": "pending",
                                    "description": "Define the user model in `src/models.py` HIGH"}
    assert (document["planPath"], document["planName"]) == (AUTH, "Implementation Plan: Auth")
    assert (project.root / "docs/plan-outputs/auth/findings").is_dir()
    assert (project.root / "docs/plan-outputs/auth/timestamps").is_dir()


def test_init_after_a_plan_edit_adds_new_tasks_and_keeps_every_status(started: Project) -> None:
    started.cli("mark-complete", "1.2")
    plan = started.root / AUTH
    plan.write_text(plan.read_text(encoding="utf-8") + "- [ ] 2.4 Rate-limit the login endpoint\n", encoding="utf-8")
    result = started.cli("init").json()
    assert (result["created"], result["added"], result["removed"], result["updated"]) == (False, ["2.4"], [], [])
    assert (started.task("1.2")["status"], started.task("2.4")["status"]) == ("completed", "pending")


def test_status_reports_counts_and_rounded_percentage(started: Project) -> None:
    started.cli("mark-started", "1.2")
    started.cli("mark-failed", "1.3")
    started.cli("mark-skipped", "1.4")
    assert started.cli("status").json() == {
        "planPath": AUTH,
        "planName": "Implementation Plan: Auth",
        "source": "status.json",
        "total": 7,
        "completed": 1,
        "inProgress": 1,
        "pending": 3,
        "failed": 1,
        "skipped": 1,
        "percentage": 14,
        "currentPhase": FOUNDATIONS,
    }


def test_status_creates_status_json_when_it_is_missing(project: Project) -> None:
    assert project.cli("status").json()["total"] == 7
    assert project.status_file().is_file()


# -- marking -----------------------------------------------------------------

MARKS = [
    ("mark-started", [], {"status": "in_progress"}, {"status": "in_progress"}),
    ("mark-complete", ["--notes", "model done"], {"status": "completed", "notes": "model done"},
     {"status": "completed", "notes": "model done"}),
    ("mark-failed", ["--error", "tests fail"], {"status": "failed", "error": "tests fail"},
     {"status": "failed", "error": "tests fail"}),
    ("mark-skipped", ["--reason", "not needed"], {"status": "skipped", "reason": "not needed"},
     {"status": "skipped", "skipReason": "not needed"}),
]


@pytest.mark.parametrize(("command", "options", "printed", "stored"), MARKS,
                         ids=[case[0] for case in MARKS])
def test_mark_prints_the_seed_answer_and_records_the_status(started: Project, command: str, options: list[str],
                                                            printed: dict[str, str], stored: dict[str, str]) -> None:
    assert started.cli(command, "1.2", *options).json() == {"success": True, "taskId": "1.2", **printed}
    task = started.task("1.2")
    assert {key: task.get(key) for key in stored} == stored
    assert started.status_json()["summary"][stored["status"]] == 1 + (stored["status"] == "completed")


def test_runs_are_started_and_completed_with_their_counts(started: Project) -> None:
    started_run = started.cli("start-run").json()
    assert set(started_run) == {"success", "runId"}
    assert started_run["success"] is True
    assert re.fullmatch(r"run-\d+", started_run["runId"])
    run_id = started_run["runId"]
    assert started.cli("complete-run", run_id, "--completed", "3", "--failed", "1").json() == {
        "success": True, "runId": run_id, "completed": 3, "failed": 1}
    (run,) = started.status_json()["runs"]
    assert (run["runId"], run["completed"], run["failed"], run["tasksCompleted"], run["tasksFailed"]) == (
        run_id, 3, 1, 3, 1)
    assert "completedAt" in run


# -- next --------------------------------------------------------------------


def offered(result: Result) -> list[str]:
    return [task["id"] for task in result.json()["tasks"]]


def test_next_defaults_to_the_ready_policy_and_three_tasks(started: Project) -> None:
    answer = started.cli("next").json()
    assert (answer["policy"], answer["inProgress"], answer["exhausted"]) == ("ready", [], [])
    assert [task["id"] for task in answer["tasks"]] == ["1.2", "1.3", "1.4"]
    assert answer["tasks"][0] == {
        "id": "1.2", "description": "Define the user model in `src/models.py` HIGH", "phase": 1,
        "status": "pending", "reason": "pending - ready to implement", "sequential": False,
        "blockedBy": [], "files": ["src/models.py"], "weight": 2,
    }


def test_next_options_reach_the_ready_policy(started: Project) -> None:
    assert offered(started.cli("next", "10", "--phase-gate", "0")) == ["1.2", "1.3", "1.4", "2.3"]
    assert offered(started.cli("next", "10")) == ["1.2", "1.3", "1.4"]
    started.cli("mark-failed", "1.3")
    started.cli("increment-retry", "1.3")
    started.cli("increment-retry", "1.3")
    assert offered(started.cli("next", "10")) == ["1.2", "1.4"]
    assert offered(started.cli("next", "10", "--max-retries", "3")) == ["1.2", "1.3", "1.4"]
    explained = started.cli("next", "1", "--explain").json()
    assert {task["id"]: task["blockedBy"] for task in explained["blocked"]} == {
        "2.1": ["1.2", "1.3"], "2.2": ["2.1"], "2.3": []}


def test_next_seed_policy_answers_in_the_seed_shape(started: Project) -> None:
    started.cli("mark-started", "1.3")
    assert started.cli("next", "--policy", "seed").json() == {"count": 1, "tasks": [{
        "id": "1.3", "description": "Add password hashing in `src/hashing.py`", "phase": 1, "status": "in_progress",
        "reason": "in_progress - should be completed first", "sequential": False}]}


@pytest.mark.parametrize(("task_count", "offered_count"), [(9, 3), (10, 4), (30, 4), (31, 5)])
def test_next_batch_auto_sizes_the_answer_by_plan_size(project: Project, task_count: int,
                                                       offered_count: int) -> None:
    tasks = "".join(f"- [ ] 1.{number} Task {number}\n" for number in range(1, task_count + 1))
    (project.root / "docs/plans/wide.md").write_text(f"# Wide\n\n## Phase 1: All\n\n{tasks}", encoding="utf-8")
    project.cli("init", plan="docs/plans/wide.md")
    assert len(offered(project.cli("next", "--batch", "auto", plan="docs/plans/wide.md"))) == offered_count


@pytest.mark.parametrize("policy", ["ready", "seed"])
def test_next_warns_on_stderr_when_the_plan_changed_since_init(started: Project, policy: str) -> None:
    assert started.cli("next", "--policy", policy).err == ""
    plan = started.root / AUTH
    plan.write_text(plan.read_text(encoding="utf-8") + "- [ ] 2.4 Rate-limit the login endpoint\n", encoding="utf-8")
    result = started.cli("next", "--policy", policy)
    assert result.code == 0
    assert json.loads(result.out)["tasks"]
    assert result.err.startswith(f"plan-tasks: warning: {AUTH} changed since status.json was synced\n")
    assert f"`plan-tasks init --plan {AUTH}`" in result.err
    started.cli("init")
    assert started.cli("next", "--policy", policy).err == ""


# -- phases, progress, retries -----------------------------------------------


def test_phases_reports_completion_per_phase(started: Project) -> None:
    for task_id in ("1.2", "1.3", "1.4", "2.3"):
        started.cli("mark-complete", task_id)
    assert started.cli("phases").json() == {"phases": [
        {"number": 1, "title": "Foundations", "total": 4, "completed": 4, "percentage": 100, "status": "complete"},
        {"number": 2, "title": "Endpoints", "total": 3, "completed": 1, "percentage": 33, "status": "in_progress"},
    ]}


def test_phases_of_an_untouched_phase_are_pending(started: Project) -> None:
    assert [phase["status"] for phase in started.cli("phases").json()["phases"]] == ["in_progress", "pending"]


def test_progress_draws_a_bar_and_counts(started: Project) -> None:
    started.cli("mark-complete", "1.2")
    started.cli("mark-failed", "1.3")
    lines = started.cli("progress").out.splitlines()
    assert lines[:-1] == [
        "Plan: Implementation Plan: Auth",
        f"Progress: [{'█' * 12}{'░' * 28}] 29%",
        "",
        "  ✓ Completed: 2",
        "  ◯ Pending: 4",
        "  ⏳ In Progress: 0",
        "  ✗ Failed: 1",
        "  ⊘ Skipped: 0",
        "",
        "Total: 7 tasks",
        f"Current Phase: {FOUNDATIONS}",
    ]
    assert lines[-1].startswith("Last Updated: ")


def test_failed_tasks_are_retryable_until_two_retries_then_exhausted(started: Project) -> None:
    started.cli("mark-failed", "1.3", "--error", "hash mismatch")
    assert started.cli("retryable").json() == {"count": 1, "tasks": [
        {"id": "1.3", "description": "Add password hashing in `src/hashing.py`", "phase": FOUNDATIONS,
         "retryCount": 0}]}
    assert started.cli("increment-retry", "1.3", "--error", "flaky").json() == {
        "canRetry": True, "retryCount": 1, "maxRetries": 2, "taskId": "1.3", "lastError": "flaky"}
    (retryable,) = started.cli("retryable").json()["tasks"]
    assert (retryable["retryCount"], retryable["lastError"]) == (1, "flaky")
    assert "lastErrorAt" in retryable
    started.cli("increment-retry", "1.3")
    assert started.cli("retryable").json() == {"count": 0, "tasks": []}
    (exhausted,) = started.cli("exhausted").json()["tasks"]
    assert (exhausted["id"], exhausted["retryCount"], exhausted["lastError"]) == ("1.3", 2, "Unknown error")
    assert [task["id"] for task in started.cli("next").json()["exhausted"]] == ["1.3"]


# -- findings ----------------------------------------------------------------


def test_write_findings_from_content_or_file_then_read_them_back(started: Project, tmp_path: Path) -> None:
    assert started.cli("write-findings", "1.2", "--content", "uses argon2").json() == {
        "success": True, "taskId": "1.2", "findingsPath": "docs/plan-outputs/auth/findings/1-2.md"}
    assert (started.root / "docs/plan-outputs/auth/findings/1-2.md").read_text(encoding="utf-8") == "uses argon2"
    assert started.cli("read-findings", "1.2").out == "uses argon2\n"
    source = tmp_path / "notes.md"
    source.write_text("# 2.1\n\nsessions expire after 1 h\n", encoding="utf-8")
    started.cli("write-findings", "2.1", "--file", str(source)).json()
    assert started.cli("read-findings", "2.1").out == "# 2.1\n\nsessions expire after 1 h\n\n"


def test_write_findings_for_an_unknown_task_writes_nothing(started: Project) -> None:
    result = started.cli("write-findings", "9.9", "--content", "lost")
    assert result.code == 2
    assert result.err.startswith("plan-tasks: error: task 9.9 is not in status.json\n  hint: ")
    assert list((started.root / "docs/plan-outputs/auth/findings").iterdir()) == []


# -- validate --plan ---------------------------------------------------------


def test_validate_plan_finds_nothing_wrong_after_init(started: Project) -> None:
    result = started.cli("validate")
    assert result.code == 0
    assert {key: value for key, value in result.json().items() if key != "summary"} == {
        "valid": True, "issuesFound": 0, "issuesFixed": 0, "issues": [], "onlyInStatusJson": [], "onlyInPlan": []}


def test_validate_plan_fixes_a_wrong_summary_and_exits_0(started: Project) -> None:
    started.edit_status(lambda document: document["summary"].update(completed=5))
    result = started.cli("validate").json()
    assert (result["valid"], result["issuesFixed"], result["issues"]) == (
        False, 1, ["Summary completed: was 5, should be 1"])
    assert started.status_json()["summary"]["completed"] == 1
    assert started.cli("validate").json()["valid"] is True


def test_validate_plan_reports_tasks_only_in_status_json_or_only_in_the_plan_and_exits_1(started: Project) -> None:
    started.edit_status(lambda document: document["tasks"].append(
        {"id": "9.1", "phase": "Phase 9: Gone", "description": "Removed", "status": "pending"}))
    plan = started.root / AUTH
    plan.write_text(plan.read_text(encoding="utf-8") + "- [ ] 2.4 Rate-limit the login endpoint\n", encoding="utf-8")
    result = started.cli("validate")
    assert result.code == 1
    report = json.loads(result.out)
    assert (report["valid"], report["onlyInStatusJson"], report["onlyInPlan"]) == (False, ["9.1"], ["2.4"])
    assert report["issues"][-2:] == ["Tasks in status.json but not in the plan: 9.1",
                                     "Tasks in the plan but not in status.json: 2.4"]
    assert started.cli("validate").code == 1  # fixing the summary does not resolve them


# -- several plans -----------------------------------------------------------


def test_two_plans_keep_separate_status_and_plans_lists_both(started: Project) -> None:
    started.add_plan("billing.md", BILLING)
    started.cli("init", plan=BILLING)
    started.cli("mark-complete", "1.1", plan=BILLING)
    started.cli("mark-started", "1.2")
    assert (started.task("1.1", "billing")["status"], started.task("1.1")["status"]) == ("completed", "completed")
    assert (started.task("1.2", "billing")["status"], started.task("1.2")["status"]) == ("pending", "in_progress")
    listing = started.cli("plans", "--json", plan=None).json()
    assert listing["count"] == 2
    assert [{key: row[key] for key in ("name", "planPath", "total", "completed", "inProgress", "percentage")}
            for row in listing["plans"]] == [
        {"name": "auth", "planPath": AUTH, "total": 7, "completed": 1, "inProgress": 1, "percentage": 14},
        {"name": "billing", "planPath": BILLING, "total": 2, "completed": 1, "inProgress": 0, "percentage": 50},
    ]
    assert started.cli("plans", plan=None).out.splitlines() == [
        f"{'auth':<32}  14%  1/7 done, 1 running, 0 failed  {AUTH}",
        f"{'billing':<32}  50%  1/2 done, 0 running, 0 failed  {BILLING}",
    ]


def test_plans_marks_an_unreadable_status_file_reports_where_and_goes_on_with_exit_2(started: Project) -> None:
    broken = started.root / "docs/plan-outputs/broken/status.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json", encoding="utf-8")
    result = started.cli("plans", "--json", plan=None)
    assert result.code == 2
    assert result.err.startswith("docs/plan-outputs/broken/status.json:1:2: error: status file is not valid JSON")
    rows = json.loads(result.out)["plans"]
    assert [(row["name"], row.get("error")) for row in rows] == [("auth", None), ("broken", "status.json unreadable")]


def test_plans_in_an_empty_project_says_so(project: Project) -> None:
    assert project.cli("plans", plan=None).out.startswith("no plans with a status under ")
    assert project.cli("plans", "--json", plan=None).json() == {"count": 0, "plans": []}


def test_the_current_plan_pointer_is_read_when_plan_is_absent(started: Project) -> None:
    started.add_plan("billing.md", BILLING)
    (started.root / ".claude").mkdir()
    (started.root / ".claude" / "current-plan.txt").write_text(f"{BILLING}\n", encoding="utf-8")
    assert started.cli("status", plan=None).json()["planPath"] == BILLING
    assert started.cli("status").json()["planPath"] == AUTH  # --plan wins over the pointer


# -- errors ------------------------------------------------------------------


def test_unknown_task_id_is_an_error_with_a_hint(started: Project) -> None:
    assert_reported_error(started.run("mark-complete", "1.22", "--plan", AUTH),
                          "plan-tasks: error: task 1.22 is not in status.json")


def test_unknown_run_id_is_an_error_with_a_hint(started: Project) -> None:
    assert_reported_error(started.run("complete-run", "run-1", "--plan", AUTH),
                          "plan-tasks: error: run run-1 is not in status.json")


def test_missing_status_is_an_error_naming_init(project: Project) -> None:
    result = project.run("next", "--plan", AUTH)
    assert_reported_error(result, f"docs/plan-outputs/auth/status.json: error: no status for {AUTH} yet")
    assert f"`plan-tasks init --plan {AUTH}`" in result.stderr


def test_no_plan_and_no_pointer_is_an_error(project: Project) -> None:
    assert_reported_error(project.run("status"), "plan-tasks: error: no plan given")


def test_next_on_a_plan_made_invalid_after_init_reports_its_problems(started: Project) -> None:
    shutil.copyfile(READY / "invalid.md", started.root / AUTH)
    assert_reported_error(started.run("next", "--plan", AUTH),
                          f"{AUTH}:7:17: error: task 1.2 depends on unknown task 1.9; did you mean 1.1?")


def test_batch_auto_with_an_explicit_n_is_refused(started: Project) -> None:
    assert_reported_error(started.run("next", "4", "--batch", "auto", "--plan", AUTH),
                          "plan-tasks: error: give either N or `--batch auto`, not both")
