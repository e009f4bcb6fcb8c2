"""The dependency graph of a plan: typed edges, cycles, ready sets, levels and
the critical path. No business logic lives here beyond what an edge means.

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
follows :mod:`graphlib`: build, then ``get_ready()`` / ``done()`` in a loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

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


class PlanGraph:
    """Tasks (in plan order) with their phase, weight and typed edges."""

    def __init__(self, task_ids: Sequence[str], phase_of: dict[str, int], weight: dict[str, int], phase_count: int) -> None:
        self.task_ids = list(task_ids)
        self.order = {task_id: position for position, task_id in enumerate(self.task_ids)}
        self.phase_of = phase_of
        self.weight = weight
        self.phase_count = phase_count
        self.predecessors: dict[str, list[str]] = {task_id: [] for task_id in self.task_ids}
        self.successors: dict[str, list[str]] = {task_id: [] for task_id in self.task_ids}
        self._edges: dict[tuple[str, str], Edge] = {}
        self.overrides: list[Override] = []

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges.values())

    def edge(self, source: str, target: str) -> Edge | None:
        return self._edges.get((source, target))

    def add_edge(self, edge: Edge) -> bool:
        """Add an edge unless one already joins the pair (the first reason wins)."""
        key = (edge.source, edge.target)
        if key in self._edges or edge.source == edge.target:
            return False
        self._edges[key] = edge
        self.successors[edge.source].append(edge.target)
        self.predecessors[edge.target].append(edge.source)
        return True

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

    def find_cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, ..., a]`` where each task waits for the next, or None."""
        state = dict.fromkeys(self.task_ids, 0)  # 0 new, 1 on the stack, 2 finished
        for root in self.task_ids:
            if state[root]:
                continue
            stack = [(root, iter(self.predecessors[root]))]
            path = [root]
            state[root] = 1
            while stack:
                node, waits_for = stack[-1]
                upstream = next(waits_for, None)
                if upstream is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                elif state[upstream] == 1:
                    return path[path.index(upstream):] + [upstream]
                elif state[upstream] == 0:
                    state[upstream] = 1
                    stack.append((upstream, iter(self.predecessors[upstream])))
                    path.append(upstream)
        return None

    def sorter(self, phase_gate: float = 1.0, finished: Iterable[str] = ()) -> TaskSorter:
        return TaskSorter(self, phase_gate, finished)

    def levels(self, phase_gate: float = 1.0, finished: Iterable[str] = ()) -> list[list[str]]:
        """Waves of tasks that can run together, each after the one before."""
        sorter = self.sorter(phase_gate, finished)
        waves = []
        while batch := sorter.get_ready():
            waves.append(list(batch))
            sorter.done(*batch)
        return waves

    def critical_path(self, phase_gate: float = 1.0, finished: Iterable[str] = ()) -> tuple[list[str], int]:
        """The heaviest chain of unfinished tasks, and its total weight.

        Any gate above 0 is treated as strict phase order: statically, "80% of
        the previous phase" cannot say which tasks finish first.
        """
        strict = phase_gate > 0
        end_at: dict[str, int] = {}
        came_from: dict[str, str | None] = {}
        phase_best: list[tuple[int, str | None]] = [(0, None)] * (self.phase_count + 1)
        barrier: tuple[int, str | None] = (0, None)
        barrier_phase = 0
        for wave in self.levels(1.0 if strict else 0.0, finished):
            for task_id in wave:
                phase = self.phase_of[task_id]
                start, previous = (0, None)
                if strict:
                    while barrier_phase < phase:
                        barrier = max(barrier, phase_best[barrier_phase], key=lambda item: item[0])
                        barrier_phase += 1
                    start, previous = barrier
                for upstream in self.predecessors[task_id]:
                    if upstream in end_at and end_at[upstream] > start:
                        start, previous = end_at[upstream], upstream
                end_at[task_id] = start + self.weight[task_id]
                came_from[task_id] = previous
                if end_at[task_id] > phase_best[phase][0]:
                    phase_best[phase] = (end_at[task_id], task_id)
        if not end_at:
            return [], 0
        last = max(end_at, key=lambda task_id: (end_at[task_id], -self.order[task_id]))
        path: list[str] = []
        cursor: str | None = last
        while cursor is not None:
            path.append(cursor)
            cursor = came_from[cursor]
        return path[::-1], end_at[last]


