"""One run as a timeline: every attempt's bar, the critical path, slots busy over time.

Built from status.json (each task's ``planTasks.attempts``, written by the run's
driver: see ``plan_tasks.run.attempts``) and the plan's graph. Pure data, no
drawing: ``timeline.page`` renders it as HTML, ``timeline.junit`` as JUnit XML.
Times are seconds from the run's start. A run recorded before attempts were
kept (or by the seed's tools) still gets a bar per task, from the task's own
``startedAt`` and ``completedAt``, when those fall within the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plan_tasks.errors import PlanError
from plan_tasks.load import LoadedPlan
from plan_tasks.status import document as doc
from plan_tasks.task_graph import TaskGraph


@dataclass(frozen=True)
class Bar:
    """One attempt of a task."""

    task_id: str
    attempt: int
    start: float
    end: float
    outcome: str  # completed, failed or interrupted
    category: str | None = None  # of a failure: transient (retried while retries last) or permanent
    error: str | None = None
    log: str | None = None

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Row:
    """A task the run handled: its attempts, or the moment it was skipped."""

    task_id: str
    title: str
    status: str  # in status.json now
    bars: tuple[Bar, ...]
    slots: int
    critical: bool = False
    skipped_at: float | None = None
    skip_reason: str | None = None

    @property
    def seconds(self) -> float:
        return sum(bar.seconds for bar in self.bars)


@dataclass(frozen=True)
class Timeline:
    plan_title: str
    plan_ref: str
    run_id: str
    started_at: str
    duration: float
    max_parallel: int | None
    phases: tuple[tuple[str, tuple[Row, ...]], ...]  # (phase name, its rows), in plan order
    critical_path: tuple[str, ...]
    critical_seconds: float
    concurrency: tuple[tuple[float, int], ...]  # (time, slots busy from then on), time ascending
    not_run: int  # tasks of the plan that this run did not handle

    @property
    def rows(self) -> list[Row]:
        return [row for _, rows in self.phases for row in rows]


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def choose_run(document: doc.Document, run_id: str | None, where: str) -> dict[str, Any]:
    """The run ``run_id`` of status.json, or its last run; PlanError when there is none."""
    runs = [run for run in document.get("runs") or [] if isinstance(run, dict) and isinstance(run.get("runId"), str)]
    if run_id is None:
        if not runs:
            raise PlanError("status.json records no run yet", "run the plan first: `plan-tasks run PLAN`", where)
        return runs[-1]
    for run in runs:
        if run["runId"] == run_id:
            return run
    known = ", ".join(run["runId"] for run in runs[-3:]) or "none"
    raise PlanError(f"no run {run_id} in status.json", f"the last runs are: {known}; leave out `--run` for the last one",
                    where)


def build_timeline(document: doc.Document, loaded: LoadedPlan, run: dict[str, Any], plan_ref: str) -> Timeline:
    """The timeline of ``run`` (an entry of the document's ``runs``)."""
    start = parse_time(run.get("startedAt"))
    if start is None:
        raise PlanError(f"run {run['runId']} has no start time in status.json", "choose another run with --run ID")
    run_end = parse_time(run.get("completedAt"))
    limit = (run_end - start).total_seconds() if run_end else None
    entries = {task.get("id"): task for task in document.get("tasks") or [] if isinstance(task, dict)}
    plan, graph = loaded.plan, loaded.graph
    bars = {task_id: _bars(entries.get(task_id) or {}, task_id, run["runId"], start) for task_id in graph.task_ids}
    if not any(bars.values()):  # a run from before attempts were kept: the tasks' own times
        bars = {task_id: _legacy_bar(entries.get(task_id) or {}, task_id, start, limit) for task_id in graph.task_ids}
    ends = [bar.end for found in bars.values() for bar in found]
    duration = max([limit or 0.0, *ends])
    critical, critical_ms = _critical_path(graph, bars)
    ours = run.get(doc.OURS) if isinstance(run.get(doc.OURS), dict) else {}
    max_parallel = ours.get("maxParallel") if isinstance(ours.get("maxParallel"), int) else None
    phases = []
    for phase in plan.phases:
        rows = []
        for task_id in phase.task_ids:
            row = _row(plan.task_by_id[task_id], entries.get(task_id) or {}, bars[task_id], start, duration,
                       task_id in critical, max_parallel)
            if row is not None:
                rows.append(row)
        if rows:
            phases.append((phase.name, tuple(rows)))
    handled = sum(len(rows) for _, rows in phases)
    return Timeline(plan_title=plan.title, plan_ref=plan_ref, run_id=run["runId"], started_at=run["startedAt"],
                    duration=duration, max_parallel=max_parallel, phases=tuple(phases),
                    critical_path=tuple(critical), critical_seconds=critical_ms / 1000,
                    concurrency=_concurrency([row for _, rows in phases for row in rows]),
                    not_run=len(graph.task_ids) - handled)


def _bars(entry: dict[str, Any], task_id: str, run_id: str, start: datetime) -> list[Bar]:
    ours = entry.get(doc.OURS)
    attempts = ours.get("attempts") if isinstance(ours, dict) else None
    found = []
    for attempt in attempts if isinstance(attempts, list) else []:
        if not isinstance(attempt, dict) or attempt.get("run") != run_id:
            continue
        began, ended = parse_time(attempt.get("startedAt")), parse_time(attempt.get("endedAt"))
        if began is None or ended is None:
            continue  # an entry edited by hand into something else: left out, not a crash
        number = attempt.get("attempt")
        found.append(Bar(task_id, number if isinstance(number, int) else len(found) + 1,
                         (began - start).total_seconds(), (ended - start).total_seconds(),
                         str(attempt.get("outcome") or "completed"), _text(attempt.get("category")),
                         _text(attempt.get("error")), _text(attempt.get("log"))))
    return sorted(found, key=lambda bar: bar.start)


def _legacy_bar(entry: dict[str, Any], task_id: str, start: datetime, limit: float | None) -> list[Bar]:
    began, ended = parse_time(entry.get("startedAt")), parse_time(entry.get("completedAt"))
    status = entry.get("status")
    if began is None or ended is None or status not in ("completed", "failed"):
        return []
    offset, end = (began - start).total_seconds(), (ended - start).total_seconds()
    if offset < 0 or (limit is not None and end > limit + 1):
        return []  # not this run's
    retries = entry.get("retryCount")
    return [Bar(task_id, (retries if isinstance(retries, int) else 0) + 1, offset, end, str(status),
                error=_text(entry.get("error")))]


def _row(task: Any, entry: dict[str, Any], bars: list[Bar], start: datetime, duration: float,
         critical: bool, max_parallel: int | None) -> Row | None:
    status = str(entry.get("status") or "pending")
    skipped_at = None
    if not bars:
        at = parse_time(entry.get("completedAt"))
        offset = (at - start).total_seconds() if at else None
        if status != "skipped" or doc.skip_cause(entry) != doc.SKIP_FAILURE or offset is None \
                or not 0 <= offset <= duration + 1:
            return None  # not handled by this run
        skipped_at = offset
    slots = min(task.weight, max_parallel) if max_parallel else task.weight  # as the run's scheduler takes them
    return Row(task.id, task.title, status, tuple(bars), slots, critical, skipped_at,
               _text(entry.get("skipReason")) if skipped_at is not None else None)


def _critical_path(graph: TaskGraph, bars: dict[str, list[Bar]]) -> tuple[list[str], int]:
    """The chain of dependent tasks whose time in this run (every attempt's, in ms) adds up the most."""
    milliseconds = {task_id: round(sum(bar.seconds for bar in found) * 1000) for task_id, found in bars.items()}
    timed = TaskGraph(graph.task_ids, graph.phase_of, milliseconds, graph.phase_count, graph.predecessors)
    path, total = timed.critical_path(0.0, finished=[task_id for task_id, found in bars.items() if not found])
    return (path, total) if total > 0 else ([], 0)


def _concurrency(rows: list[Row]) -> tuple[tuple[float, int], ...]:
    """Slots busy over time: a step at every attempt's start (+ its slots) and end (- them)."""
    changes: dict[float, int] = {}
    for row in rows:
        for bar in row.bars:
            changes[bar.start] = changes.get(bar.start, 0) + row.slots
            changes[bar.end] = changes.get(bar.end, 0) - row.slots
    steps, busy = [(0.0, 0)], 0
    for moment in sorted(changes):
        busy += changes[moment]
        steps.append((moment, busy))
    return tuple(steps)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def outcome_of(row: Row) -> str:
    """How the task ended in this run: its last attempt's outcome, or skipped."""
    return row.bars[-1].outcome if row.bars else "skipped"


def summarize(timeline: Timeline) -> dict[str, Any]:
    """Counts by outcome, attempts, retries and how busy the slots were."""
    rows = timeline.rows
    counts = {outcome: 0 for outcome in ("completed", "failed", "skipped", "interrupted")}
    for row in rows:
        counts[outcome_of(row)] = counts.get(outcome_of(row), 0) + 1
    attempts = sum(len(row.bars) for row in rows)
    busy = sum(row.seconds * row.slots for row in rows)
    steps = timeline.concurrency
    peak = max((busy_now for _, busy_now in steps), default=0)
    capacity = (timeline.max_parallel or 0) * timeline.duration
    return {**counts, "tasks": len(rows), "attempts": attempts, "retries": attempts - sum(bool(row.bars) for row in rows),
            "busySlotSeconds": busy, "peakSlots": peak,
            "utilization": busy / capacity if capacity > 0 else None}
