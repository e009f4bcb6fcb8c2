"""The status.json schema and every change to it, as functions on a plain dict.

The schema is the seed system's (``plan-status.js``): ``_comment``,
``planPath``, ``planName``, ``createdAt``, ``lastUpdatedAt``, ``currentPhase``,
``tasks`` (``id``, ``phase`` as ``"Phase N: Title"``, ``description``,
``status`` and, once set, ``startedAt``, ``completedAt``, ``duration`` in ms,
``retryCount``, ``lastError``, ``error``, ``notes``, ``skipReason``), ``runs``
and ``summary``. Keys this module does not know are kept as they are, so a
file written by the seed's tools round-trips. Everything of ours lives under
the one new key ``planTasks``.

Documents are plain dicts, not models: loading status.json must stay cheap on
every ``next`` call, and unknown keys must survive.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from itertools import repeat
from typing import Any, NamedTuple

from plan_tasks.errors import PlanError

# FINISHED and STATUSES are used here and by this module's callers; they live in plan_tasks.statuses.
from plan_tasks.statuses import COMPLETED, ENDED, FAILED, FINISHED, IN_PROGRESS, PENDING, SKIPPED, STATUSES  # noqa: F401

Document = dict[str, Any]

DONE_STATUSES = ENDED  # a status with an end time
MAX_RETRIES = 2  # the seed's MAX_RETRIES
COMMENT = (
    "This file is the authoritative source of truth for task execution state. The markdown plan "
    "file is read-only reference documentation. Use plan-tasks (or status-cli.js) to update task status."
)
OURS = "planTasks"  # the one key under which plan-tasks keeps its own fields

# Why a task is skipped, kept in the task's ``planTasks.skipCause`` beside the seed's
# ``skipReason``: a task skipped because a task it depends on failed runs again once
# that cause is gone; one skipped on purpose (the plan, `mark-skipped`) stays skipped.
SKIP_FAILURE = "failure"
SKIP_MANUAL = "manual"
SKIP_PLAN = "plan"
SKIP_CAUSES = (SKIP_FAILURE, SKIP_MANUAL, SKIP_PLAN)
_LEGACY_FAILURE_REASON = "depends on failed task"  # what runs wrote before skipCause existed


class TaskNotFound(PlanError):
    """A command named a task id that status.json does not have."""


class RunNotFound(PlanError):
    """`complete-run` named a run id that status.json does not have."""


class PlanTaskEntry(NamedTuple):
    """What status.json needs to know of one plan task."""

    id: str
    phase: str
    description: str
    checked: bool = False
    skipped: bool = False  # the plan skips it itself: it starts skipped, cause "plan"


class SyncReport(NamedTuple):
    """What a re-sync changed: task ids added, removed (set aside) and updated."""

    added: list[str]
    removed: list[str]
    updated: list[str]


def now_iso() -> str:
    """A timestamp as JavaScript's ``toISOString()`` writes it: ms precision, ``Z``."""
    from datetime import datetime, timezone  # here: `next`, which writes nothing, never pays for it

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def milliseconds_between(start: str, end: str) -> int | None:
    from datetime import datetime

    try:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        finish = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return round((finish - begin).total_seconds() * 1000)


def empty_summary() -> dict[str, int]:
    return {"totalTasks": 0, **dict.fromkeys((COMPLETED, PENDING, IN_PROGRESS, FAILED, SKIPPED), 0)}


def recalculate_summary(document: Document) -> dict[str, int]:
    """Counts by status, as the seed's ``recalculateSummary`` makes them."""
    summary = empty_summary()
    tasks = document.get("tasks") or []
    summary["totalTasks"] = len(tasks)
    # Counted in C (a run refreshes after every batch of changes): no Python call per
    # task. A missing, empty or unknown status counts as pending, as in the seed.
    for status, count in Counter(map(dict.get, tasks, repeat("status"))).items():
        summary[status if status in summary and status != "totalTasks" else PENDING] += count
    return summary


