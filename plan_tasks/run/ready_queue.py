"""The ready tasks of a run, in hand-out order, for the scheduler's takes.

Hand-out order is heaviest remaining chain first, then plan order. A take
must look only at the tasks it can start, not at every ready one, or a
10,000-task run at phase gate 0 (thousands ready at once) turns quadratic:

* each task sits in two heaps of its slot weight, its phase's and the run's,
  so a take of one phase or of all reads at most one heap head per weight,
  and a weight that does not fit the free slots is not read at all;
* a task whose file a running task holds is parked on that file until it is
  freed, instead of being passed over on every take.

A heap entry is valid while its task's generation is the one it was pushed
with; starting, settling or parking a task ends it, so the entry's copy in the
other heap needs no search: it is dropped when it comes up.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping

Entry = tuple[int, int, str, int]  # (-remaining weight, plan position, task id, generation)


class ReadyQueue:
    """Not thread-safe: the scheduler holds its lock around every call."""

    def __init__(self, order: Mapping[str, int], priority: Mapping[str, int], phase_of: Mapping[str, int],
                 slots_of: Callable[[str], int]) -> None:
        self._order, self._priority, self._phase_of, self._slots_of = order, priority, phase_of, slots_of
        self._by_phase: dict[int, dict[int, list[Entry]]] = {}  # phase -> slot weight -> heap
        self._all: dict[int, list[Entry]] = {}  # slot weight -> heap, every phase
        self._generation: dict[str, int] = {}  # queued task -> the generation of its valid entries
        self._generations = itertools.count()
        self._parked: dict[str, list[str]] = {}  # busy path -> tasks parked on it
        self._parked_in: dict[int, set[str]] = {}  # phase -> its parked tasks

    def push(self, task_id: str) -> None:
        """``task_id`` is ready (again)."""
        generation = self._generation[task_id] = next(self._generations)
        entry = (-self._priority[task_id], self._order[task_id], task_id, generation)
        weight = self._slots_of(task_id)
        heapq.heappush(self._by_phase.setdefault(self._phase_of[task_id], {}).setdefault(weight, []), entry)
        heapq.heappush(self._all.setdefault(weight, []), entry)

    def discard(self, task_id: str) -> None:
        """``task_id`` is not ready any more (started, or settled without running)."""
        self._generation.pop(task_id, None)
        self._parked_in.get(self._phase_of[task_id], set()).discard(task_id)

    def park(self, task_id: str, path: str) -> None:
        """``task_id`` waits for ``path``, which a running task holds: see :meth:`unpark`."""
        self._generation.pop(task_id, None)
        self._parked.setdefault(path, []).append(task_id)
        self._parked_in.setdefault(self._phase_of[task_id], set()).add(task_id)

    def unpark(self, path: str) -> None:
        """``path`` is free: the tasks parked on it are ready again."""
        for task_id in self._parked.pop(path, ()):
            parked = self._parked_in[self._phase_of[task_id]]
            if task_id in parked:  # else started or settled meanwhile
                parked.discard(task_id)
                self.push(task_id)

    def has_ready(self, phase: int) -> bool:
        """Whether ``phase`` has a ready task, parked or not."""
        if self._parked_in.get(phase):
            return True
        for heap in self._by_phase.get(phase, {}).values():
            while heap and self._generation.get(heap[0][2]) != heap[0][3]:
                heapq.heappop(heap)  # stale
            if heap:
                return True
        return False

    def scan(self, phase: int | None, room: Callable[[], int], visit: Callable[[str], bool]) -> None:
        """Visit the ready tasks of ``phase`` (None: of every phase) in hand-out order,
        those of slot weights up to ``room()``, until ``visit`` returns False.

        The visitor starts a task (:meth:`discard`), parks it, or leaves it: a task
        left goes back, and no more of its weight is visited in this scan (what
        leaves one, that it needs more slots than are free, holds for them all).
        """
        heaps = self._all if phase is None else self._by_phase.get(phase, {})
        heads = [(heap[0], weight, heap) for weight, heap in heaps.items() if heap and weight <= room()]
        heapq.heapify(heads)
        left: list[tuple[list[Entry], Entry]] = []
        try:
            while heads:
                entry, weight, heap = heapq.heappop(heads)
                heapq.heappop(heap)
                task_id, generation = entry[2], entry[3]
                keep_going = True
                if self._generation.get(task_id) == generation:
                    keep_going = visit(task_id)
                    if self._generation.get(task_id) == generation:
                        left.append((heap, entry))
                        if keep_going:
                            continue
                if not keep_going:
                    break
                if heap and weight <= room():
                    heapq.heappush(heads, (heap[0], weight, heap))
        finally:
            for heap, entry in left:
                heapq.heappush(heap, entry)
