"""A plan reduced to what `next`, `init` and marking need, as plain data.

Parsing a plan needs pydantic and markdown-it-py (0.2 s of imports alone);
answering ``next 5`` must not. A :class:`PlanIndex` holds the tasks, their
phases, graph predecessors, files, weights and execution-note metadata in
plain Python values, builds from a loaded plan, and round-trips through JSON so
``plan_tasks.plan_cache`` can keep it keyed by the plan's content hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from plan_tasks.task_graph import TaskGraph

if TYPE_CHECKING:
    from plan_tasks.load import LoadedPlan

FORMAT = 3  # bump when the shape below changes: old cache entries are then ignored


class IndexedTask(NamedTuple):
    id: str
    phase: int  # index into PlanIndex.phases
    description: str
    checked: bool
    files: tuple[str, ...]
    weight: int
    predecessors: tuple[str, ...]  # every task it waits for (depends, sequential, file)
    sequential_group: str | None = None  # the execution note's range, as written
    sequential_reason: str | None = None
    skipped: bool = False  # the plan itself skips it (struck through, `[skip]`)
    held_files: tuple[str, ...] | None = None  # files it holds while running, when a [PARALLEL] override frees some


class IndexedPhase(NamedTuple):
    number: int
    name: str  # "Phase N: Title", as status.json records it


class PlanIndex:
    """The plan as `next` needs it. Stored as JSON rows (a task is the list of its
    fields, in order), which load without a key lookup per field."""

    def __init__(self, title: str, phases: list[IndexedPhase], tasks: list[IndexedTask], dialect: str = "seed") -> None:
        self.title = title
        self.phases = phases
        self.tasks = tasks
        self.dialect = dialect  # the plan format it was read in
        self.order = {task.id: position for position, task in enumerate(tasks)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlanIndex):
            return NotImplemented
        mine = (self.title, self.dialect, self.phases, self.tasks)
        return mine == (other.title, other.dialect, other.phases, other.tasks)

    def __repr__(self) -> str:
        return f"PlanIndex(title={self.title!r}, phases={len(self.phases)}, tasks={len(self.tasks)})"

    def task(self, task_id: str) -> IndexedTask | None:
        position = self.order.get(task_id)
        return None if position is None else self.tasks[position]

    def task_graph(self) -> TaskGraph:
        """The plan's dependency structure, for the ready-set rule and the critical weights."""
        tasks = self.tasks
        return TaskGraph([task.id for task in tasks], {task.id: task.phase for task in tasks},
                         {task.id: task.weight for task in tasks}, len(self.phases),
                         {task.id: task.predecessors for task in tasks})

    def phase_name(self, task: IndexedTask) -> str:
        return self.phases[task.phase].name

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "title": self.title, "dialect": self.dialect, "phases": self.phases,
                "tasks": self.tasks}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanIndex:
        if data.get("format") != FORMAT:
            raise ValueError("plan index of another format")
        return cls(
            title=data["title"],
            phases=[IndexedPhase(*phase) for phase in data["phases"]],
            tasks=[_task_from_row(*row) for row in data["tasks"]],
            dialect=data["dialect"],
        )


def _task_from_row(task_id: str, phase: int, description: str, checked: bool, files: list[str], weight: int,
                   predecessors: list[str], sequential_group: str | None, sequential_reason: str | None,
                   skipped: bool, held_files: list[str] | None) -> IndexedTask:
    return IndexedTask(task_id, phase, description, checked, tuple(files), weight, tuple(predecessors),
                       sequential_group, sequential_reason, skipped, None if held_files is None else tuple(held_files))


def build_index(loaded: LoadedPlan) -> PlanIndex:
    plan, graph = loaded.plan, loaded.graph
    note_of: dict[str, tuple[str, str]] = {}
    for note in plan.notes:
        for task_id in note.task_ids:
            note_of.setdefault(task_id, (note.task_range, note.reason))
    held = graph.held_files({task.id: task.files for task in plan.task_by_id.values()})
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
            skipped=task.skipped,
            held_files=held[task.id] if held[task.id] != task.files else None,
        ))
    phases = [IndexedPhase(number=phase.number, name=phase.name) for phase in plan.phases]
    return PlanIndex(title=plan.title, phases=phases, tasks=tasks, dialect=plan.dialect)