def current_phase(document: Document) -> str | None:
    """The phase of the first task not finished yet (the last phase when all are)."""
    tasks = document.get("tasks") or []
    for task in tasks:
        if task.get("status") not in FINISHED:
            return task.get("phase")
    return tasks[-1].get("phase") if tasks else None


def refresh(document: Document) -> None:
    """Recompute what is derived from the tasks, after any change."""
    document["summary"] = recalculate_summary(document)
    document["currentPhase"] = current_phase(document)
    document["lastUpdatedAt"] = now_iso()


def new_document(plan_ref: str, plan_name: str, tasks: Iterable[PlanTaskEntry], plan_hash: str) -> Document:
    now = now_iso()
    document: Document = {
        "_comment": COMMENT,
        "planPath": plan_ref,
        "planName": plan_name,
        "createdAt": now,
        "lastUpdatedAt": now,
        "currentPhase": None,
        "tasks": [_task_record(entry) for entry in tasks],
        "runs": [],
        "summary": empty_summary(),
        OURS: {"planHash": plan_hash, "syncedAt": now},
    }
    refresh(document)
    return document


def _task_record(entry: PlanTaskEntry) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": entry.id,
        "phase": entry.phase,
        "description": entry.description,
        "status": COMPLETED if entry.checked else PENDING,
    }
    if entry.skipped:
        record["status"] = SKIPPED
        record[OURS] = {"skipCause": SKIP_PLAN}
    return record


def _follow_plan_skip(record: dict[str, Any], entry: PlanTaskEntry) -> bool:
    """A pending task the plan now skips becomes skipped; one the plan skipped
    and no longer does is pending again. Returns whether the record changed."""
    if entry.skipped and record.get("status") == PENDING:
        record["status"] = SKIPPED
        record.setdefault(OURS, {})["skipCause"] = SKIP_PLAN
        return True
    if not entry.skipped and skip_cause(record) == SKIP_PLAN:
        record["status"] = PENDING
        _forget_skip(record)
        return True
    return False


def resync(document: Document, tasks: Iterable[PlanTaskEntry], plan_hash: str) -> SyncReport:
    """Bring the task list in line with the plan: new tasks pending, removed ones
    set aside under ``planTasks.removedTasks``, everyone else keeps its status."""
    report = SyncReport(added=[], removed=[], updated=[])
    existing = {task.get("id"): task for task in document.get("tasks") or []}
    synced = []
    for entry in tasks:
        record = existing.pop(entry.id, None)
        if record is None:
            record = _task_record(entry)
            report.added.append(entry.id)
        else:
            moved = record.get("phase") != entry.phase or record.get("description") != entry.description
            record["phase"], record["description"] = entry.phase, entry.description
            if _follow_plan_skip(record, entry) or moved:
                report.updated.append(entry.id)
        synced.append(record)
    ours = document.setdefault(OURS, {})
    if existing:
        report.removed.extend(str(task_id) for task_id in existing)
        ours.setdefault("removedTasks", []).extend(existing.values())
    document["tasks"] = synced
    ours["planHash"] = plan_hash
    ours["syncedAt"] = now_iso()
    refresh(document)
    return report


_positions: tuple[object, dict[Any, int]] | None = None  # the last task list looked in, and where each id is


def find_task(document: Document, task_id: str) -> dict[str, Any]:
    """The task entry of ``task_id``. A run changes thousands of tasks of one
    document: where each id sits in the last task list looked in is kept, and
    every answer is checked against the list, so an edited list is looked
    through again, never answered wrongly."""
    global _positions
    tasks = document.get("tasks") or []
    if _positions is None or _positions[0] is not tasks:
        _positions = (tasks, {})
    position = _positions[1].get(task_id)
    if position is not None and position < len(tasks) and tasks[position].get("id") == task_id:
        return tasks[position]
    positions = {task.get("id"): index for index, task in enumerate(tasks) if isinstance(task, dict)}
    _positions = (tasks, positions)
    if task_id in positions:
        return tasks[positions[task_id]]
    import difflib  # only an error pays for it

    known = [str(task.get("id")) for task in document.get("tasks") or []]
    close = difflib.get_close_matches(task_id, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}?" if close else "`plan-tasks status --plan PLAN` lists the tasks"
    raise TaskNotFound(f"task {task_id} is not in status.json", hint)


