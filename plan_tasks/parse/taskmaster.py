"""Task Master projects: ``.taskmaster/tasks/tasks.json`` and its task files.

Task Master (eyaltoledano/claude-task-master) keeps tasks as JSON: ``tasks[]``
of ``{id, title, description, details, testStrategy, dependencies, status,
priority, subtasks[]}``, or, since tags, ``{"master": {"tasks": [...]},
"feature-x": {...}}``; ``task-master generate`` writes one Markdown file per
task (``# Task ID: 5``, read by :mod:`plan_tasks.parse.taskmaster_file`).

How it maps onto a plan (docs/plan-format.md has the reference):

* the runnable units are the leaves: a task's subtasks (ids ``5.1``, ``5.2``)
  when it has any, else the task itself (``5``); a dependency on a task with
  subtasks waits for all of them, and a task's own dependencies apply to
  each of its subtasks;
* a subtask's numeric dependency names a sibling (``1`` in task 5 is ``5.1``),
  a dotted one any subtask, as Task Master's ``next`` reads them;
* one phase holds every task (Task Master orders work by dependencies alone,
  and a task may depend on a later-numbered one); the ``master`` tag is read,
  else the only tag;
* statuses map as :mod:`plan_tasks.parse.taskmaster_status` says; ``priority``
  gives the weight as ``Risk:`` does (high is HIGH);
* the body an agent gets is the description, details and test strategy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plan_tasks.errors import Location, Problem
from plan_tasks.model import Plan, Task, TaskRef
from plan_tasks.parse.draft import PlanDraft
from plan_tasks.parse.json_locations import LocatedJson, Path, read_located
from plan_tasks.parse.sections import LEVELS
from plan_tasks.parse.source import Fit, Source
from plan_tasks.parse.taskmaster_status import INITIAL_STATUS, TASKMASTER_STATUSES, task_list_path

NAME = "taskmaster"

TASK_FILE = re.compile(r"\A\s*# Task ID:\s*(?P<id>\S+)")
JSON_TASKS = re.compile(r'"tasks"\s*:\s*\[')


@dataclass
class Item:
    """One Task Master task or subtask, ids already full (``5.1``)."""

    id: str
    title: str
    body: str
    status: str
    priority: str | None
    location: Location
    dependencies: list[TaskRef] = field(default_factory=list)
    subtasks: list[Item] = field(default_factory=list)


def detect(source: Source) -> Fit | None:
    if TASK_FILE.match(source.text):
        return Fit(0.95, "a Task Master task file (`# Task ID:` on its first line)")
    if source.text.lstrip().startswith("{") and JSON_TASKS.search(source.text):
        return Fit(0.95, "a Task Master tasks.json (a JSON object with `\"tasks\": [...]`)")
    if source.path.endswith(".json"):
        return Fit(0.5, "a .json file: only Task Master's tasks.json is read", 1)
    return None


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    if TASK_FILE.match(source.text):
        from plan_tasks.parse.taskmaster_file import read_task_file

        items, title, problems = read_task_file(source)
        return build_plan(items, source.path, title, problems, phase_label=items[0].id if items else None)
    return parse_tasks_json(source)


def parse_tasks_json(source: Source) -> tuple[Plan, list[Problem]]:
    document, problems = read_located(source.text, source.path)
    if document is None:
        return PlanDraft(source.path, NAME).build(), problems
    list_path, tag, other_tags = task_list_path(document.value)
    if list_path is None:
        problems.append(Problem(
            Location(source.path, 1, 1), "no Task Master task list found",
            'a tasks.json holds `{"tasks": [...]}` or tags such as `{"master": {"tasks": [...]}}`',
        ))
        return PlanDraft(source.path, NAME).build(), problems
    for other in other_tags:
        problems.append(Problem(
            document.location((other,)), f"tag `{other}` is not read: only tag `{tag}` is",
            "run one tag per plan; to run this tag, make it the file's `master` tag or its only tag",
            severity="warning",
        ))
    items = [
        item for index, raw in enumerate(document.value_at(list_path))
        if (item := _json_item(document, list_path + (index,), raw, None, problems)) is not None
    ]
    title = f"Task Master tasks ({tag})" if tag else "Task Master tasks"
    return build_plan(items, source.path, title, problems, phase_title=tag or "tasks")


def _json_item(document: LocatedJson, path: Path, raw: Any, parent: str | None,
               problems: list[Problem]) -> Item | None:
    where = document.location(path)
    if not isinstance(raw, dict) or raw.get("id") is None or isinstance(raw.get("id"), (dict, list, bool)):
        problems.append(Problem(where, "a task without an `id`", 'every task is an object such as `{"id": 1, "title": "..."}`'))
        return None
    own = str(raw["id"])
    task_id = own if parent is None or "." in own else f"{parent}.{own}"
    status = _status(raw.get("status"), lambda: document.location(path + ("status",)), problems)
    body = "\n\n".join(str(raw[key]).strip() for key in ("description", "details", "testStrategy") if raw.get(key))
    priority = raw.get("priority") if isinstance(raw.get("priority"), str) else None
    item = Item(task_id, str(raw.get("title") or "").strip(), body, status, priority, document.location(path + ("id",)))
    dependencies = raw.get("dependencies") or []
    for index, dependency in enumerate(dependencies if isinstance(dependencies, list) else []):
        at = document.location(path + ("dependencies", index))
        item.dependencies.append(TaskRef(id=_full_id(dependency, parent), line=at.line, column=at.column))
    subtasks = raw.get("subtasks") or []
    for index, sub in enumerate(subtasks if isinstance(subtasks, list) else []):
        child = _json_item(document, path + ("subtasks", index), sub, task_id, problems)
        if child is not None:
            item.subtasks.append(child)
    if not item.title:
        problems.append(Problem(item.location, f"task {task_id} has no title", 'give it a `"title"`'))
    return item


def _full_id(dependency: Any, parent: str | None) -> str:
    """A subtask's ``1`` is its sibling ``5.1``; ``"3.2"`` and a task's ``4`` are as written."""
    written = str(dependency)
    return written if parent is None or "." in written else f"{parent}.{written}"


def _status(raw: Any, where: Callable[[], Location], problems: list[Problem]) -> str:
    """The Task Master status; ``where`` locates it, called only for a warning."""
    status = str(raw or "pending").strip().lower()
    if status not in TASKMASTER_STATUSES:
        problems.append(Problem(
            where(), f"unknown Task Master status {raw!r}: read as pending",
            f"Task Master statuses are {', '.join(TASKMASTER_STATUSES)}", severity="warning",
        ))
        return "pending"
    return status


def build_plan(items: list[Item], path: str, title: str, problems: list[Problem], *,
               phase_title: str | None = None, phase_label: str | None = None) -> tuple[Plan, list[Problem]]:
    """One phase of the leaves of ``items``; dependencies on tasks with subtasks
    become dependencies on each subtask."""
    draft = PlanDraft(path, NAME, title=title)
    label = phase_label if phase_label and phase_label.isdigit() else None
    draft.add_phase(label, phase_title or (items[0].title if items else "tasks"), items[0].location.line if items else 1)
    leaves_of = {item.id: [sub.id for sub in item.subtasks] for item in items if item.subtasks}
    for item in items:
        for leaf, inherited in ([(sub, item) for sub in item.subtasks] or [(item, None)]):
            draft.phases[0].tasks.append(_task(leaf, inherited, leaves_of))
    if not items and not any(problem.is_error for problem in problems):
        problems.append(Problem(Location(path, 1, 1), "no tasks found", "the Task Master task list is empty"))
    return draft.build(), problems


def _task(item: Item, parent: Item | None, leaves_of: dict[str, list[str]]) -> Task:
    refs = (parent.dependencies if parent else []) + item.dependencies
    depends = [TaskRef(id=leaf, line=ref.line, column=ref.column) for ref in refs for leaf in leaves_of.get(ref.id, [ref.id])]
    status = INITIAL_STATUS[item.status]
    if parent is not None and status == "pending":
        status = INITIAL_STATUS[parent.status]  # a done or cancelled task's open subtasks follow it
    priority = (item.priority or (parent.priority if parent else None) or "").lower()
    return Task(
        id=item.id, title=item.title, phase_index=0, line=item.location.line, column=item.location.column,
        checked=status == "completed", skipped=status == "skipped", body=item.body,
        depends_on=tuple(depends), complexity=LEVELS.get(priority),  # type: ignore[arg-type]
    )
