"""Which plan tasks may start now, during a run. Thread-safe; knows no Prefect.

The Prefect flow (``plan_tasks.compile``) asks :meth:`RunScheduler.take` for
tasks to submit and reports each end with :meth:`RunScheduler.finish`. A task
is handed out only when:

* every task it waits for (graph predecessors) completed or was skipped;
* its phase is open: every earlier phase has at least ``phase_gate`` of its
  tasks settled (completed, skipped or failed: a failure must not stall the
  rest of the plan, its dependants are skipped instead);
* enough of the ``max_parallel`` slots are free for its weight
  (CRITICAL 3, HIGH 2, else 1);
* no running task names one of its files.

Ready tasks go out heaviest remaining chain first, then in plan order. A task
that needs more slots than are free is passed over by lighter ones at most
``BYPASS_LIMIT`` times; then freed slots are kept for it. When a
task fails, every task that transitively waits for it is skipped at once, with
the reason; independent work goes on. Tasks are only handed out when they can
start, so no worker thread ever blocks waiting on an upstream task.

:meth:`RunScheduler.cancel` (Ctrl-C, SIGTERM) stops the handing out: waiting
tasks settle as cancelled, and running ones, once stopped, finish as
interrupted; neither skips its dependants, since nothing failed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from plan_tasks.graph import PlanGraph

WAITING, RUNNING, COMPLETED, FAILED, SKIPPED = "waiting", "running", "completed", "failed", "skipped"
INTERRUPTED, CANCELLED = "interrupted", "cancelled"  # stopped while running; never started (run stopped)
# How many times lighter tasks may take freed slots while the first task in
# hand-out order waits for enough of them at once; then the slots are kept for it.
# Without a bound a CRITICAL task could wait as long as lighter ones keep coming.
BYPASS_LIMIT = 4
SETTLED = frozenset({COMPLETED, FAILED, SKIPPED, INTERRUPTED, CANCELLED})


@dataclass
class Progress:
    total: int
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: int = 0  # running when the run was stopped; back to pending
    not_started: int = 0  # waiting when the run was stopped
    running: int = 0
    durations: list[float] = field(default_factory=list)

    @property
    def settled(self) -> int:
        return self.completed + self.failed + self.skipped + self.interrupted

    def eta_seconds(self, max_parallel: int) -> float | None:
        """Remaining work at the mean duration so far, spread over the slots."""
        if not self.durations:
            return None
        remaining = self.total - self.settled
        return sum(self.durations) / len(self.durations) * remaining / max(1, max_parallel)


class RunScheduler:
    def __init__(
        self,
        graph: PlanGraph,
        to_run: Iterable[str],
        *,
        files: dict[str, tuple[str, ...]],
        max_parallel: int,
        phase_gate: float,
    ) -> None:
        self._graph = graph
        self._lock = threading.Condition()
        self._state: dict[str, str] = {}
        selected = set(to_run)
        for task_id in graph.task_ids:
            # Tasks this run does not execute count as settled: finished earlier, or not asked for.
            self._state[task_id] = WAITING if task_id in selected else COMPLETED
        self._files = files
        self._slots = max(1, max_parallel)
        self._free = self._slots
        self._busy_files: dict[str, str] = {}
        self._started_at: dict[str, float] = {}
        sizes = [0] * graph.phase_count
        self._settled = [0] * graph.phase_count
        for task_id in graph.task_ids:
            sizes[graph.phase_of[task_id]] += 1
            if self._state[task_id] in SETTLED:
                self._settled[graph.phase_of[task_id]] += 1
        self._sizes = sizes
        self._needs = [math.ceil(phase_gate * size - 1e-9) for size in sizes]
        self._priority = self._remaining_weights()
        # Kept as tasks settle, so that a take looks only at tasks that can start:
        # how many predecessors each task still waits for, and per phase the waiting
        # tasks that wait for none.
        self._unmet = {task_id: sum(1 for upstream in graph.predecessors[task_id]
                                    if self._state[upstream] not in (COMPLETED, SKIPPED))
                       for task_id in graph.task_ids}
        self._pool: list[set[str]] = [set() for _ in range(graph.phase_count)]
        for task_id in graph.task_ids:
            if self._state[task_id] == WAITING and not self._unmet[task_id]:
                self._pool[graph.phase_of[task_id]].add(task_id)
        self.progress = Progress(total=len(selected))
        self.skip_reasons: dict[str, str] = {}
        self.skipped_because_of: dict[str, str] = {}  # skipped task -> the failed task behind it
        self.cancelled = False
        self._finishes = 0  # how many tasks finished so far: what wait() waits for to change
        self._heaviest = max((self._slots_of(task_id) for task_id in selected), default=1)
        self._passed_over: dict[str, int] = {}  # head task waiting for slots -> takes that started others
        self._taking_phases: set[int] = set()  # phases whose own callers take (see take)
        self._reserved: str | None = None  # passed over BYPASS_LIMIT times: only it may start next

    # -- questions ---------------------------------------------------------

    def state(self, task_id: str) -> str:
        with self._lock:
            return self._state[task_id]

    def phase_settled(self, phase: int) -> bool:
        with self._lock:
            return self._settled[phase] == self._sizes[phase]

    def waiting(self) -> list[str]:
        """Tasks not handed out and not settled yet, in plan order."""
        with self._lock:
            return [task_id for task_id in self._graph.task_ids if self._state[task_id] == WAITING]

    def phase_open(self, phase: int) -> bool:
        """Whether the phase gate lets ``phase``'s tasks be handed out (dependencies and slots aside)."""
        with self._lock:
            return phase < self._open_phases()

    def has_ready(self, phase: int) -> bool:
        """Whether a task of ``phase`` could be handed out now (slots aside)."""
        with self._lock:
            return bool(self._ready(phase))

    def all_settled(self) -> bool:
        with self._lock:
            return all(state in SETTLED for state in self._state.values())

    # -- handing out and taking back ---------------------------------------

    def take(self, phase: int | None = None) -> list[str]:
        """Tasks (of ``phase``, or any) that may start now; they are marked running.

        A caller that names its phase takes only that phase's tasks (a phase
        subflow's loop); ``None`` takes from every open phase.
        """
        with self._lock:
            taken: list[str] = []
            if self.cancelled:
                return taken
            if phase is not None:
                self._taking_phases.add(phase)
            reserved = self._reserved
            if reserved is not None and self._state[reserved] != WAITING:
                reserved = self._reserved = None  # taken, or skipped meanwhile
            # Until the reserved task is taken, freed slots are kept for it: also once
            # enough are free, or another phase's caller, waking first, would take them.
            head = None if reserved is not None else self._head_waiting_for_slots()
            for task_id in self._ready(phase):
                if reserved is not None and task_id != reserved:
                    continue
                weight = self._slots_of(task_id)
                if weight > self._free or any(path in self._busy_files for path in self._files.get(task_id, ())):
                    continue
                self._free -= weight
                self._busy_files.update((path, task_id) for path in self._files.get(task_id, ()))
                self._state[task_id] = RUNNING
                self._pool[self._graph.phase_of[task_id]].discard(task_id)
                self._started_at[task_id] = time.monotonic()
                self.progress.running += 1
                taken.append(task_id)
            if reserved is not None and reserved in taken:
                self._reserved = None
                self._passed_over.pop(reserved, None)
            elif head is not None:
                if head in taken:
                    self._passed_over.pop(head, None)
                elif taken:
                    self._passed_over[head] = self._passed_over.get(head, 0) + 1
                    if self._passed_over[head] >= BYPASS_LIMIT:
                        self._reserved = head
            return taken

    def finish(self, task_id: str, succeeded: bool, interrupted: bool = False) -> list[str]:
        """Record a task's end; returns the tasks skipped because it failed.

        ``interrupted``: the run stopped it (see :meth:`cancel`); it failed at
        nothing, so its dependants are not skipped.
        """
        with self._lock:
            if self._state[task_id] != RUNNING:
                raise ValueError(f"task {task_id} is not running")
            self._free += self._slots_of(task_id)
            for path in self._files.get(task_id, ()):
                if self._busy_files.get(path) == task_id:
                    del self._busy_files[path]
            self.progress.running -= 1
            self.progress.durations.append(time.monotonic() - self._started_at.pop(task_id))
            if interrupted:
                self._settle(task_id, INTERRUPTED)
                skipped = []
            else:
                self._settle(task_id, COMPLETED if succeeded else FAILED)
                skipped = [] if succeeded else self._skip_dependants(task_id)
            self._finishes += 1
            self._lock.notify_all()
            return skipped

    def cancel(self) -> list[str]:
        """Stop handing out tasks: every waiting task settles as cancelled (it
        stays pending in status.json); returns the tasks still running."""
        with self._lock:
            self.cancelled = True
            self._reserved = None
            for task_id in self._graph.task_ids:
                if self._state[task_id] == WAITING:
                    self._settle(task_id, CANCELLED)
            self._lock.notify_all()
            return [task_id for task_id in self._graph.task_ids if self._state[task_id] == RUNNING]

    @property
    def finishes(self) -> int:
        """A count to pass to ``wait``: read it before ``take``."""
        with self._lock:
            return self._finishes

    def wait(self, timeout: float, finishes: int | None = None) -> None:
        """Sleep until a task finishes (or ``timeout`` passes). With ``finishes``
        (read before the caller's last ``take``), return at once if a task finished
        since then: its notification came while the caller was not waiting yet."""
        with self._lock:
            if finishes is not None and finishes != self._finishes:
                return
            self._lock.wait(timeout)

    # -- internals (called with the lock held) ------------------------------

    def _settle(self, task_id: str, state: str) -> None:
        self._state[task_id] = state
        self._settled[self._graph.phase_of[task_id]] += 1
        self._pool[self._graph.phase_of[task_id]].discard(task_id)
        if state in (COMPLETED, SKIPPED):
            for successor in self._graph.successors[task_id]:
                self._unmet[successor] -= 1
                if not self._unmet[successor] and self._state[successor] == WAITING:
                    self._pool[self._graph.phase_of[successor]].add(successor)
        if state == COMPLETED:
            self.progress.completed += 1
        elif state == FAILED:
            self.progress.failed += 1
        elif state == SKIPPED:
            self.progress.skipped += 1
        elif state == INTERRUPTED:
            self.progress.interrupted += 1
        else:
            self.progress.not_started += 1  # the run was stopped before it could start

    def _skip_dependants(self, failed: str) -> list[str]:
        skipped, stack = [], list(self._graph.successors[failed])
        while stack:
            task_id = stack.pop()
            if self._state[task_id] != WAITING:
                continue
            self.skip_reasons[task_id] = f"depends on failed task {failed}"
            self.skipped_because_of[task_id] = failed
            self._settle(task_id, SKIPPED)
            skipped.append(task_id)
            stack.extend(self._graph.successors[task_id])
        return sorted(skipped, key=self._graph.order.__getitem__)

    def _open_phases(self) -> int:
        opened = 1
        for phase in range(self._graph.phase_count - 1):
            if self._settled[phase] < self._needs[phase]:
                break
            opened += 1
        return opened

    def _head_waiting_for_slots(self) -> str | None:
        """The first ready task in hand-out order, if what keeps it waiting is only
        the number of free slots (not a running task's file). Only tasks somebody
        takes from count: with per-phase callers, those of phases that have one
        (keeping slots for a phase whose loop has not started would idle them)."""
        if self._free == 0 or self._free >= self._heaviest:
            return None  # nothing can start at all, or every task fits: no one waits for slots
        opened = self._open_phases()
        phases = [index for index in range(opened) if not self._taking_phases or index in self._taking_phases]
        candidates = [task_id for index in phases for task_id in self._pool[index]
                      if not any(path in self._busy_files for path in self._files.get(task_id, ()))]
        if not candidates:
            return None
        head = min(candidates, key=self._handout_order)
        return head if self._slots_of(head) > self._free else None

    def _ready(self, phase: int | None) -> list[str]:
        opened = self._open_phases()
        phases = range(opened) if phase is None else ([phase] if phase < opened else [])
        ready = [task_id for index in phases for task_id in self._pool[index]]
        return sorted(ready, key=self._handout_order)

    def _handout_order(self, task_id: str) -> tuple[int, int]:
        """Heaviest remaining chain first, then plan order."""
        return -self._priority[task_id], self._graph.order[task_id]

    def _slots_of(self, task_id: str) -> int:
        """Slots a task holds while it runs: its weight, at most all of them."""
        return min(self._graph.weight[task_id], self._slots)

    def _remaining_weights(self) -> dict[str, int]:
        """Weight of the heaviest chain of tasks to run that each task starts."""
        weights: dict[str, int] = {}
        for wave in reversed(self._graph.levels(0.0)):
            for task_id in wave:
                own = self._graph.weight[task_id] if self._state[task_id] == WAITING else 0
                weights[task_id] = own + max((weights[s] for s in self._graph.successors[task_id]), default=0)
        return weights