class TaskSorter:
    """graphlib-style ready sets: ``get_ready()`` returns tasks whose
    predecessors are finished and whose phase is open under the gate;
    ``done()`` finishes tasks returned earlier."""

    def __init__(self, graph: PlanGraph, phase_gate: float, finished: Iterable[str]) -> None:
        if not 0.0 <= phase_gate <= 1.0:
            raise ValueError(f"phase gate must be between 0 and 1, not {phase_gate}")
        self._graph = graph
        self._finished: set[str] = set(finished)
        sizes = [0] * graph.phase_count
        self._phase_finished = [0] * graph.phase_count
        for task_id in graph.task_ids:
            sizes[graph.phase_of[task_id]] += 1
            if task_id in self._finished:
                self._phase_finished[graph.phase_of[task_id]] += 1
        # Tasks a phase needs finished before later phases open (1e-9: 0.8 * 5 is 4.000000000000001).
        self._phase_needs = [math.ceil(phase_gate * size - 1e-9) for size in sizes]
        self._open_through = -1  # every phase up to this index is open
        self._held: dict[int, list[str]] = {}
        self._ready: list[str] = []
        self._handed_out: set[str] = set()
        self._waiting = {
            task_id: sum(1 for upstream in graph.predecessors[task_id] if upstream not in self._finished)
            for task_id in graph.task_ids
            if task_id not in self._finished
        }
        for task_id, count in self._waiting.items():
            if count == 0:
                self._release(task_id)
        self._advance_phases()

    def get_ready(self) -> tuple[str, ...]:
        """Tasks ready now and not returned before, in plan order."""
        ready = sorted(self._ready, key=self._graph.order.__getitem__)
        self._ready = []
        self._handed_out.update(ready)
        return tuple(ready)

    def done(self, *task_ids: str) -> None:
        graph = self._graph
        for task_id in task_ids:
            if task_id not in self._handed_out or task_id in self._finished:
                raise ValueError(f"task {task_id} was not handed out by get_ready() or is already done")
            self._finished.add(task_id)
            self._phase_finished[graph.phase_of[task_id]] += 1
            for downstream in graph.successors[task_id]:
                if downstream not in self._waiting:
                    continue  # finished from the start (a task checked before its predecessor)
                self._waiting[downstream] -= 1
                if self._waiting[downstream] == 0:
                    self._release(downstream)
        self._advance_phases()

    def is_active(self) -> bool:
        """True while some task is ready, or handed out and not yet done."""
        return bool(self._ready) or bool(self._handed_out - self._finished)

    def _release(self, task_id: str) -> None:
        phase = self._graph.phase_of[task_id]
        if phase <= self._open_through:
            self._ready.append(task_id)
        else:
            self._held.setdefault(phase, []).append(task_id)

    def _advance_phases(self) -> None:
        count = self._graph.phase_count
        while self._open_through + 1 < count:
            next_phase = self._open_through + 1
            if next_phase > 0 and self._phase_finished[next_phase - 1] < self._phase_needs[next_phase - 1]:
                break
            self._open_through = next_phase
            self._ready.extend(self._held.pop(next_phase, []))


def build_graph(plan: Plan) -> PlanGraph:
    """Edges from the plan's dependencies, execution notes, sequential phases and
    shared files. Unknown ids are skipped here; ``plan_tasks.check`` reports them."""
    tasks = list(plan.task_by_id.values())  # with duplicate ids, the first one counts
    graph = PlanGraph(
        [task.id for task in tasks],
        {task.id: task.phase_index for task in tasks},
        {task.id: task.weight for task in tasks},
        len(plan.phases),
    )
    known = graph.order
    for task in tasks:
        for ref in task.depends_on:
            if ref.id in known:
                reason = ref.reason or f"{task.id} depends on {ref.id}"
                graph.add_edge(Edge(ref.id, task.id, ref.kind, reason, ref.line, ref.column))
    together: dict[str, list[tuple[frozenset[str], str]]] = {}  # task -> [PARALLEL] groups it is in
    for note in plan.notes:
        ids = {ref.id for ref in note.tasks if ref.id in known}
        reason = f"execution note: {note.reason}" if note.reason else "execution note"
        if note.kind == "parallel":
            for task_id in ids:
                together.setdefault(task_id, []).append((frozenset(ids), reason))
            continue
        _chain(graph, sorted(ids, key=known.__getitem__), "sequential", reason, note.line, note.column)
    for phase in plan.phases:
        if phase.sequential:
            _chain(graph, list(phase.task_ids), "sequential", "[SEQUENTIAL] phase", phase.line, 1)
        if phase.parallel:
            for task_id in phase.task_ids:
                together.setdefault(task_id, []).append((frozenset(phase.task_ids), "[PARALLEL] phase"))
        _add_file_edges(graph, plan, phase, together)
    return graph


def _add_file_edges(graph: PlanGraph, plan: Plan, phase: Phase, together: dict[str, list[tuple[frozenset[str], str]]]) -> None:
    """The later of two tasks of a phase naming one file waits, unless they run together."""
    holders: dict[str, str] = {}
    for task in plan.tasks_of(phase):
        for path in task.files:
            earlier = holders.get(path)
            if earlier is not None:
                allowed = next((reason for group, reason in together.get(task.id, ()) if earlier in group), None)
                if allowed is not None:
                    graph.overrides.append(Override(earlier, task.id, path, allowed))
                else:
                    graph.add_edge(Edge(earlier, task.id, "file", f"both touch {path}", task.line, task.column))
            holders[path] = task.id


def _chain(graph: PlanGraph, chain: list[str], kind: EdgeKind, reason: str, line: int, column: int) -> None:
    for earlier, later in zip(chain, chain[1:]):
        graph.add_edge(Edge(earlier, later, kind, reason, line, column))
