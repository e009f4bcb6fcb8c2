"""The frozen structure of a plan's tasks: what scheduling reads, with no edge
kinds, reasons or parsing behind it. ``plan_tasks.graph`` builds one from a
plan (with typed edges, as :class:`~plan_tasks.graph.PlanGraph`);
``PlanIndex.task_graph`` from the cached index that `next` reads. Nothing
heavy is imported here: `next` loads this module on every call.

Its walks: :meth:`TaskGraph.sorter` (the one ready-set rule), ``levels``
(``show``'s groups), ``remaining_weights`` (the remaining critical weight by
which `next` and the run hand out ready tasks) and ``critical_path``.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from types import MappingProxyType

from plan_tasks.sorter import TaskSorter


class FrozenGraphError(TypeError):
    """Raised on any attempt to change a graph after it was built."""


class TaskGraph:
    """Tasks in plan order with their phase and weight, and who waits for whom:
    all that scheduling reads. Frozen once built: the mappings are read-only
    views and no attribute can be set, so sorters, the run's threads and the
    plan cache share one graph, and what is derived from it can be kept."""

    def __init__(self, task_ids: Sequence[str], phase_of: Mapping[str, int], weight: Mapping[str, int],
                 phase_count: int, predecessors: Mapping[str, Iterable[str]]) -> None:
        """``predecessors``: for each task, the tasks it waits for (a task not named waits for none)."""
        ids = tuple(task_ids)
        waits_for = {task_id: tuple(predecessors.get(task_id, ())) for task_id in ids}
        successors: dict[str, list[str]] = {task_id: [] for task_id in ids}
        for task_id, upstream_ids in waits_for.items():
            for upstream in upstream_ids:
                successors[upstream].append(task_id)
        self._set(
            task_ids=ids,
            order=MappingProxyType({task_id: position for position, task_id in enumerate(ids)}),
            phase_of=MappingProxyType(dict(phase_of)),
            weight=MappingProxyType(dict(weight)),
            phase_count=phase_count,
            predecessors=MappingProxyType(waits_for),
            successors=MappingProxyType({task_id: tuple(after) for task_id, after in successors.items()}),
            _derived={},  # what is computed once from the frozen structure (a topological order)
        )

    task_ids: tuple[str, ...]
    order: Mapping[str, int]
    phase_of: Mapping[str, int]
    weight: Mapping[str, int]
    phase_count: int
    predecessors: Mapping[str, tuple[str, ...]]
    successors: Mapping[str, tuple[str, ...]]
    _derived: dict[str, object]

    def _set(self, **attributes: object) -> None:
        for name, value in attributes.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenGraphError(f"the graph is frozen once built; cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise FrozenGraphError(f"the graph is frozen once built; cannot delete {name}")

    def __reduce__(self) -> tuple[object, ...]:
        # Read-only views do not pickle: a copy (pickle, deepcopy, a process pool) is built anew.
        return type(self), (self.task_ids, dict(self.phase_of), dict(self.weight), self.phase_count,
                            dict(self.predecessors))

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

    def sorter(self, phase_gate: float = 1.0, finished: Iterable[str] = (), *,
               candidates: Iterable[str] | None = None, ungated: Iterable[str] = ()) -> TaskSorter:
        """A :class:`~plan_tasks.sorter.TaskSorter` of this graph (see there for the arguments)."""
        return TaskSorter(self, phase_gate, finished, candidates=candidates, ungated=ungated)

    def levels(self, phase_gate: float = 1.0, finished: Iterable[str] = ()) -> list[list[str]]:
        """Waves of tasks that can run together, each after the one before."""
        sorter = self.sorter(phase_gate, finished)
        waves = []
        while batch := sorter.get_ready():
            waves.append(list(batch))
            sorter.done(*batch)
        return waves

    def remaining_weights(self, finished: Container[str] = ()) -> dict[str, int]:
        """For each task, the weight of the heaviest chain of unfinished tasks it
        starts (its own weight counts unless it is finished): the remaining
        critical weight by which `next` and the run hand out ready tasks."""
        weights: dict[str, int] = {}
        successors, weight = self.successors, self.weight
        for task_id in reversed(self._topological_order()):
            own = 0 if task_id in finished else weight[task_id]
            weights[task_id] = own + max((weights[after] for after in successors[task_id]), default=0)
        return weights

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

    def _topological_order(self) -> tuple[str, ...]:
        """Every task after the tasks it waits for (plan order where that is one). Needs no cycle."""
        known = self._derived.get("topological")
        if known is None:
            known = self._derived["topological"] = _topological_order(self)
        return known  # type: ignore[return-value]


def _topological_order(graph: TaskGraph) -> tuple[str, ...]:
    """Every task after those it waits for. Tasks nearly always wait only for tasks
    above them, so plan order is tried first; else a depth-first post-order."""
    position = graph.order
    if all(position[upstream] < position[task_id]
           for task_id in graph.task_ids for upstream in graph.predecessors[task_id]):
        return graph.task_ids
    entered: set[str] = set()  # a cycle (an invalid plan) then ends the walk instead of looping
    order: list[str] = []
    for root in graph.task_ids:
        # Iterative: plans of 10,000 tasks are deeper than Python's recursion limit.
        stack = [(root, False)]
        while stack:
            task_id, expanded = stack.pop()
            if expanded:
                order.append(task_id)
                continue
            if task_id in entered:
                continue
            entered.add(task_id)
            stack.append((task_id, True))
            stack.extend((upstream, False) for upstream in graph.predecessors[task_id] if upstream not in entered)
    return tuple(order)
