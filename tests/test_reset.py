"""`plan-tasks reset PLAN [TASK... | phase:N | --failed | --all]`: tasks back to pending,
what their attempt or skip left cleared (the seed's error history kept), one line saying
what changed, nothing written when nothing changes; and `mark-skipped` recording that
the skip was on purpose.

The project is ``fixtures/ready/auth.md`` after `init` (1.1 checked, so completed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.cli.main import main
from plan_tasks.cli.reset import confirmation
from plan_tasks.status import document as doc
from plan_tasks.status.paths import resolve_plan
from plan_tasks.status.store import transaction

ROOT = Path(__file__).resolve().parents[1]
READY = Path(__file__).parent / "fixtures" / "ready"
PLAN = "docs/plans/auth.md"
STATUS = "docs/plan-outputs/auth/status.json"


class Project:
    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys

    def cli(self, *args: str) -> tuple[int, str, str]:
        """A status command with --plan, or `reset` with the plan as its first argument."""
        self.capsys.readouterr()
        if args[0] == "reset":
            code = main(["reset", PLAN, *args[1:], "--root", str(self.root)])
        else:
            code = main([*args, "--root", str(self.root), "--plan", PLAN])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def task(self, task_id: str) -> dict[str, Any]:
        document = json.loads((self.root / STATUS).read_text(encoding="utf-8"))
        return next(task for task in document["tasks"] if task["id"] == task_id)

    def change(self, edit: Any) -> None:
        with transaction(resolve_plan(PLAN, str(self.root))) as document:
            edit(document)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Project:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(READY / "auth.md", root / PLAN)
    created = Project(root, capsys)
    assert created.cli("init")[0] == 0
    return created


@pytest.fixture
def after_a_failure(project: Project) -> Project:
    """1.2 completed; 1.3 failed after a retry; 2.1 and 2.2 skipped because of it; 2.3 skipped
    by hand; 1.4 skipped by the plan."""
    for command in (("mark-started", "1.2"), ("mark-complete", "1.2", "--notes", "model in place"),
                    ("mark-started", "1.3"), ("mark-failed", "1.3", "--error", "hash mismatch"),
                    ("increment-retry", "1.3", "--error", "hash mismatch"),
                    ("mark-skipped", "2.3", "--reason", "docs later")):
        assert project.cli(*command)[0] == 0

    def skip_dependants(document: doc.Document) -> None:
        for task_id in ("2.1", "2.2"):
            doc.mark_skipped(document, task_id, doc.SKIP_FAILURE, "depends on failed task 1.3", because_of="1.3")
        doc.mark_skipped(document, "1.4", doc.SKIP_PLAN, "skipped in the plan")

    project.change(skip_dependants)
    return project


def test_reset_failed_resets_the_failed_task_and_those_skipped_because_of_it(after_a_failure: Project) -> None:
    code, out, err = after_a_failure.cli("reset", "--failed")
    assert (code, err) == (0, "")
    assert out == "reset 3 tasks to pending: 1.3 (failed), 2.1 (skipped), 2.2 (skipped)\n"
    assert [after_a_failure.task(task_id)["status"] for task_id in ("1.2", "1.3", "1.4", "2.1", "2.2", "2.3")] == [
        "completed", "pending", "skipped", "pending", "pending", "skipped"]


def test_a_reset_task_loses_what_its_attempt_left_but_keeps_the_seeds_error_history(after_a_failure: Project) -> None:
    failed = after_a_failure.task("1.3")
    assert {"startedAt", "completedAt", "duration", "error", "retryCount", "lastError", "lastErrorAt"} <= set(failed)
    after_a_failure.cli("reset", "--failed")
    task = after_a_failure.task("1.3")
    assert task == {"id": "1.3", "phase": failed["phase"], "description": failed["description"], "status": "pending",
                    "lastError": "hash mismatch", "lastErrorAt": failed["lastErrorAt"]}
    skipped = after_a_failure.task("2.1")
    assert "skipReason" not in skipped and doc.OURS not in skipped and "completedAt" not in skipped


@pytest.mark.parametrize(("selection", "expected"), [
    (["1.2"], "reset 1 task to pending: 1.2 (completed)"),
    (["2.3", "1.2"], "reset 2 tasks to pending: 2.3 (skipped), 1.2 (completed)"),
    (["phase:2"], "reset 3 tasks to pending: 2.1 (skipped), 2.2 (skipped), 2.3 (skipped)"),
    (["p:1"], "reset 4 tasks to pending: 1.1 (completed), 1.2 (completed), 1.3 (failed), 1.4 (skipped)"),
    (["--all"], "reset 6 tasks to pending: 1.1 (completed), 1.2 (completed), 1.3 (failed), 2.1 (skipped), "
                "2.2 (skipped), 2.3 (skipped)"),
], ids=["one task", "two tasks", "a phase", "a phase, short", "all"])
def test_reset_puts_the_selected_tasks_back_to_pending_and_says_which(
        after_a_failure: Project, selection: list[str], expected: str) -> None:
    code, out, err = after_a_failure.cli("reset", *selection)
    assert (code, out, err) == (0, expected + "\n", "")
    for part in expected.split(": ", 1)[1].split(", "):
        assert after_a_failure.task(part.split(" ")[0])["status"] == "pending"


def test_reset_all_leaves_the_tasks_the_plan_itself_skips(after_a_failure: Project) -> None:
    after_a_failure.cli("reset", "--all")
    assert after_a_failure.task("1.4")["status"] == "skipped"


@pytest.mark.parametrize(("selection", "expected"), [
    (["1.2"], "nothing to reset: 1.2 is pending already"),
    (["1.2", "2.1"], "nothing to reset: 1.2, 2.1 are pending already"),
    (["--failed"], "nothing to reset: no task has failed, nor been skipped because one failed"),
])
def test_nothing_to_reset_says_so_and_writes_nothing(project: Project, selection: list[str], expected: str) -> None:
    before = (project.root / STATUS).read_bytes()
    assert project.cli("reset", *selection) == (0, expected + "\n", "")
    assert (project.root / STATUS).read_bytes() == before


@pytest.mark.parametrize(("selection", "expected"), [
    (["9.9"], "plan-tasks: error: task 9.9 is not in status.json"),
    (["1.2", "1.9"], "plan-tasks: error: task 1.9 is not in status.json"),
    (["phase:7"], "plan-tasks: error: no phase 7 in the status of docs/plans/auth.md"),
    ([], "plan-tasks: error: say which tasks to reset: task ids or phase:N, `--failed`, or `--all`"),
    (["1.2", "--failed"], "plan-tasks: error: say which tasks to reset: task ids or phase:N, `--failed`, or `--all`"),
], ids=["unknown task", "one unknown among known", "unknown phase", "nothing named", "ids and --failed"])
def test_a_bad_selection_is_an_error_and_changes_nothing(after_a_failure: Project, selection: list[str],
                                                         expected: str) -> None:
    before = (after_a_failure.root / STATUS).read_bytes()
    code, out, err = after_a_failure.cli("reset", *selection)
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == expected
    assert err.splitlines()[1].startswith("  hint: ")
    assert (after_a_failure.root / STATUS).read_bytes() == before


def test_after_reset_failed_next_offers_the_task_again(after_a_failure: Project) -> None:
    def give_up(document: doc.Document) -> None:
        doc.find_task(document, "1.3")["retryCount"] = 2  # no retries left: `next` no longer offers it

    after_a_failure.change(give_up)
    offered = lambda: [task["id"] for task in json.loads(after_a_failure.cli("next", "5")[1])["tasks"]]  # noqa: E731
    assert "1.3" not in offered()
    after_a_failure.cli("reset", "--failed")
    assert "1.3" in offered()


def test_mark_skipped_records_a_skip_on_purpose(project: Project) -> None:
    assert project.cli("mark-skipped", "2.3", "--reason", "docs later")[0] == 0
    task = project.task("2.3")
    assert (task["status"], task["skipReason"], task[doc.OURS]["skipCause"]) == ("skipped", "docs later", "manual")
    assert doc.skip_cause(task) == doc.SKIP_MANUAL


def test_reset_as_a_real_process_prints_one_line_and_exits_0(after_a_failure: Project) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "reset", PLAN, "2.3"], cwd=after_a_failure.root,
                            capture_output=True, text=True, env=env, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "reset 1 task to pending: 2.3 (skipped)\n", "")


@pytest.mark.parametrize(("count", "expected_tail"), [
    (1, "reset 1 task to pending: 1.1 (failed)"),
    (20, "19.1 (failed), 20.1 (failed)"),
    (25, "19.1 (failed), 20.1 (failed) and 5 more"),
])
def test_the_confirmation_names_twenty_tasks_and_counts_the_rest(count: int, expected_tail: str) -> None:
    line = confirmation([(f"{number}.1", "failed") for number in range(1, count + 1)])
    assert line.startswith(f"reset {count} task")
    assert line.endswith(expected_tail)
