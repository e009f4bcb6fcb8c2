"""Task Master projects (``plan_tasks.parse.taskmaster``): tasks.json (tagged and
legacy), per-task Markdown files, the status mapping both ways, the write-back
of statuses, and a whole ``plan-tasks run .taskmaster/tasks/tasks.json`` on a
real Prefect server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.errors import PlanError
from plan_tasks.load import load_plan
from plan_tasks.model import Plan
from plan_tasks.parse import taskmaster
from plan_tasks.parse.source import Source
from plan_tasks.parse.taskmaster_status import update_taskmaster_status
from plan_tasks.status.paths import output_dir_name

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "dialects" / "taskmaster"


def _parse(text: str, path: str = "tasks.json") -> tuple[Plan, list[str]]:
    plan, problems = taskmaster.parse(Source(text, path))
    return plan, [problem.format() for problem in problems]


def _tasks_json(*tasks: dict[str, Any]) -> str:
    return json.dumps({"tasks": list(tasks)}, indent=2)


# -- tasks.json ------------------------------------------------------------------------


def test_tagged_tasks_json_reads_the_master_tag_and_its_leaves() -> None:
    loaded = load_plan(str(FIXTURES / "tasks_tagged.json"))
    plan = loaded.plan
    assert plan.dialect == "taskmaster"
    assert [phase.name for phase in plan.phases] == ["Phase 1: master"]
    # Task 2 has subtasks: they are the runnable units, the task itself is not.
    assert [task.id for task in plan.tasks] == ["1", "2.1", "2.2", "2.3", "3", "4", "5", "6"]
    depends = {task.id: [ref.id for ref in task.depends_on] for task in plan.tasks}
    assert depends["2.2"] == ["1", "2.1"]  # task 2's own dependency, then sibling `1`
    assert depends["2.3"] == ["1", "2.2"]  # `"2.2"` written in full
    assert depends["3"] == ["2.1", "2.2", "2.3"]  # a dependency on task 2 waits for each subtask
    assert plan.task_by_id["3"].title == "Build the appointments API"
    assert plan.task_by_id["3"].body.startswith("CRUD endpoints for appointments.\n\nFastify routes")
    assert (plan.task_by_id["3"].line, plan.task_by_id["3"].column) == (55, 15)  # its `"id": 3`


def test_other_tags_are_named_in_a_located_warning() -> None:
    loaded = load_plan(str(FIXTURES / "tasks_tagged.json"))
    assert [(p.location.line, p.message) for p in loaded.warnings] == [
        (105, "tag `feature-reports` is not read: only tag `master` is"),
    ]


def test_legacy_tasks_json_with_a_top_level_task_list() -> None:
    plan = load_plan(str(FIXTURES / "tasks_legacy.json")).plan
    assert [(task.id, task.initial_status) for task in plan.tasks] == [("1", "completed"), ("2", "pending")]
    assert [ref.id for ref in plan.task_by_id["2"].depends_on] == ["1"]


def test_the_only_tag_is_read_when_there_is_no_master() -> None:
    plan, problems = _parse(json.dumps({"feature-x": {"tasks": [{"id": 1, "title": "Only"}]}}))
    assert ([task.id for task in plan.tasks], problems) == (["1"], [])
    assert plan.phases[0].name == "Phase 1: feature-x"


@pytest.mark.parametrize(("status", "initial"), [
    ("pending", "pending"),
    ("in-progress", "pending"),
    ("blocked", "pending"),
    ("review", "completed"),
    ("done", "completed"),
    ("deferred", "skipped"),
    ("cancelled", "skipped"),
    (None, "pending"),
])
def test_taskmaster_statuses_map_to_initial_statuses(status: str | None, initial: str) -> None:
    task: dict[str, Any] = {"id": 1, "title": "A"}
    if status is not None:
        task["status"] = status
    plan, problems = _parse(_tasks_json(task))
    assert (plan.tasks[0].initial_status, problems) == (initial, [])


def test_open_subtasks_of_a_done_or_cancelled_task_follow_it() -> None:
    plan, _ = _parse(_tasks_json(
        {"id": 1, "title": "Done", "status": "done", "subtasks": [{"id": 1, "title": "a", "status": "pending"}]},
        {"id": 2, "title": "Gone", "status": "cancelled", "subtasks": [{"id": 1, "title": "b", "status": "pending"}]},
    ))
    assert [task.initial_status for task in plan.tasks] == ["completed", "skipped"]


def test_an_unknown_status_is_a_located_warning_and_reads_as_pending() -> None:
    plan, problems = _parse('{"tasks": [\n  {"id": 1, "title": "A", "status": "someday"}\n]}')
    assert plan.tasks[0].initial_status == "pending"
    assert problems[0].startswith("tasks.json:2:37: warning: unknown Task Master status 'someday'")


@pytest.mark.parametrize(("priority", "weight"), [("high", 2), ("critical", 3), ("medium", 1), ("low", 1), (None, 1)])
def test_priority_gives_the_weight(priority: str | None, weight: int) -> None:
    plan, _ = _parse(_tasks_json({"id": 1, "title": "A", "priority": priority}))
    assert plan.tasks[0].weight == weight


@pytest.mark.parametrize(("text", "expected"), [
    ('{"tasks": [\n  {"id": 1, "title": "A"},\n]}', "tasks.json:3:1: error: invalid JSON: Expecting value"),
    ('{"tasks": [\n  {"title": "No id"}\n]}', "tasks.json:2:3: error: a task without an `id`"),
    ('{"tasks": [\n  {"id": 1, "title": "A", "dependencies": [9]}\n]}', "tasks.json:2:44: error: task 1 depends on unknown task 9"),
    ('{"projects": []}', "tasks.json:1:1: error: no Task Master task list found"),
])
def test_json_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    plan_file = tmp_path / "tasks.json"
    plan_file.write_text(text, encoding="utf-8")
    from plan_tasks.errors import PlanInvalid

    with pytest.raises(PlanInvalid) as raised:
        load_plan(str(plan_file))
    assert raised.value.errors[0].format().startswith(expected.replace("tasks.json", str(plan_file)))


# -- task files ------------------------------------------------------------------------


def test_the_older_task_file_layout_is_read() -> None:
    plan, problems = _parse((FIXTURES / "task_012.md").read_text(encoding="utf-8"), "task_012.md")
    assert [task.id for task in plan.tasks] == ["12.1", "12.2"]
    assert plan.phases[0].name == "Phase 12: Export reports"
    assert plan.task_by_id["12.1"].initial_status == "completed"
    assert [ref.id for ref in plan.task_by_id["12.2"].depends_on] == ["12.1"]
    assert plan.task_by_id["12.2"].complexity == "HIGH"
    assert plan.task_by_id["12.2"].body == "Write the CSV.\n\nStream rows; never hold a month in memory."
    assert problems == [
        "task_012.md:4:17: warning: task 12 depends on task 7, which is not in this file: it is not waited for\n"
        "  hint: run the project's .taskmaster/tasks/tasks.json to keep the dependencies between tasks",
    ]


# -- writing statuses back ---------------------------------------------------------------


def test_update_changes_only_the_status_value() -> None:
    original = (FIXTURES / "tasks_tagged.json").read_text(encoding="utf-8")
    updated = update_taskmaster_status(original, "3", "done")
    changed = [(old, new) for old, new in zip(original.split("\n"), updated.split("\n")) if old != new]
    assert changed == [('        "status": "pending",', '        "status": "done",')]
    assert len(updated.split("\n")) == len(original.split("\n"))


def test_update_of_the_last_open_subtask_completes_its_task() -> None:
    original = (FIXTURES / "tasks_tagged.json").read_text(encoding="utf-8")
    once = update_taskmaster_status(original, "2.2", "done")
    assert json.loads(once)["master"]["tasks"][1]["status"] == "in-progress"  # 2.3 is still open
    twice = update_taskmaster_status(once, "2.3", "done")
    task = json.loads(twice)["master"]["tasks"][1]
    assert [sub["status"] for sub in task["subtasks"]] == ["done", "done", "done"]
    assert task["status"] == "done"
    assert json.loads(twice)["feature-reports"] == json.loads(original)["feature-reports"]


def test_update_adds_a_status_where_a_task_has_none() -> None:
    updated = update_taskmaster_status('{"tasks": [{"id": "7", "title": "A \\"quoted\\" one"}]}', "7", "in-progress")
    assert updated == '{"tasks": [{"id": "7", "status": "in-progress", "title": "A \\"quoted\\" one"}]}'


@pytest.mark.parametrize(("task_id", "status", "message"), [
    ("9", "done", "no task 9 in tasks.json"),
    ("2.9", "done", "no task 2.9 in tasks.json"),
    ("3", "finished", "unknown Task Master status 'finished'"),
])
def test_update_refuses_unknown_tasks_and_statuses(task_id: str, status: str, message: str) -> None:
    original = (FIXTURES / "tasks_tagged.json").read_text(encoding="utf-8")
    with pytest.raises(PlanError, match=message):
        update_taskmaster_status(original, task_id, status)


@pytest.mark.parametrize(("plan_ref", "name"), [
    (".taskmaster/tasks/tasks.json", "taskmaster-tasks"),
    ("/abs/project/.taskmaster/tasks/task_005.md", "taskmaster-task_005"),
    ("plans/board.json", "board"),
])
def test_status_folder_names_of_task_master_plans(plan_ref: str, name: str) -> None:
    assert output_dir_name(plan_ref) == name


# -- the seed CLI and a whole run ---------------------------------------------------------


def _project(root: Path, tasks: list[dict[str, Any]]) -> Path:
    plan = root / ".taskmaster" / "tasks" / "tasks.json"
    plan.parent.mkdir(parents=True)
    plan.write_text(json.dumps({"master": {"tasks": tasks, "metadata": {"description": "e2e"}}}, indent=2) + "\n",
                    encoding="utf-8")
    return plan


def _cli(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plan_tasks", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in ("PREFECT_API_URL",)}
    env.update(PYTHONPATH=str(ROOT), PLAN_TASKS_CACHE_DIR=str(tmp_path / "cache"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def test_next_reads_a_tasks_json_through_the_parse_cache(tmp_path: Path, cli_env: dict[str, str]) -> None:
    _project(tmp_path, [
        {"id": 1, "title": "First", "status": "done"},
        {"id": 2, "title": "Second", "dependencies": [1]},
        {"id": 3, "title": "Third", "dependencies": [2]},
    ])
    assert _cli(cli_env, tmp_path, "init", "--plan", ".taskmaster/tasks/tasks.json").returncode == 0
    for _ in range(2):  # the second call answers from the cache
        result = _cli(cli_env, tmp_path, "next", "3", "--plan", ".taskmaster/tasks/tasks.json")
        assert result.returncode == 0, result.stderr
        assert [task["id"] for task in json.loads(result.stdout)["tasks"]] == ["2"]
    status = json.loads((tmp_path / "docs/plan-outputs/taskmaster-tasks/status.json").read_text(encoding="utf-8"))
    assert {task["id"]: task["status"] for task in status["tasks"]} == {"1": "completed", "2": "pending", "3": "pending"}


def test_run_executes_a_task_master_project_and_writes_statuses_back(
    tmp_path: Path, cli_env: dict[str, str], prefect_server: str,
) -> None:
    plan = _project(tmp_path, [
        {"id": 1, "title": "Write one", "details": "Run: `echo one > one.txt`", "status": "pending",
         "dependencies": [], "priority": "high", "subtasks": []},
        {"id": 2, "title": "Build on one", "status": "pending", "dependencies": [1], "subtasks": [
            {"id": 1, "title": "Copy", "details": "Run: `cp one.txt two.txt`", "status": "pending", "dependencies": []},
            {"id": 2, "title": "Append", "details": "Run: `echo two >> two.txt`", "status": "pending", "dependencies": [1]},
        ]},
        {"id": 3, "title": "Check", "details": "Run: `grep -q two two.txt && echo ok > three.txt`",
         "status": "pending", "dependencies": [2]},
        {"id": 4, "title": "Done before", "details": "Run: `touch again.txt`", "status": "done", "dependencies": []},
    ])
    original = plan.read_text(encoding="utf-8")
    result = _cli({**cli_env, "PREFECT_API_URL": prefect_server}, tmp_path,
                  "run", ".taskmaster/tasks/tasks.json", "--executor", "shell", "--update-plan", "--phase-gate", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "two.txt").read_text(encoding="utf-8") == "one\ntwo\n"
    assert (tmp_path / "three.txt").exists() and not (tmp_path / "again.txt").exists()
    status = json.loads((tmp_path / "docs/plan-outputs/taskmaster-tasks/status.json").read_text(encoding="utf-8"))
    assert {task["id"]: task["status"] for task in status["tasks"]} == {
        "1": "completed", "2.1": "completed", "2.2": "completed", "3": "completed", "4": "completed"}
    assert {task["phase"] for task in status["tasks"]} == {"Phase 1: master"}
    written = json.loads(plan.read_text(encoding="utf-8"))["master"]["tasks"]
    assert [task["status"] for task in written] == ["done", "done", "done", "done"]
    assert [sub["status"] for sub in written[1]["subtasks"]] == ["done", "done"]
    # Only status values changed: the rest of the file is as Task Master wrote it.
    changed = [old for old, new in zip(original.split("\n"), plan.read_text(encoding="utf-8").split("\n")) if old != new]
    assert changed and all(line.strip().startswith('"status": "pending"') for line in changed)