def set_status(document: Document, task_id: str, status: str, *, at: str | None = None,
               derived: bool = True, **extras: Any) -> dict[str, Any]:
    """The seed's ``updateTaskStatus``: status, timing, extra fields, summary.

    ``at`` is when it happened (default: now), for changes written a moment
    after they happened. One deliberate difference from the seed: a task that
    starts again (after a failure) gets a fresh ``startedAt``, so ``duration``
    measures the attempt that ran. ``derived=False`` leaves the summary and the
    current phase to one ``refresh`` after a batch of changes (each is O(tasks)).
    """
    task = find_task(document, task_id)
    now = at or now_iso()
    previous = task.get("status")
    task["status"] = status
    if previous == SKIPPED and status != SKIPPED:
        _forget_skip(task)
    if status == IN_PROGRESS and (previous != IN_PROGRESS or not task.get("startedAt")):
        task["startedAt"] = now
        task.pop("completedAt", None)
        task.pop("duration", None)
    if status in DONE_STATUSES:
        task["completedAt"] = now
        if task.get("startedAt"):
            duration = milliseconds_between(task["startedAt"], now)
            if duration is not None:
                task["duration"] = duration
    for key, value in extras.items():
        if value is not None:
            task[key] = value
    if derived:
        refresh(document)
    return task


def skip_cause(task: dict[str, Any]) -> str | None:
    """Why a skipped task is skipped (None when it is not skipped)."""
    if task.get("status") != SKIPPED:
        return None
    ours = task.get(OURS)
    cause = ours.get("skipCause") if isinstance(ours, dict) else None
    if cause in SKIP_CAUSES:
        return cause
    reason = task.get("skipReason")
    return SKIP_FAILURE if isinstance(reason, str) and reason.startswith(_LEGACY_FAILURE_REASON) else SKIP_MANUAL


def mark_skipped(document: Document, task_id: str, cause: str, reason: str | None = None, *,
                 because_of: str | None = None, at: str | None = None, derived: bool = True) -> dict[str, Any]:
    """Skip a task and remember why (``cause``: one of SKIP_CAUSES)."""
    task = set_status(document, task_id, SKIPPED, at=at, derived=derived, skipReason=reason)
    ours = task.setdefault(OURS, {})
    ours["skipCause"] = cause
    if because_of is not None:
        ours["skippedBecauseOf"] = because_of
    else:
        ours.pop("skippedBecauseOf", None)
    return task


def _forget_skip(task: dict[str, Any]) -> None:
    ours = task.get(OURS)
    if isinstance(ours, dict):
        ours.pop("skipCause", None)
        ours.pop("skippedBecauseOf", None)
        if not ours:
            del task[OURS]
    task.pop("skipReason", None)


# What an attempt leaves on a task; `reset` clears it. `lastError` and `lastErrorAt`
# stay: they are the history the seed keeps of a task's failures.
_ATTEMPT_FIELDS = ("startedAt", "completedAt", "duration", "error", "retryCount")


