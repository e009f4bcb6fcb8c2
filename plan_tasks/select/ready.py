"""The dependency-aware `next N` (``--policy ready``, the default).

The seed analysis's recommendations, made real. A task is offered when:

* every task it waits for (explicit dependency, sequential chain, same-file
  predecessor) is completed or skipped, and it is pending, or it failed and has
  retries left (``retryCount < max_retries``; exhausted ones are listed apart);
* its phase is open: every earlier phase has at least ``phase_gate`` of its
  tasks completed or skipped (0.8 as the seed, 1.0 strict, 0 dependencies only);
* it names no file that an in-progress task names, nor one that a task already
  chosen for this answer names.

Which tasks are ready is the graph's :class:`~plan_tasks.sorter.TaskSorter`'s
answer (pending and retryable tasks are its candidates, retries pass the gate);
this module adds the retry budget and file conflicts. Candidates are ordered
by the weight of the longest chain of unfinished work they start (the
graph's remaining critical weight), then by plan order. In-progress
tasks are reported apart, not repeated: they are already being worked on.
"""

from __future__ import annotations

from typing import Any

from plan_tasks.plan_index import IndexedTask, PlanIndex
from plan_tasks.sorter import TaskSorter
from plan_tasks.status.document import MAX_RETRIES
from plan_tasks.statuses import FAILED, FINISHED, IN_PROGRESS, PENDING

DEFAULT_PHASE_GATE = 0.8


def _entry(index: PlanIndex, task: IndexedTask, status: str, reason: str, blocked_by: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": task.id,
        "description": task.description,
        "phase": index.phases[task.phase].number,
        "status": status,
        "reason": reason,
        "sequential": task.sequential_group is not None,
    }
    if task.sequential_group is not None:
        data["sequentialGroup"] = task.sequential_group
        data["sequentialReason"] = task.sequential_reason
    data.update(blockedBy=blocked_by, files=list(task.files), weight=task.weight)
    return data


def select_next_ready(
    document: dict[str, Any],
    index: PlanIndex,
    count: int = 3,
    *,
    phase_gate: float = DEFAULT_PHASE_GATE,
    max_retries: int = MAX_RETRIES,
    explain: bool = False,
) -> dict[str, Any]:
    records = {record.get("id"): record for record in document.get("tasks") or []}
    status_of = {task_id: record.get("status") or PENDING for task_id, record in records.items()}
    in_progress = [task for task in index.tasks if status_of.get(task.id) == IN_PROGRESS]
    busy_files = {path: task.id for task in in_progress for path in _held(task)}
    retries_of = {task.id: int(records[task.id].get("retryCount") or 0)
                  for task in index.tasks if status_of.get(task.id) == FAILED}
    exhausted_ids = {task_id for task_id, retries in retries_of.items() if retries >= max_retries}
    retrying = [task_id for task_id in retries_of if task_id not in exhausted_ids]
    finished = {task.id for task in index.tasks if status_of.get(task.id) in FINISHED}
    graph = index.task_graph()
    # A failed task waits for its predecessors too: retrying it beside a predecessor that
    # is itself being retried (or was reset) would break the order the plan asks for.
    # The gate does not hold it back: its phase opened when it first ran.
    sorter = graph.sorter(phase_gate, finished, ungated=retrying,
                          candidates=[task.id for task in index.tasks if status_of.get(task.id) == PENDING] + retrying)
    ready = set(sorter.get_ready())

    candidates: list[tuple[IndexedTask, str, str]] = []
    blocked: list[dict[str, Any]] = []
    exhausted: list[dict[str, Any]] = []
    for task in index.tasks:
        status = status_of.get(task.id)
        if task.id in exhausted_ids:
            retries = retries_of[task.id]
            exhausted.append(_entry(index, task, FAILED, f"failed - {retries} of {max_retries} retries used", []))
        elif task.id in ready:
            reason = (f"failed - retry {retries_of[task.id] + 1} of {max_retries}" if status == FAILED
                      else "pending - ready to implement")
            candidates.append((task, status, reason))
        elif explain and status in (PENDING, FAILED):  # thousands of entries nobody asked for cost more than the answer
            blocked.append(_blocked_entry(index, sorter, task, status, phase_gate))

    priority = graph.remaining_weights(finished)
    candidates.sort(key=lambda item: (-priority[item[0].id], index.order[item[0].id]))
    chosen: list[dict[str, Any]] = []
    claimed: dict[str, str] = {}
    for task, status, reason in candidates:
        if len(chosen) >= count and not explain:
            break
        holders = sorted({busy_files.get(path) or claimed.get(path) for path in _held(task)} - {None})
        if holders:
            if explain:
                blocked.append(_entry(index, task, status, "shares a file with a task in progress or already chosen",
                                      holders))
            continue
        if len(chosen) < count:
            chosen.append(_entry(index, task, status, reason, []))
            claimed.update((path, task.id) for path in _held(task))

    answer: dict[str, Any] = {
        "count": len(chosen),
        "tasks": chosen,
        "policy": "ready",
        "inProgress": [task.id for task in in_progress],
        "exhausted": exhausted,
    }
    if explain:
        answer["blocked"] = blocked
    return answer


def _blocked_entry(index: PlanIndex, sorter: TaskSorter, task: IndexedTask, status: str,
                   phase_gate: float) -> dict[str, Any]:
    """Why a pending or retryable task is not ready: what it waits for, else the phase gate."""
    waiting = sorter.waits_for(task.id)
    if waiting:
        return _entry(index, task, status, "waiting for its dependencies", waiting)
    return _entry(index, task, status, f"phase gate: earlier phases under {phase_gate:.0%} done", [])


def _held(task: IndexedTask) -> tuple[str, ...]:
    """The files a task keeps to itself while running (a [PARALLEL] note may free some)."""
    return task.files if task.held_files is None else task.held_files
