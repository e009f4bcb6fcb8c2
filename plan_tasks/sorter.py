"""The one ready-set rule: which tasks of a graph may start, as others finish.

:class:`TaskSorter` speaks :mod:`graphlib`'s verbs: ``get_ready()`` hands out
the tasks that became ready (each once, in plan order), ``done()`` finishes
tasks it handed out, ``is_active()`` says whether any task is ready or out. A
task is ready when:

* it is a candidate: not finished at the start and, when ``candidates`` are
  named, one of them (`next` names pending tasks and failed ones with retries
  left; the run, the tasks it runs);
* every task it waits for is finished, at the start or by ``done()``;
* its phase is open: every earlier phase has at least ``phase_gate`` of its
  tasks settled, that is finished or given up by ``abandon()`` (1.0 is strict
  phase order, 0.8 the seed's, 0 dependencies only). A task named ``ungated``
  is not held by the gate: `next` names failed tasks being retried, whose
  phase opened when they first ran.

``abandon()`` settles tasks that end without finishing (a failure, a skip, a
stopped run): they count toward the gate, so that one failure does not stall
the rest of the plan, but whatever waits for them never becomes ready.

The layers on it: ``next --policy ready`` (``plan_tasks.select.ready``: file
conflicts and the retry budget), ``show``'s groups (``TaskGraph.levels``) and
the run's scheduler (``plan_tasks.run.scheduler``: slots, file locks, priority).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plan_tasks.graph import TaskGraph


class TaskSorter:
    """Ready sets of one graph under one phase gate; not thread-safe (the scheduler locks)."""

    def __init__(self, graph: TaskGraph, phase_gate: float, finished: Iterable[str] = (), *,
                 candidates: Iterable[str] | None = None, ungated: Iterable[str] = ()) -> None:
        if not 0.0 <= phase_gate <= 1.0:
            raise ValueError(f"phase gate must be between 0 and 1, not {phase_gate}")
        self._graph = graph
        self._finished: set[str] = set(finished)
        self._abandoned: set[str] = set()
        self._candidates = None if candidates is None else set(candidates)
        self._ungated = set(ungated)
        sizes = [0] * graph.phase_count
        self._phase_settled = [0] * graph.phase_count
        for task_id in graph.task_ids:
            sizes[graph.phase_of[task_id]] += 1
            if task_id in self._finished:
                self._phase_settled[graph.phase_of[task_id]] += 1
        self._phase_sizes = sizes
        # Tasks a phase needs settled before later phases open (1e-9: 0.8 * 5 is 4.000000000000001).
        self._phase_needs = [math.ceil(phase_gate * size - 1e-9) for size in sizes]
        self._open_through = -1  # every phase up to this index is open
        self._held: dict[int, list[str]] = {}  # phase -> tasks that wait only for it to open
        self._ready: dict[str, None] = {}  # ready, not handed out yet (a dict: ordered, O(1) removal)
        self._handed_out: set[str] = set()
        self._out = 0  # handed out and neither done nor abandoned
        finished_now = self._finished
        self._waiting = {
            task_id: sum(1 for upstream in graph.predecessors[task_id] if upstream not in finished_now)
            for task_id in graph.task_ids
            if task_id not in finished_now
        }
        for task_id, count in self._waiting.items():
            if count == 0:
                self._release(task_id)
        self._advance_phases()

    # -- graphlib's verbs --------------------------------------------------

    def get_ready(self) -> tuple[str, ...]:
        """Tasks ready now and not returned before, in plan order."""
        ready = sorted(self._ready, key=self._graph.order.__getitem__)
        self._ready = {}
        self._handed_out.update(ready)
        self._out += len(ready)
        return tuple(ready)

    def done(self, *task_ids: str) -> None:
        """Tasks handed out by ``get_ready()`` finished: what waits for them may become ready."""
        graph = self._graph
        for task_id in task_ids:
            if task_id not in self._handed_out or task_id in self._finished or task_id in self._abandoned:
                raise ValueError(f"task {task_id} was not handed out by get_ready() or is already done")
            self._finished.add(task_id)
            self._out -= 1
            self._phase_settled[graph.phase_of[task_id]] += 1
            for downstream in graph.successors[task_id]:
                if downstream not in self._waiting:
                    continue  # finished from the start (a task checked before its predecessor)
                self._waiting[downstream] -= 1
                if self._waiting[downstream] == 0:
                    self._release(downstream)
        self._advance_phases()

    def abandon(self, *task_ids: str) -> None:
        """Tasks that end without finishing, handed out or not: they count toward
        the phase gate, and will not be handed out; what waits for them waits on."""
        for task_id in task_ids:
            if task_id in self._finished or task_id in self._abandoned:
                raise ValueError(f"task {task_id} is already done or abandoned")
            self._abandoned.add(task_id)
            if task_id in self._handed_out:
                self._out -= 1
            else:
                self._ready.pop(task_id, None)
            self._phase_settled[self._graph.phase_of[task_id]] += 1
        self._advance_phases()

    def is_active(self) -> bool:
        """True while some task is ready, or handed out and not yet done or abandoned."""
        return bool(self._ready) or self._out > 0

    # -- questions the layers ask --------------------------------------------

    def phase_open(self, phase: int) -> bool:
        """Whether the gate lets ``phase``'s tasks start (dependencies aside)."""
        return phase <= self._open_through

    def phase_settled(self, phase: int) -> bool:
        """Whether every task of ``phase`` is finished or abandoned."""
        return self._phase_settled[phase] == self._phase_sizes[phase]

    def waits_for(self, task_id: str) -> list[str]:
        """The tasks ``task_id`` still waits for (not finished), in the graph's order."""
        return [upstream for upstream in self._graph.predecessors[task_id] if upstream not in self._finished]

    # -- internals -----------------------------------------------------------

    def _release(self, task_id: str) -> None:
        """``task_id`` waits for no task any more: ready, or held until its phase opens."""
        if task_id in self._abandoned or (self._candidates is not None and task_id not in self._candidates):
            return
        phase = self._graph.phase_of[task_id]
        if phase <= self._open_through or task_id in self._ungated:
            self._ready[task_id] = None
        else:
            self._held.setdefault(phase, []).append(task_id)

    def _advance_phases(self) -> None:
        count = self._graph.phase_count
        while self._open_through + 1 < count:
            next_phase = self._open_through + 1
            if next_phase > 0 and self._phase_settled[next_phase - 1] < self._phase_needs[next_phase - 1]:
                break
            self._open_through = next_phase
            for task_id in self._held.pop(next_phase, ()):
                if task_id not in self._abandoned:
                    self._ready[task_id] = None
