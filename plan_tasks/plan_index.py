"""A plan reduced to what `next`, `init` and marking need, as plain data.

Parsing a plan needs pydantic and markdown-it-py (0.2 s of imports alone);
answering ``next 5`` must not. A :class:`PlanIndex` holds the tasks, their
phases, graph predecessors, files, weights and execution-note metadata in
plain Python values, builds from a loaded plan, and round-trips through JSON so
``plan_tasks.plan_cache`` can keep it keyed by the plan's content hash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plan_tasks.load import LoadedPlan

FORMAT = 1  # bump when the shape below changes: old cache entries are then ignored


@dataclass(frozen=True)
class IndexedTask:
    id: str
    phase: int  # index into PlanIndex.phases
    description: str
    checked: bool
    files: tuple[str, ...]
    weight: int
    predecessors: tuple[str, ...]  # every task it waits for (depends, sequential, file)
    sequential_group: str | None = None  # the execution note's range, as written
    sequential_reason: str | None = None


@dataclass(frozen=True)
class IndexedPhase:
    number: int
    name: str  # "Phase N: Title", as status.json records it


@dataclass
class PlanIndex:
    title: str
    phases: list[IndexedPhase]
    tasks: list[IndexedTask]
    order: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.order = {task.id: position for position, task in enumerate(self.tasks)}

    def task(self, task_id: str) -> IndexedTask | None:
        position = self.order.get(task_id)
        return None if position is None else self.tasks[position]

    def phase_name(self, task: IndexedTask) -> str:
        return self.phases[task.phase].name

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "title": self.title,
            "phases": [asdict(phase) for phase in self.phases],
            "tasks": [asdict(task) for task in self.tasks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanIndex:
        if data.get("format") != FORMAT:
            raise ValueError("plan index of another format")
        return cls(
            title=data["title"],
            phases=[IndexedPhase(**phase) for phase in data["phases"]],
            tasks=[
                IndexedTask(**{**task, "files": tuple(task["files"]), "predecessors": tuple(task["predecessors"])})
                for task in data["tasks"]
            ],
        )


def build_index(loaded: LoadedPlan) -> PlanIndex:
    plan, graph = loaded.plan, loaded.graph
    note_of: dict[str, tuple[str, str]] = {}
    for note in plan.notes:
        for task_id in note.task_ids:
            note_of.setdefault(task_id, (note.task_range, note.reason))
    tasks = []
    for task in plan.task_by_id.values():
        group, reason = note_of.get(task.id, (None, None))
        tasks.append(IndexedTask(
            id=task.id,
            phase=task.phase_index,
            description=task.title,
            checked=task.checked,
            files=task.files,
            weight=task.weight,
            predecessors=tuple(graph.predecessors[task.id]),
            sequential_group=group,
            sequential_reason=reason,
        ))
    phases = [IndexedPhase(number=phase.number, name=phase.name) for phase in plan.phases]
    return PlanIndex(title=plan.title, phases=phases, tasks=tasks)
