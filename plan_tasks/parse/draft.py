"""Phases and tasks as a dialect collects them, turned into a :class:`Plan` at the end.

The dialects of this package that do not write ``## Phase N: Title`` (task
headings, Task Master, task tables, GSD plans) still have to give status.json
phase names the seed's ``next`` can read (``Phase\\s+(\\d+)``). This module
owns that rule, in one place:

* a group heading with a number (``Stage 2``, ``Wave 1``, ``Phase 1.5``) keeps
  it: number 2 (the part before a dot), label ``2``;
* when any group of the plan has no number (``Stream A``, a section such as
  ``## Execution Slices``, or no group at all), every phase is numbered by
  its position instead, 1, 2, 3, so numbers never collide;
* the title is the group's heading text as written (``Phase 2: Stage 2 (after
  Stage 1)``), or, for ``Phase N`` headings, what follows the number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from plan_tasks.model import ExecutionNote, Phase, Plan, Task, TaskRef


@dataclass
class PhaseDraft:
    """A phase being read: ``label`` is None when its group has no number."""

    label: str | None
    title: str
    line: int  # 1-based
    sequential: bool = False
    tasks: list[Task] = field(default_factory=list)


@dataclass
class PlanDraft:
    """What a dialect has read so far; :meth:`build` numbers the phases."""

    path: str
    dialect: str
    title: str | None = None
    phases: list[PhaseDraft] = field(default_factory=list)
    notes: list[ExecutionNote] = field(default_factory=list)

    @property
    def current_index(self) -> int:
        """The position of the phase tasks are added to now."""
        return len(self.phases) - 1

    def add_phase(self, label: str | None, title: str, line: int, sequential: bool = False) -> PhaseDraft:
        phase = PhaseDraft(label, title, line, sequential)
        self.phases.append(phase)
        return phase

    @property
    def task_count(self) -> int:
        return sum(len(phase.tasks) for phase in self.phases)

    def chain_note(self, task_ids: list[str], reason: str, line: int, column: int = 1) -> None:
        """Chain ``task_ids`` in document order, as an execution note would."""
        if len(task_ids) < 2:
            return
        refs = tuple(TaskRef(id=task_id, line=line, column=column) for task_id in task_ids)
        task_range = f"{task_ids[0]}-{task_ids[-1]}" if len(task_ids) > 2 else ", ".join(task_ids)
        self.notes.append(ExecutionNote(task_range=task_range, tasks=refs, reason=reason, line=line, column=column))

    def build(self) -> Plan:
        """The plan; tasks must carry their phase's position as ``phase_index``."""
        numbered = all(phase.label is not None for phase in self.phases)
        built_phases: list[Phase] = []
        tasks: list[Task] = []
        for index, draft in enumerate(self.phases):
            label = draft.label if numbered and draft.label is not None else str(index + 1)
            tasks.extend(draft.tasks)
            built_phases.append(Phase(
                index=index,
                number=int(label.split(".")[0]),
                label=label,
                title=draft.title,
                line=draft.line,
                sequential=draft.sequential,
                task_ids=tuple(task.id for task in draft.tasks),
            ))
        return Plan(
            path=self.path,
            title=self.title or PurePath(self.path).stem,
            dialect=self.dialect,
            phases=tuple(built_phases),
            tasks=tuple(tasks),
            notes=tuple(self.notes),
        )
