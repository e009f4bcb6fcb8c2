"""The dependency graph of a plan: typed edges, cycles, ready sets, levels,
the remaining critical weights and the critical path. No business logic lives
here beyond what an edge means. A graph is frozen once built: nothing can add
an edge to it or change a mapping of it afterwards.

Edges run from the task that must finish first (``source``) to the task that
waits (``target``), each with its kind and the reason a user can read:

* ``depends``: an explicit ``Depends on: 1.2``;
* ``sequential``: an execution note or a ``[SEQUENTIAL]`` phase, chained in
  document order;
* ``file``: two tasks of one phase name the same file; the later one waits,
  unless a ``[PARALLEL]`` note or phase says they run together: then the
  pair is kept in ``overrides`` with the reason, for ``show`` and ``graph``.

Phase order is not stored as task-to-task edges (that would be quadratic); it
is a gate applied while scheduling: a task of phase k may start once every
earlier phase has finished at least ``phase_gate`` of its tasks (1.0 is strict
phase order, the seed's default is 0.8, 0 means dependencies only). The API
follows :mod:`graphlib`: build, then ``get_ready()`` / ``done()`` in a loop of
the graph's :class:`~plan_tasks.sorter.TaskSorter`, the one ready-set rule
that ``next``, ``show`` and the run's scheduler are layers on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

# TaskGraph (the frozen structure) and TaskSorter (the ready-set rule) are this module's API too.
from plan_tasks.sorter import TaskSorter
from plan_tasks.task_graph import FrozenGraphError, TaskGraph

__all__ = ["EDGE_KINDS", "Edge", "EdgeKind", "FrozenGraphError", "Override", "PlanGraph", "TaskGraph", "TaskSorter",
           "build_graph"]

if TYPE_CHECKING:
    from plan_tasks.model import Phase, Plan

EdgeKind = Literal["depends", "sequential", "file"]
EDGE_KINDS: tuple[EdgeKind, ...] = ("depends", "sequential", "file")


@dataclass(frozen=True)
class Override:
    """A file-conflict edge a ``[PARALLEL]`` note or phase took away, and why."""

    source: str
    target: str
    path: str
    reason: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    reason: str
    line: int  # where the plan declares it
    column: int


class PlanGraph(TaskGraph):
    """A plan's :class:`TaskGraph` with its typed edges and the file conflicts a
    ``[PARALLEL]`` note or phase overrode. Built by :func:`build_graph`."""

    def __init__(self, task_ids: Sequence[str], phase_of: Mapping[str, int], weight: Mapping[str, int],
                 phase_count: int, edges: Iterable[Edge] = (), overrides: Iterable[Override] = ()) -> None:
        """Of several edges joining one pair the first is kept (its reason wins); self-edges are dropped."""
        kept: dict[tuple[str, str], Edge] = {}
        for edge in edges:
            if edge.source != edge.target:
                kept.setdefault((edge.source, edge.target), edge)
        predecessors: dict[str, list[str]] = {}
        for source, target in kept:
            predecessors.setdefault(target, []).append(source)
        super().__init__(task_ids, phase_of, weight, phase_count, predecessors)
        self._set(_edges=MappingProxyType(kept), overrides=tuple(overrides))

    _edges: Mapping[tuple[str, str], Edge]
    overrides: tuple[Override, ...]

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.task_ids, dict(self.phase_of), dict(self.weight), self.phase_count,
                            self.edges, self.overrides)

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges.values())

    def edge(self, source: str, target: str) -> Edge | None:
        return self._edges.get((source, target))

    def held_files(self, files: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """The files each task holds while it runs: its own, less those a
        ``[PARALLEL]`` override lets it share (with the other task of the pair)."""
        shared: dict[str, set[str]] = {}
        for override in self.overrides:
            shared.setdefault(override.source, set()).add(override.path)
            shared.setdefault(override.target, set()).add(override.path)
        return {
            task_id: tuple(path for path in paths if path not in shared.get(task_id, ()))
            for task_id, paths in files.items()
        }

def build_graph(plan: Plan) -> PlanGraph:
    """Edges from the plan's dependencies, execution notes, sequential phases and
    shared files. Unknown ids are skipped here; ``plan_tasks.check`` reports them."""
    tasks = list(plan.task_by_id.values())  # with duplicate ids, the first one counts
    known = {task.id: position for position, task in enumerate(tasks)}
    edges: list[Edge] = []
    overrides: list[Override] = []
    for task in tasks:
        for ref in task.depends_on:
            if ref.id in known:
                reason = ref.reason or f"{task.id} depends on {ref.id}"
                edges.append(Edge(ref.id, task.id, ref.kind, reason, ref.line, ref.column))
    together: dict[str, list[tuple[frozenset[str], str]]] = {}  # task -> [PARALLEL] groups it is in
    for note in plan.notes:
        ids = {ref.id for ref in note.tasks if ref.id in known}
        reason = f"execution note: {note.reason}" if note.reason else "execution note"
        if note.kind == "parallel":
            for task_id in ids:
                together.setdefault(task_id, []).append((frozenset(ids), reason))
            continue
        edges += _chain(sorted(ids, key=known.__getitem__), "sequential", reason, note.line, note.column)
    for phase in plan.phases:
        if phase.sequential:
            edges += _chain(list(phase.task_ids), "sequential", "[SEQUENTIAL] phase", phase.line, 1)
        if phase.parallel:
            for task_id in phase.task_ids:
                together.setdefault(task_id, []).append((frozenset(phase.task_ids), "[PARALLEL] phase"))
        _add_file_edges(edges, overrides, plan, phase, together)
    return PlanGraph(
        [task.id for task in tasks],
        {task.id: task.phase_index for task in tasks},
        {task.id: task.weight for task in tasks},
        len(plan.phases),
        edges,
        overrides,
    )


def _add_file_edges(edges: list[Edge], overrides: list[Override], plan: Plan, phase: Phase,
                    together: dict[str, list[tuple[frozenset[str], str]]]) -> None:
    """The later of two tasks of a phase naming one file waits, unless they run together."""
    holders: dict[str, str] = {}
    for task in plan.tasks_of(phase):
        for path in task.files:
            earlier = holders.get(path)
            if earlier is not None:
                allowed = next((reason for group, reason in together.get(task.id, ()) if earlier in group), None)
                if allowed is not None:
                    overrides.append(Override(earlier, task.id, path, allowed))
                else:
                    edges.append(Edge(earlier, task.id, "file", f"both touch {path}", task.line, task.column))
            holders[path] = task.id


def _chain(chain: list[str], kind: EdgeKind, reason: str, line: int, column: int) -> list[Edge]:
    return [Edge(earlier, later, kind, reason, line, column) for earlier, later in zip(chain, chain[1:])]