def reset_tasks(document: Document, task_ids: Iterable[str]) -> list[tuple[str, str]]:
    """Put tasks back to ``pending``, as if never attempted; returns (id, status before) of
    each task changed (a pending one is left as it is). Raises TaskNotFound for an unknown id
    before changing anything."""
    by_id = {task.get("id"): task for task in document.get("tasks") or []}
    tasks = [by_id.get(task_id) or find_task(document, task_id) for task_id in task_ids]
    changed = []
    for task in tasks:
        previous = task.get("status") or PENDING
        if previous == PENDING:
            continue
        if previous == SKIPPED:
            _forget_skip(task)
        task["status"] = PENDING
        for key in _ATTEMPT_FIELDS:
            task.pop(key, None)
        ours = task.get(OURS)
        if isinstance(ours, dict):
            ours.pop("failureCategory", None)
            if not ours:
                del task[OURS]
        changed.append((task["id"], previous))
    if changed:
        refresh(document)  # once, not per task: `reset --all` on 10,000 tasks stays linear
    return changed


def failed_and_skipped_for_it(document: Document) -> list[str]:
    """Failed tasks and the tasks skipped because one failed (what ``reset --failed`` resets)."""
    return [task["id"] for task in document.get("tasks") or []
            if task.get("status") == FAILED or skip_cause(task) == SKIP_FAILURE]


def resettable(document: Document) -> list[str]:
    """Every task that is not pending, but for those the plan itself skips (``reset --all``)."""
    return [task["id"] for task in document.get("tasks") or []
            if (task.get("status") or PENDING) != PENDING and skip_cause(task) != SKIP_PLAN]


def start_run(document: Document) -> str:
    runs = document.setdefault("runs", [])
    stamp = int(time.time() * 1000)
    taken = {run.get("runId") for run in runs}
    while f"run-{stamp}" in taken:  # two runs started in the same millisecond
        stamp += 1
    run_id = f"run-{stamp}"
    runs.append({"runId": run_id, "startedAt": now_iso(), "completed": 0, "failed": 0,
                 "tasksCompleted": 0, "tasksFailed": 0})
    refresh(document)
    return run_id


def complete_run(document: Document, run_id: str, completed: int, failed: int) -> dict[str, Any]:
    """Close a run. ``completed``/``failed`` are the issue's keys; ``tasksCompleted``/
    ``tasksFailed`` are what the seed's library writes, kept for its readers."""
    for run in document.get("runs") or []:
        if run.get("runId") == run_id:
            run.update(completedAt=now_iso(), completed=completed, failed=failed,
                       tasksCompleted=completed, tasksFailed=failed)
            refresh(document)
            return run
    known = [str(run.get("runId")) for run in document.get("runs") or []]
    hint = f"known runs: {', '.join(known[-3:])}" if known else "start one with `plan-tasks start-run`"
    raise RunNotFound(f"run {run_id} is not in status.json", hint)


def increment_retry(document: Document, task_id: str, error: str) -> dict[str, Any]:
    """The seed's ``incrementRetryCount``: count the failure, remember its error."""
    task = find_task(document, task_id)
    task["retryCount"] = int(task.get("retryCount") or 0) + 1
    task["lastError"] = error
    task["lastErrorAt"] = now_iso()
    refresh(document)
    return {
        "canRetry": task["retryCount"] <= MAX_RETRIES,
        "retryCount": task["retryCount"],
        "maxRetries": MAX_RETRIES,
        "taskId": task_id,
        "lastError": error,
    }


def failed_tasks(document: Document, *, max_retries: int = MAX_RETRIES, exhausted: bool) -> list[dict[str, Any]]:
    """The seed's ``getRetryableTasks`` (exhausted=False) or ``getExhaustedTasks``."""
    found = []
    for task in document.get("tasks") or []:
        if task.get("status") != FAILED:
            continue
        retries = int(task.get("retryCount") or 0)
        if (retries >= max_retries) != exhausted:
            continue
        entry = {"id": task.get("id"), "description": task.get("description"), "phase": task.get("phase"),
                 "retryCount": retries if not exhausted else task.get("retryCount")}
        # JSON.stringify drops undefined values: absent keys stay absent.
        for key in ("lastError", "lastErrorAt"):
            if task.get(key) is not None:
                entry[key] = task[key]
        found.append(entry)
    return found
