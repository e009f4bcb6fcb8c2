"""Task Master's statuses and plan-tasks', both ways, and writing one back.

Task Master (``.taskmaster/tasks/tasks.json``) says ``pending``,
``in-progress``, ``done``, ``review``, ``deferred``, ``cancelled`` or
``blocked``; a plan's tasks start ``pending``, ``completed`` or ``skipped``
in plan-tasks (status.json tracks the rest). :data:`INITIAL_STATUS` maps the
first to the second, :data:`TO_TASKMASTER` a plan-tasks status back, and
:func:`update_taskmaster_status` rewrites one task's status in the text of a
tasks.json, leaving every other byte as it was. docs/plan-format.md has the
table and the reasons.

Which task list of a tagged file is read: the ``master`` tag, else the only
tag (:func:`task_list_path`); the reader and the writer agree by using it.
"""

from __future__ import annotations

import json
from typing import Any

from plan_tasks.errors import PlanError
from plan_tasks.parse.json_locations import LocatedJson, Path, read_located

TASKMASTER_STATUSES = ("pending", "in-progress", "done", "review", "deferred", "cancelled", "blocked")

INITIAL_STATUS: dict[str, str] = {
    "pending": "pending",
    "in-progress": "pending",  # a run starts it again; status.json records its own in_progress
    "blocked": "pending",  # plan-tasks waits for its dependencies itself
    "review": "completed",  # the work is done; dependants may start (as Task Master's `next` has it)
    "done": "completed",
    "deferred": "skipped",  # not now: a run leaves it alone
    "cancelled": "skipped",
}

TO_TASKMASTER: dict[str, str] = {
    "pending": "pending",
    "in_progress": "in-progress",
    "completed": "done",
    "failed": "blocked",  # Task Master has no failed: blocked until someone looks
    "skipped": "deferred",  # skipped after a failed dependency: not done, not cancelled
}

DEFAULT_TAG = "master"


def task_list_path(value: Any) -> tuple[Path | None, str | None, list[str]]:
    """Where the task list is: ``("tasks",)`` in a legacy file, ``(tag, "tasks")``
    in a tagged one; the tag read, and the other tags (not read). None when
    the document holds no task list."""
    if not isinstance(value, dict):
        return None, None, []
    if isinstance(value.get("tasks"), list):
        return ("tasks",), None, []
    tags = [key for key, entry in value.items() if isinstance(entry, dict) and isinstance(entry.get("tasks"), list)]
    if not tags:
        return None, None, []
    tag = DEFAULT_TAG if DEFAULT_TAG in tags else tags[0]
    return (tag, "tasks"), tag, [other for other in tags if other != tag]


def update_taskmaster_status(text: str, task_id: str, status: str) -> str:
    """``text`` (a tasks.json) with the Task Master status of ``task_id`` (``5`` or
    ``5.2``) set to ``status``; when the last open subtask of a task is done,
    the task is done too. Raises PlanError for an unknown id or status."""
    if status not in TASKMASTER_STATUSES:
        raise PlanError(f"unknown Task Master status {status!r}", f"use one of: {', '.join(TASKMASTER_STATUSES)}")
    document, problems = read_located(text, "tasks.json")
    if document is None:
        raise PlanError(problems[0].message, problems[0].hint, problems[0].location)
    list_path, _, _ = task_list_path(document.value)
    if list_path is None:
        raise PlanError("no Task Master task list in tasks.json", "expected `tasks: [...]` or `{\"master\": {\"tasks\": [...]}}`")
    parent_id, _, sub_id = task_id.partition(".")
    task_path = _find(document, list_path, parent_id)
    if sub_id:
        task_path = _find(document, task_path + ("subtasks",), sub_id, parent_id)
    text = _set_status(document, task_path, status)
    if sub_id and status == "done":
        text = _complete_parent(text, list_path, parent_id)
    return text


def _find(document: LocatedJson, list_path: Path, wanted: str, parent_id: str | None = None) -> Path:
    items = document.value_at(list_path)
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and _matches(item.get("id"), wanted, parent_id):
            return list_path + (index,)
    shown = f"{parent_id}.{wanted}" if parent_id else wanted
    raise PlanError(f"no task {shown} in {document.path}", "the plan and tasks.json disagree; was tasks.json edited?")


def _matches(value: Any, wanted: str, parent_id: str | None) -> bool:
    written = str(value)
    return written == wanted or (parent_id is not None and written == f"{parent_id}.{wanted}")


def _set_status(document: LocatedJson, task_path: Path, status: str) -> str:
    text = document.text
    encoded = json.dumps(status)
    at = document.offset(task_path + ("status",))
    if at is not None:
        return text[:at] + encoded + text[_value_end(text, at):]
    # No status yet: add one right after the task's id value.
    id_at = document.offset(task_path + ("id",))
    assert id_at is not None  # found by its id
    end = _value_end(text, id_at)
    return text[:end] + f', "status": {encoded}' + text[end:]


def _value_end(text: str, start: int) -> int:
    """Where the JSON value starting at ``start`` ends, however it is escaped."""
    return json.JSONDecoder().raw_decode(text, start)[1]


def _complete_parent(text: str, list_path: Path, parent_id: str) -> str:
    document, _ = read_located(text, "tasks.json")
    assert document is not None
    parent_path = _find(document, list_path, parent_id)
    parent = document.value_at(parent_path)
    subtasks = [item for item in parent.get("subtasks") or [] if isinstance(item, dict)]
    if subtasks and all(item.get("status") in ("done", "cancelled") for item in subtasks) and parent.get("status") != "done":
        return _set_status(document, parent_path, "done")
    return text
