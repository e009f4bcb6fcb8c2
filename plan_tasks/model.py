"""The plan model: what a Markdown plan means, independent of how it was written.

Parsers (``plan_tasks.parse``) build these objects; the graph, the status store,
the selectors and the Prefect compiler only ever read them. Models are frozen
pydantic models: a parsed plan is a value, safe to share between threads.

Phases are identified by their position (``Phase.index``) because the number a
user writes is not unique: ``Phase 3`` and ``Phase 3.1`` both have number 3, as
the seed system's ``Phase\\s+(\\d+)`` reads them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict

from plan_tasks.statuses import COMPLETED, PENDING, SKIPPED, TaskStatus

Complexity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]

COMPLEXITY_WEIGHTS: dict[str, int] = {"CRITICAL": 3, "HIGH": 2, "MEDIUM": 1, "LOW": 1}
"""Scheduling weight of each complexity indicator; a task without one weighs 1."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskRef(_Frozen):
    """A mention of a task id in the plan text (a dependency, a note's range).

    As a dependency, ``kind`` says which edge it makes: ``depends`` for one the
    plan states, ``sequential`` for an order the dialect implies (a spec-kit
    task without ``[P]`` waits for the tasks before it), with ``reason``.
    """

    id: str
    line: int
    column: int
    kind: Literal["depends", "sequential"] = "depends"
    reason: str = ""


class CodeBlock(_Frozen):
    """A fenced code block in a task's body (the shell executor runs these)."""

    info: str
    content: str
    line: int


class Task(_Frozen):
    """One plan task: a checkbox item with an id, e.g. ``- [ ] 1.2 Add the parser``."""

    id: str
    title: str
    phase_index: int
    line: int
    column: int
    checked: bool = False
    skipped: bool = False  # struck through or marked skipped in the plan itself
    body: str = ""
    depends_on: tuple[TaskRef, ...] = ()
    files: tuple[str, ...] = ()
    complexity: Complexity | None = None
    code_blocks: tuple[CodeBlock, ...] = ()

    @property
    def weight(self) -> int:
        """Slots the task occupies and its length on the critical path."""
        return COMPLEXITY_WEIGHTS[self.complexity] if self.complexity else 1

    @property
    def initial_status(self) -> TaskStatus:
        """Checked boxes start completed, as in the seed system; tasks the plan
        itself skips (struck through, ``[skip]``) start skipped."""
        if self.skipped:
            return SKIPPED
        return COMPLETED if self.checked else PENDING


class Phase(_Frozen):
    """A phase heading such as ``## Phase 3.1: Wire the CLI [SEQUENTIAL]``."""

    index: int
    number: int
    label: str
    title: str
    line: int
    sequential: bool = False
    parallel: bool = False  # `[PARALLEL]` in the heading: its tasks may share files
    task_ids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The phase as status.json names it: ``Phase 3: Title``."""
        return f"Phase {self.label}: {self.title}" if self.title else f"Phase {self.label}"


class ExecutionNote(_Frozen):
    """``**Execution Note:** Tasks 3.1-3.4 are [SEQUENTIAL] - reason`` (or
    ``[PARALLEL]``: the named tasks run together even where they share a file)."""

    task_range: str
    tasks: tuple[TaskRef, ...]
    reason: str
    line: int
    column: int
    kind: Literal["sequential", "parallel"] = "sequential"

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(ref.id for ref in self.tasks)


class Plan(_Frozen):
    """A whole plan: its phases, its tasks in document order, its execution notes."""

    path: str
    title: str
    dialect: str
    dialect_reason: str = ""  # why detection picked the dialect, or that `--format` forced it
    phases: tuple[Phase, ...]
    tasks: tuple[Task, ...]
    notes: tuple[ExecutionNote, ...] = ()

    @cached_property
    def task_by_id(self) -> dict[str, Task]:
        """Tasks by id; with duplicate ids (an invalid plan) the first one wins."""
        index: dict[str, Task] = {}
        for task in self.tasks:
            index.setdefault(task.id, task)
        return index

    def phase_of(self, task: Task) -> Phase:
        return self.phases[task.phase_index]

    def tasks_of(self, phase: Phase) -> list[Task]:
        return [self.task_by_id[task_id] for task_id in phase.task_ids]
