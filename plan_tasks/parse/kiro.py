"""Kiro's and cc-sdd's ``tasks.md``: ``- [ ] 1. Title`` with ``- [ ] 1.1 Sub`` items.

What it reads (docs/plan-format.md, "Kiro / cc-sdd"):

* a major task ``- [ ] 1. Title`` is a phase (number 1); its sub-tasks
  ``- [ ] 1.1 Title``, nested under it or written flat after it, are the
  runnable tasks; a major task without sub-tasks is itself a task, id ``1``;
* ``(P)`` after the id or at the end of the title: the task may run with the
  others of its phase; a task without ``(P)`` waits for the tasks before it
  (cc-sdd omits every ``(P)`` in ``--sequential`` mode);
* ``- [x]`` done; a major task's own box is ignored when it has sub-tasks (it
  is done when they all are); ``- [ ]*`` (an optional test task) is a task;
* detail bullets under a task are its body: ``_Requirements: 1.2_`` and
  ``_Boundary: Component_`` are not tasks and not dependencies, while
  ``Depends on: 1.1`` / ``_Depends: 1.1_`` are dependencies.
"""

from __future__ import annotations

import re

from plan_tasks.errors import Problem
from plan_tasks.model import Plan
from plan_tasks.parse.blocks import ListItem
from plan_tasks.parse.builder import ParallelMarks, PhaseDraft, PlanBuilder, read_marks
from plan_tasks.parse.detect import count_matches, fit_from_counts
from plan_tasks.parse.source import Fit, Source

NAME = "kiro"

ITEM = re.compile(
    r"^\[(?P<mark>[ xX])\]\*?\s+(?:\*\*)?(?P<id>\d+(?:\.\d+)*)(?P<dot>\.)?(?:\*\*)?\s+"
    r"(?P<parallel>\(P\)\s*)?(?P<title>.*)$"
)
TRAILING_PARALLEL = re.compile(r"\s*\(P\)\s*$")
DETECT_MAJOR = re.compile(r"^\s*[-*+]\s+\[[ xX]\]\*?\s+(?:\*\*)?\d+\.(?:\*\*)?\s")
DETECT_SUB = re.compile(r"^\s*[-*+]\s+\[[ xX]\]\*?\s+(?:\*\*)?\d+\.\d+\.?(?:\*\*)?\s")
FORMAT_HINT = "Kiro / cc-sdd tasks read as `- [ ] 1. Title` major tasks with `- [ ] 1.1 Sub-task` items"


def detect(source: Source) -> Fit | None:
    majors = count_matches(source, DETECT_MAJOR)
    subs = count_matches(source, DETECT_SUB)
    described = f"{majors} `- [ ] 1.` major task(s) and {subs} `- [ ] 1.1` sub-task(s)"
    return fit_from_counts(majors + subs, described, majors > 0, None, 0.85)


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    return _KiroParser(source).parse()


class _KiroParser:
    def __init__(self, source: Source) -> None:
        self.builder = PlanBuilder(source.outline(_no_paragraph, nested=True), source.path, NAME)
        self.order = ParallelMarks("(P)")
        self.major: tuple[ListItem, re.Match[str]] | None = None  # the open major task
        self.has_subtasks = False

    def parse(self) -> tuple[Plan, list[Problem]]:
        builder = self.builder
        builder.walk(builder.read_title, self._read_item)
        self._close_major()
        return builder.finish(f"{len(builder.phases)} major task(s)", FORMAT_HINT)

    def _read_item(self, item: ListItem) -> None:
        match = ITEM.match(item.lead.split("\n", 1)[0])
        if match:
            self._read_task_item(item, match)

    def _read_task_item(self, item: ListItem, match: re.Match[str]) -> None:
        task_id = match.group("id")
        if "." not in task_id:
            self._close_major()
            title = _without_parallel(match)[0]
            self.builder.phases.append(PhaseDraft(item.line + 1, 0, int(task_id), task_id, title))
            self.order.new_phase()
            self.major, self.has_subtasks = (item, match), False
            return
        phase = self.builder.phases[-1] if self.builder.phases else None
        column = self.builder.outline.lines[item.line].find(task_id) + 1
        if phase is None or task_id.split(".", 1)[0] != phase.label:
            parent = task_id.split(".", 1)[0]
            self.builder.problem(item.line, column - 1, f"sub-task {task_id} is not under major task {parent}",
                                 f"put it after `- [ ] {parent}. Title`, or renumber it", severity="warning")
            return
        self.has_subtasks = True
        self._add(item, match, task_id, column)

    def _close_major(self) -> None:
        """A major task without sub-tasks is a task of its own phase."""
        if self.major is not None and not self.has_subtasks:
            item, match = self.major
            column = self.builder.outline.lines[item.line].find(match.group("id")) + 1
            self._add(item, match, match.group("id"), column)
        self.major = None

    def _add(self, item: ListItem, match: re.Match[str], task_id: str, column: int) -> None:
        title, parallel = _without_parallel(match)
        marks = read_marks(title, match.group("mark") in "xX")
        phase = self.builder.phases[-1]
        refs = self.order.order_refs(task_id, parallel, phase.label, item.line + 1, column)
        scan = range(item.line, _own_end(self.builder, item))
        self.builder.add_task(item, task_id, marks, column, extra_refs=tuple(refs), scan_lines=scan)


def _without_parallel(match: re.Match[str]) -> tuple[str, bool]:
    title = match.group("title").strip()
    parallel = bool(match.group("parallel")) or bool(TRAILING_PARALLEL.search(title))
    return TRAILING_PARALLEL.sub("", title).strip(), parallel


def _own_end(builder: PlanBuilder, item: ListItem) -> int:
    """Where an item's own lines end: before its first nested sub-task, if any."""
    lines = builder.outline.lines
    for number in range(item.line + 1, item.end):
        if DETECT_SUB.match(lines[number]) and not builder.outline.code_lines[number]:
            return number
    return item.end


def _no_paragraph(text: str) -> bool:
    return False
