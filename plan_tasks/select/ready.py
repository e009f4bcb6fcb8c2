"""The dependency-aware `next N` (``--policy ready``, the default).

The seed analysis's recommendations, made real. A task is offered when:

* every task it waits for (explicit dependency, sequential chain, same-file
  predecessor) is completed or skipped, and it is pending, or it failed and has
  retries left (``retryCount < max_retries``; exhausted ones are listed apart);
* its phase is open: every earlier phase has at least ``phase_gate`` of its
  tasks completed or skipped (0.8 as the seed, 1.0 strict, 0 dependencies only);
* it names no file that an in-progress task names, nor one that a task already
  chosen for this answer names.

Candidates are ordered by the weight of the longest chain of unfinished work
they start (the remaining critical path), then by plan order. In-progress
tasks are reported apart, not repeated: they are already being worked on.
"""

from __future__ import annotations

import math
from typing import Any

from plan_tasks.plan_index import IndexedTask, PlanIndex
from plan_tasks.status.document import FINISHED, MAX_RETRIES

DEFAULT_PHASE_GATE = 0.8


def remaining_path_weights(index: PlanIndex, status_of: dict[str, str]) -> dict[str, int]:
    """For each task, the weight of the heaviest chain of unfinished tasks it starts."""
    successors: dict[str, list[str]] = {task.id: [] for task in index.tasks}
    for task in index.tasks:
        for upstream in task.predecessors:
            successors[upstream].append(task.id)
    weights: dict[str, int] = {}
    # Tasks nearly always wait only for tasks above them, so one pass from the bottom
    # of the plan finds most weights; what it cannot (a task waiting for one further
    # down) the post-order walk below finishes.
    for task in reversed(index.tasks):
        heaviest = 0
        for child in successors[task.id]:
            weight = weights.get(child)
            if weight is None:
                break  # a successor further up: left to the walk below
            heaviest = max(heaviest, weight)
        else:
            weights[task.id] = heaviest + (0 if status_of.get(task.id) in FINISHED else task.weight)
    if len(weights) == len(index.tasks):
        return weights
    # Iterative post-order: plans of 10,000 tasks are deeper than Python's recursion limit.
    for root in index.tasks:
        if root.id in weights:
            continue
        stack = [(root.id, False)]
        while stack:
            task_id, expanded = stack.pop()
            if task_id in weights:
                continue
            if not expanded:
                stack.append((task_id, True))
                stack.extend((child, False) for child in successors[task_id] if child not in weights)
                continue
            own = 0 if status_of.get(task_id) in FINISHED else index.tasks[index.order[task_id]].weight
            weights[task_id] = own + max((weights[child] for child in successors[task_id]), default=0)
    return weights


def _open_phases(index: PlanIndex, status_of: dict[str, str], phase_gate: float) -> int:
    """How many leading phases are open under the gate (phase k needs 0..k-1 done enough)."""
    sizes = [0] * len(index.phases)
    finished = [0] * len(index.phases)
    for task in index.tasks:
        sizes[task.phase] += 1
        if status_of.get(task.id) in FINISHED:
            finished[task.phase] += 1
    open_count = 1 if index.phases else 0
    for phase in range(len(index.phases) - 1):
        if finished[phase] < math.ceil(phase_gate * sizes[phase] - 1e-9):
            break
        open_count += 1
    return open_count


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
    status_of = {task_id: record.get("status") or "pending" for task_id, record in records.items()}
    open_count = _open_phases(index, status_of, phase_gate)
    in_progress = [task for task in index.tasks if status_of.get(task.id) == "in_progress"]
    busy_files = {path: task.id for task in in_progress for path in _held(task)}

    candidates: list[tuple[IndexedTask, str, str]] = []
    blocked: list[dict[str, Any]] = []
    exhausted: list[dict[str, Any]] = []

    def block(task: IndexedTask, status: str, reason: str, blocked_by: list[str]) -> None:
        if explain:  # thousands of entries nobody asked for would cost more than the answer
            blocked.append(_entry(index, task, status, reason, blocked_by))

    for task in index.tasks:
        status = status_of.get(task.id)
        if status not in ("pending", "failed"):
            continue
        # A failed task waits too: retrying it beside a predecessor that is itself
        # being retried (or was reset) would break the order the plan asks for.
        waiting = [upstream for upstream in task.predecessors if status_of.get(upstream, "pending") not in FINISHED]
        retries = int(records[task.id].get("retryCount") or 0)
        if status == "failed" and retries >= max_retries:
            exhausted.append(_entry(index, task, status, f"failed - {retries} of {max_retries} retries used", []))
        elif waiting:
            block(task, status, "waiting for its dependencies", waiting)
        elif status == "failed":
            candidates.append((task, status, f"failed - retry {retries + 1} of {max_retries}"))
        elif task.phase >= open_count:
            block(task, status, f"phase gate: earlier phases under {phase_gate:.0%} done", [])
        else:
            candidates.append((task, status, "pending - ready to implement"))

    priority = remaining_path_weights(index, status_of)
    candidates.sort(key=lambda item: (-priority[item[0].id], index.order[item[0].id]))
    chosen: list[dict[str, Any]] = []
    claimed: dict[str, str] = {}
    for task, status, reason in candidates:
        if len(chosen) >= count and not explain:
            break
        holders = sorted({busy_files.get(path) or claimed.get(path) for path in _held(task)} - {None})
        if holders:
            block(task, status, "shares a file with a task in progress or already chosen", holders)
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


def _held(task: IndexedTask) -> tuple[str, ...]:
    """The files a task keeps to itself while running (a [PARALLEL] note may free some)."""
    return task.files if task.held_files is None else task.held_files
