"""Which plan tasks may start now, during a run. Thread-safe; knows no Prefect.

The Prefect flow (``plan_tasks.prefect.flow``) asks :meth:`RunScheduler.take` for
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

The dependency and gate rules are the graph's :class:`~plan_tasks.sorter.TaskSorter`
(a finished task is ``done``; a failed, skipped, interrupted or cancelled one
is ``abandon``-ed); this module adds slots, file locks and priority. Ready
tasks wait in a :class:`~plan_tasks.run.ready_queue.ReadyQueue`, so a hand-out
costs the tasks it can start, not the plan's size.

:meth:`RunScheduler.cancel` (Ctrl-C, SIGTERM) stops the handing out: waiting
tasks settle as cancelled, and running ones, once stopped, finish as
interrupted; neither skips its dependants, since nothing failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from plan_tasks.run.ready_queue import ReadyQueue
from plan_tasks.statuses import CANCELLED, COMPLETED, FAILED, INTERRUPTED, RUNNING, SKIPPED, WAITING, RunState
from plan_tasks.task_graph import TaskGraph

# How many times lighter tasks may take freed slots while the first task in
# hand-out order waits for enough of them at once; then the slots are kept for it.
# Without a bound a CRITICAL task could wait as long as lighter ones keep coming.
BYPASS_LIMIT = 4


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
        graph: TaskGraph,
        to_run: Iterable[str],
        *,
        files: dict[str, tuple[str, ...]],
        max_parallel: int,
        phase_gate: float,
    ) -> None:
        self._graph = graph
        self._lock = threading.Condition()
        selected = set(to_run)
        # Tasks this run does not execute count as finished: finished earlier, or not asked for.
        not_run = {task_id for task_id in graph.task_ids if task_id not in selected}
        self._sorter = graph.sorter(phase_gate, not_run)
        self._state: dict[str, RunState] = {task_id: COMPLETED if task_id in not_run else WAITING
                                            for task_id in graph.task_ids}
        self._settled_count = len(not_run)
        self._files = files
        self._slots = max(1, max_parallel)
        self._free = self._slots
        self._busy_files: dict[str, str] = {}
        self._started_at: dict[str, float] = {}
        self._priority = graph.remaining_weights(not_run)
        self._queue = ReadyQueue(graph.order, self._priority, graph.phase_of, self._slots_of)
        self.progress = Progress(total=len(selected))
        self.skip_reasons: dict[str, str] = {}
        self.skipped_because_of: dict[str, str] = {}  # skipped task -> the failed task behind it
        self.cancelled = False
        self._finishes = 0  # how many tasks finished so far: what wait() waits for to change
        self._heaviest = max((self._slots_of(task_id) for task_id in selected), default=1)
        self._passed_over: dict[str, int] = {}  # head task waiting for slots -> takes that started others
        self._taking_phases: set[int] = set()  # phases whose own callers take (see take)
        self._reserved: str | None = None  # passed over BYPASS_LIMIT times: only it may start next
        self._collect_ready()

    # -- questions ---------------------------------------------------------

    def state(self, task_id: str) -> RunState:
        with self._lock:
            return self._state[task_id]

    def phase_settled(self, phase: int) -> bool:
        with self._lock:
            return self._sorter.phase_settled(phase)

    def waiting(self) -> list[str]:
        """Tasks not handed out and not settled yet, in plan order."""
        with self._lock:
            return [task_id for task_id in self._graph.task_ids if self._state[task_id] == WAITING]

    def phase_open(self, phase: int) -> bool:
        """Whether the phase gate lets ``phase``'s tasks be handed out (dependencies and slots aside)."""
        with self._lock:
            return self._sorter.phase_open(phase)

    def has_ready(self, phase: int) -> bool:
        """Whether a task of ``phase`` could be handed out now (slots aside)."""
        with self._lock:
            return self._queue.has_ready(phase)

    def all_settled(self) -> bool:
        with self._lock:
            return self._settled_count == len(self._state)

    # -- handing out and taking back ---------------------------------------

    def take(self, phase: int | None = None) -> list[str]:
        """Tasks (of ``phase``, or any) that may start now; they are marked running.

        A caller that names its phase takes only that phase's tasks (a phase
        subflow's loop); ``None`` takes from every open phase.
        """
        with self._lock:
            if self.cancelled:
                return []
            if phase is not None:
                self._taking_phases.add(phase)
            reserved = self._reserved
            if reserved is not None and self._state[reserved] != WAITING:
                reserved = self._reserved = None  # taken, or skipped meanwhile
            if reserved is not None:
                return self._take_reserved(reserved, phase)
            head = self._head_waiting_for_slots()
            taken: list[str] = []

            def start_if_it_fits(task_id: str) -> bool:
                if self._park_if_a_file_is_busy(task_id) or self._slots_of(task_id) > self._free:
                    return True
                self._start(task_id)
                taken.append(task_id)
                return self._free > 0

            self._queue.scan(phase, lambda: self._free, start_if_it_fits)
            if head is not None:
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
                    self._queue.unpark(path)
            self.progress.running -= 1
            self.progress.durations.append(time.monotonic() - self._started_at.pop(task_id))
            skipped: list[str] = []
            if succeeded and not interrupted:
                self._settle(task_id, COMPLETED)
                self._sorter.done(task_id)
                self._collect_ready()
            else:
                self._settle(task_id, INTERRUPTED if interrupted else FAILED)
                self._sorter.abandon(task_id)
                if not interrupted:
                    skipped = self._skip_dependants(task_id)
                self._collect_ready()  # the gate may have opened a phase
            self._finishes += 1
            self._lock.notify_all()
            return skipped

    def cancel(self) -> list[str]:
        """Stop handing out tasks: every waiting task settles as cancelled (it
        stays pending in status.json); returns the tasks still running."""
        with self._lock:
            self.cancelled = True
            self._reserved = None
            waiting = [task_id for task_id in self._graph.task_ids if self._state[task_id] == WAITING]
            for task_id in waiting:
                self._settle(task_id, CANCELLED)
            self._sorter.abandon(*waiting)
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

    def _take_reserved(self, reserved: str, phase: int | None) -> list[str]:
        """Until the reserved task is taken, freed slots are kept for it: also once
        enough are free, or another phase's caller, waking first, would take them."""
        if phase not in (None, self._graph.phase_of[reserved]) or not self._can_start(reserved):
            return []
        self._start(reserved)
        self._reserved = None
        self._passed_over.pop(reserved, None)
        return [reserved]

    def _collect_ready(self) -> None:
        """Queue what the sorter found ready."""
        for task_id in self._sorter.get_ready():
            self._queue.push(task_id)

    def _park_if_a_file_is_busy(self, task_id: str) -> bool:
        for path in self._files.get(task_id, ()):
            if path in self._busy_files:
                self._queue.park(task_id, path)
                return True
        return False

    def _can_start(self, task_id: str) -> bool:
        """Enough free slots for its weight, and none of its files held by a running task."""
        return (self._slots_of(task_id) <= self._free
                and not any(path in self._busy_files for path in self._files.get(task_id, ())))

    def _start(self, task_id: str) -> None:
        self._queue.discard(task_id)
        self._free -= self._slots_of(task_id)
        self._busy_files.update((path, task_id) for path in self._files.get(task_id, ()))
        self._state[task_id] = RUNNING
        self._started_at[task_id] = time.monotonic()
        self.progress.running += 1

    def _settle(self, task_id: str, state: RunState) -> None:
        self._queue.discard(task_id)
        self._state[task_id] = state
        self._settled_count += 1
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
        self._sorter.abandon(*skipped)
        return sorted(skipped, key=self._graph.order.__getitem__)

    def _head_waiting_for_slots(self) -> str | None:
        """The first ready task in hand-out order, if what keeps it waiting is only
        the number of free slots (not a running task's file). Only tasks somebody
        takes from count: with per-phase callers, those of phases that have one
        (keeping slots for a phase whose loop has not started would idle them)."""
        if self._free == 0 or self._free >= self._heaviest:
            return None  # nothing can start at all, or every task fits: no one waits for slots
        firsts: list[str] = []

        def first_with_free_files(task_id: str) -> bool:
            if self._park_if_a_file_is_busy(task_id):
                return True
            firsts.append(task_id)
            return False

        for phase in sorted(self._taking_phases) or [None]:
            self._queue.scan(phase, lambda: self._slots, first_with_free_files)
        if not firsts:
            return None
        head = min(firsts, key=lambda task_id: (-self._priority[task_id], self._graph.order[task_id]))
        return head if self._slots_of(head) > self._free else None

    def _slots_of(self, task_id: str) -> int:
        """Slots a task holds while it runs: its weight, at most all of them."""
        return min(self._graph.weight[task_id], self._slots)
