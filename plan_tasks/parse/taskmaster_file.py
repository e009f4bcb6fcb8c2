"""Task Master's per-task Markdown files (``.taskmaster/tasks/task_005.md``).

``task-master generate`` has written two layouts; both are read:

```markdown
# Task ID: 5                         # Task ID: 5
**Title:** Waitlist notifications    # Title: Waitlist notifications
**Status:** pending                  # Status: pending
**Dependencies:** 4                  # Dependencies: 4
**Details:** ...                     # Details: ...
## Subtasks                          # Subtasks:
### 5.1. Delivery                    ## 1. Delivery [pending]
**Status:** pending                  ### Dependencies: None
**Dependencies:** None               ### Details: ...
```

A file holds one task, so its dependencies on other tasks (``4``) cannot be
waited for: they are dropped with a warning (run the project's tasks.json to
keep them). Lines in fenced code are never fields or subtasks.
"""

from __future__ import annotations

import re

from plan_tasks.errors import Location, Problem
from plan_tasks.model import TaskRef
from plan_tasks.parse.sections import read_id_list
from plan_tasks.parse.source import Source
from plan_tasks.parse.taskmaster import Item, _full_id, _status

FIELD = re.compile(
    r"^(?:#{1,3}\s*|\*\*|__)?(?P<label>Task ID|Title|Status|Dependencies|Priority|Description|Details|Test Strategy)"
    r"(?:\*\*|__)?\s*:(?:\*\*|__)?\s*(?P<rest>.*?)\s*$",
    re.IGNORECASE,
)
SUBTASKS = re.compile(r"^#{1,3}\s*Subtasks:?\s*$", re.IGNORECASE)
SUBTASK = re.compile(r"^#{2,3}\s+(?:(?P<parent>\d+)\.)?(?P<id>\d+)\.?\s+(?P<title>.*?)(?:\s+\[(?P<status>[\w-]+)\])?\s*$")


def _no_paragraphs(text: str) -> bool:
    return False


def read_task_file(source: Source) -> tuple[list[Item], str, list[Problem]]:
    """The file's task (with its subtasks), the plan title, and the problems found."""
    outline = source.outline(_no_paragraphs)
    lines, code = outline.lines, outline.code_lines
    problems: list[Problem] = []
    task_id = FIELD.match(lines[0].strip()).group("rest")  # type: ignore[union-attr]
    task = Item(task_id, "", "", "pending", None, Location(source.path, 1, lines[0].find(task_id) + 1))
    current, fields, in_subtasks = task, _Fields(), False
    for number, line in enumerate(lines[1:], start=1):
        if code[number]:
            fields.add_text(line)
            continue
        stripped = line.strip()
        if SUBTASKS.match(stripped):
            _finish(current, fields, task, source.path, problems)
            in_subtasks, fields = True, _Fields()
            continue
        sub = SUBTASK.match(stripped) if in_subtasks else None
        if sub:
            _finish(current, fields, task, source.path, problems)
            current = Item(f"{task.id}.{sub.group('id')}", sub.group("title").strip(), "",
                           _status(sub.group("status"), lambda: Location(source.path, number + 1, 1), problems),
                           None, Location(source.path, number + 1, line.find(sub.group("id")) + 1))
            task.subtasks.append(current)
            fields = _Fields()
            continue
        field = FIELD.match(stripped)
        if field and field.group("label").lower() == "dependencies":
            fields.label = "description"
            rest_column = line.find(field.group("rest")) if field.group("rest") else len(line)
            parent = task.id if current is not task else None
            for ref in read_id_list(line, rest_column, number, source.path, problems):
                current.dependencies.append(ref.model_copy(update={"id": _full_id(ref.id, parent)}))
        elif field:
            fields.start(field.group("label").lower(), field.group("rest"), Location(source.path, number + 1, 1))
        else:
            fields.add_text(line)
    _finish(current, fields, task, source.path, problems)
    _drop_outside_dependencies(task, problems)
    return [task], f"Task {task.id}: {task.title}" if task.title else f"Task {task.id}", problems


class _Fields:
    """Labelled fields of one task or subtask; text after a field belongs to it."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}
        self.where: dict[str, Location] = {}
        self.label = "description"

    def start(self, label: str, rest: str, where: Location) -> None:
        # Text after a one-line field (`**Status:** pending`) is the description.
        self.label = label if label in ("description", "details", "test strategy") else "description"
        self.values.setdefault(label, []).append(rest)
        self.where[label] = where

    def add_text(self, line: str) -> None:
        self.values.setdefault(self.label, []).append(line)

    def text(self, label: str) -> str:
        return "\n".join(self.values.get(label, [])).strip()


def _finish(item: Item, fields: _Fields, task: Item, path: str, problems: list[Problem]) -> None:
    if fields.text("title"):
        item.title = fields.text("title")
    if "status" in fields.values:
        where = fields.where["status"]
        item.status = _status(fields.text("status").split()[0] if fields.text("status") else None,
                              lambda: where, problems)
    if fields.text("priority"):
        item.priority = fields.text("priority").split()[0].lower()
    parts = [fields.text(label) for label in ("description", "details", "test strategy") if fields.text(label)]
    item.body = "\n\n".join(parts)


def _drop_outside_dependencies(task: Item, problems: list[Problem]) -> None:
    known = {task.id} | {sub.id for sub in task.subtasks}
    for item in [task, *task.subtasks]:
        kept: list[TaskRef] = []
        for ref in item.dependencies:
            if ref.id in known:
                kept.append(ref)
                continue
            problems.append(Problem(
                Location(item.location.path, ref.line, ref.column),
                f"task {item.id} depends on task {ref.id}, which is not in this file: it is not waited for",
                "run the project's .taskmaster/tasks/tasks.json to keep the dependencies between tasks",
                severity="warning",
            ))
        item.dependencies = kept
