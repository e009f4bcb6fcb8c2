"""What a run writes: status.json (exactly as the CLI's marking commands do),
findings, and, with ``--update-plan``, the plan's ticked checkboxes.

Every write is a locked, atomic transaction (a run's changes batched by one
writer thread), so a CLI user or an agent marking tasks while a run goes on
loses nothing. A task's start is on disk before its work begins, so a run
killed at any moment leaves a status.json that a new run can resume from:
tasks left ``in_progress`` run again, completed and skipped ones do not.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from plan_tasks.errors import PlanError
from plan_tasks.model import Plan
from plan_tasks.plan_cache import IndexedPlan
from plan_tasks.redact import redact
from plan_tasks.run.status_writer import Change, StatusWriter
from plan_tasks.status import document as doc
from plan_tasks.status.atomic import write_atomic, write_text_atomic
from plan_tasks.status.paths import PlanPaths
from plan_tasks.status.store import transaction
from plan_tasks.status_sync import initialize


@dataclass(frozen=True)
class AttemptLog:
    """An attempt's part of its task's log file: output starts at byte ``start``."""

    path: Path
    task_id: str
    attempt: int
    start: int


def _ends_with_newline(file: BinaryIO) -> bool:
    file.seek(-1, os.SEEK_END)
    return file.read(1) == b"\n"


_UNCHECKED = re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)\[ \]")


class RunRecord:
    def __init__(self, paths: PlanPaths, plan: Plan, *, update_plan: bool = False, deferred: bool = False) -> None:
        self.paths = paths
        self.plan = plan
        self.update_plan = update_plan
        self.run_id: str | None = None
        self._plan_lock = threading.Lock()
        self._started: set[str] = set()  # tasks this run marked in_progress
        # deferred: changes go through a StatusWriter (a run); otherwise each is its own transaction.
        self._writer = StatusWriter(paths) if deferred else None

    def _change(self, change: Change, wait: bool = False) -> None:
        """Apply ``change`` (which leaves the derived fields to this) and refresh them once."""
        if self._writer is None:
            with transaction(self.paths) as document:
                change(document)
                doc.refresh(document)
        else:
            self._writer.submit(change, wait)

    def flush(self) -> list[str]:
        """Write every pending change; returns the errors met so far."""
        if self._writer is None:
            return []
        self._writer.flush()
        return list(self._writer.errors)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def begin(self, indexed: IndexedPlan | None = None) -> doc.Document:
        """Create or re-sync status.json, record the run's start; returns the document.

        ``indexed``: the plan as ``prepare_run`` read it, so that it is not read again.
        """
        initialize(self.paths, indexed)
        with transaction(self.paths) as document:
            self.run_id = doc.start_run(document)
            snapshot = {"tasks": [dict(task) for task in document["tasks"]]}
        return snapshot

    def started_all(self, starts: list[tuple[str, int]]) -> None:
        """:meth:`started` for several attempts ``(task id, number)`` at once: one write, one wait."""
        if not starts:
            return
        at = doc.now_iso()
        self._started.update(task_id for task_id, _ in starts)

        def change(document: doc.Document) -> None:
            for task_id, attempt in starts:
                task = doc.set_status(document, task_id, "in_progress", at=at, derived=False)
                if attempt > 1 or "retryCount" in task:
                    task["retryCount"] = attempt - 1

        self._change(change, wait=True)

    def started(self, task_id: str, attempt: int = 1) -> None:
        """Mark an attempt's start; from the second attempt on, ``retryCount`` counts the retries.

        Returns once the mark is on disk, so that the task's work never begins
        while status.json still says ``pending``: another process asking
        ``next`` sees it taken, and a run killed at any moment leaves every
        task that may have started ``in_progress`` (it runs again on resume).
        """
        self.started_all([(task_id, attempt)])  # a new run's first attempt starts the retry budget afresh

    def completed(self, task_id: str, findings: str | None) -> None:
        findings_path = None
        if findings:
            target = self.paths.findings_file(task_id)
            write_text_atomic(target, redact(findings))
            findings_path = self.paths.relative(target)
        at = doc.now_iso()

        def change(document: doc.Document) -> None:
            task = doc.set_status(document, task_id, "completed", at=at, derived=False,
                                  findingsPath=findings_path)
            task.pop("error", None)

        self._change(change)
        if self.update_plan:
            self._tick(task_id)

    def failed(self, task_id: str, error: str, category: str, attempt: int) -> None:
        """Record a failed attempt with its error and category (transient or permanent)."""
        at = doc.now_iso()
        error = redact(error)

        def change(document: doc.Document) -> None:
            task = doc.set_status(document, task_id, "failed", at=at, derived=False, error=error[-4000:])
            task.setdefault("retryCount", attempt - 1)
            task["lastError"], task["lastErrorAt"] = error[-4000:], at
            task.setdefault(doc.OURS, {})["failureCategory"] = category

        self._change(change)

    def add_usage(self, task_id: str, usage: dict[str, float | int]) -> None:
        """Add an attempt's cost, tokens and turns to the task's ``planTasks.usage``
        (every attempt of every run: what the task cost so far)."""

        def change(document: doc.Document) -> None:
            ours = doc.find_task(document, task_id).setdefault(doc.OURS, {})
            if not isinstance(ours.get("usage"), dict):
                ours["usage"] = {}
            totals = ours["usage"]
            for key, value in usage.items():
                before = totals.get(key)
                if isinstance(before, (int, float)) and not isinstance(before, bool):
                    value = before + value  # a value edited into something else is started afresh
                totals[key] = round(value, 6) if isinstance(value, float) else value

        self._change(change)

    def skipped(self, task_ids: list[str], reasons: dict[str, str], because_of: dict[str, str]) -> None:
        """Skip tasks because a task they depend on failed (they run again once it is fixed)."""
        if not task_ids:
            return
        at = doc.now_iso()

        def change(document: doc.Document) -> None:
            for task_id in task_ids:
                doc.mark_skipped(document, task_id, doc.SKIP_FAILURE, reasons.get(task_id),
                                 because_of=because_of.get(task_id), at=at, derived=False)

        self._change(change)

    def attempt_ended(self, task_id: str, entry: dict[str, Any]) -> None:
        """Keep an attempt (``run.attempts.attempt_entry``) under the task's ``planTasks.attempts``."""
        from plan_tasks.run.attempts import add_attempt

        self._change(lambda document: add_attempt(document, task_id, entry))

    def note_run(self, **settings: Any) -> None:
        """Keep this run's settings (``maxParallel=N``) under its entry's ``planTasks``."""
        from plan_tasks.run.attempts import note_run

        if self.run_id is not None:
            run_id = self.run_id
            self._change(lambda document: note_run(document, run_id, **settings))

    def was_started(self, task_id: str) -> bool:
        return task_id in self._started

    def interrupted(self, task_id: str, note: str) -> None:
        """Put a task the run stopped back to ``pending``, saying so in its notes."""
        at = doc.now_iso()

        def change(document: doc.Document) -> None:
            task = doc.set_status(document, task_id, "pending", at=at, derived=False, notes=note)
            task.pop("completedAt", None)
            task.pop("duration", None)

        self._change(change)

    def log_file(self, task_id: str) -> Path:
        """One log file per task (``logs/<id>.log`` in the plan's output folder),
        every attempt of every run in it."""
        return self.paths.output_dir / "logs" / f"{task_id.replace('/', '-')}.log"

    def begin_attempt_log(self, task_id: str, attempt: int) -> AttemptLog:
        """Open an attempt's part of the task's log with a heading line; its
        output is then appended to the file as it arrives (``executors.process``)."""
        target = self.log_file(task_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as log:
            log.write(f"===== {doc.now_iso()} task {task_id} attempt {attempt}\n".encode())
            return AttemptLog(target, task_id, attempt, log.tell())

    def end_attempt_log(self, log: AttemptLog, heading: str, output: str = "") -> Path:
        """Close an attempt's part of the log with how it ended. ``output`` is
        written only if nothing was streamed there (a Python call, a failure
        before the process started): streamed output is in the file already."""
        with open(log.path, "a+b") as file:
            streamed = file.seek(0, os.SEEK_END) > log.start
            if not streamed and output:
                file.write(redact(output).encode("utf-8", errors="replace"))
            if file.tell() > log.start and not _ends_with_newline(file):
                file.write(b"\n")
            file.write(redact(f"----- {doc.now_iso()} task {log.task_id} attempt {log.attempt}: {heading}\n").encode())
        return log.path

    def log_attempt(self, task_id: str, attempt: int, heading: str, output: str) -> Path:
        """Log a whole attempt at once (its output known in full); returns the file's path."""
        return self.end_attempt_log(self.begin_attempt_log(task_id, attempt), heading, output)

    def end(self, completed: int, failed: int) -> list[str]:
        """Write what is pending, close the run record; returns status write errors met."""
        errors = self.flush()
        if self.run_id is not None:
            with transaction(self.paths) as document:
                doc.complete_run(document, self.run_id, completed, failed)
        return errors

    def findings_of(self, task_ids: list[str]) -> dict[str, str]:
        found = {}
        for task_id in task_ids:
            try:
                found[task_id] = self.paths.findings_file(task_id).read_text(encoding="utf-8")
            except OSError:
                continue
        return found

    def _tick(self, task_id: str) -> None:
        """Record the task as done in the plan: its box checked, if its line still
        is that task's; in a Task Master tasks.json, its status set to done."""
        task = self.plan.task_by_id[task_id]
        # The unchecked box followed by this very id (bold or not), not 1.20, 1.2.1 or a mention.
        unchecked = re.compile(_UNCHECKED.pattern + r"(?=\s+(?:\*\*|__)?" + re.escape(task_id) + r"(?!\w|\.\w))")
        with self._plan_lock:
            try:
                raw = self.paths.plan.read_bytes()
                text = raw.decode("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise PlanError(f"cannot update the plan: {error}", location=self.paths.plan_ref) from None
            if self.plan.dialect == "taskmaster" and self.paths.plan.suffix == ".json":
                from plan_tasks.parse.taskmaster_status import TO_TASKMASTER, update_taskmaster_status

                updated = update_taskmaster_status(text, task_id, TO_TASKMASTER["completed"])
            else:
                lines = text.split("\n")
                index = task.line - 1
                if index >= len(lines) or not unchecked.match(lines[index]):
                    return
                lines[index] = unchecked.sub(r"\1[x]", lines[index], count=1)
                updated = "\n".join(lines)
            if updated == text:
                return
            data = updated.encode("utf-8")
            write_atomic(self.paths.plan, data)
            with transaction(self.paths) as document:
                ours = document.setdefault(doc.OURS, {})
                # If only this tick changed the plan since the last sync, status.json stays
                # in sync; any other edit must still be reported by `next`.
                if ours.get("planHash") == hashlib.sha256(raw).hexdigest():
                    ours["planHash"] = hashlib.sha256(data).hexdigest()


_PHASE_SELECTOR = re.compile(r"^(?:phase|p):(?P<label>\d+(?:\.\d+)*)$", re.IGNORECASE)


def tasks_to_run(plan: Plan, snapshot: dict[str, Any], selection: tuple[str, ...] | list[str] = (),
                 predecessors: dict[str, list[str]] | None = None) -> list[str]:
    """The tasks a run executes, as the seed's ``plan:batch`` selects them:
    every unfinished task, or the listed ids, or ``phase:N`` / ``p:N``.

    A task named by its id runs whatever its status. Otherwise completed tasks
    and tasks skipped on purpose (by the plan, ``mark-skipped``) never run
    again; pending, failed and interrupted (``in_progress``) ones do, and so
    does a task skipped because a task it depends on failed, once that cause
    is gone: each of its ``predecessors`` is completed, skipped on purpose, or
    runs again in this run.
    """
    entries = {task.get("id"): task for task in snapshot["tasks"]}
    chosen: list[str] = []
    named: set[str] = set()
    for selector in selection or ("all",):
        phase = _PHASE_SELECTOR.match(selector)
        if selector == "all":
            chosen.extend(plan.task_by_id)
        elif phase:
            chosen.extend(_phase_tasks(plan, phase.group("label")))
        elif selector in plan.task_by_id:
            chosen.append(selector)
            named.add(selector)
        else:
            import difflib

            close = difflib.get_close_matches(selector, list(plan.task_by_id), n=1, cutoff=0.5)
            raise PlanError(f"no task {selector} in {plan.path}",
                            f"did you mean {close[0]}?" if close else "select tasks by id, `phase:N` or `p:N`")
    unique = list(dict.fromkeys(chosen))
    skipped_for_failure = {task_id for task_id in unique if task_id not in named
                           and doc.skip_cause(entries.get(task_id) or {}) == doc.SKIP_FAILURE}
    run = {task_id for task_id in unique if task_id in named or task_id in skipped_for_failure
           or (entries.get(task_id) or {}).get("status") not in doc.FINISHED}
    _drop_skipped_whose_cause_remains(run, skipped_for_failure, entries, predecessors or {})
    return [task_id for task_id in unique if task_id in run]


def _phase_tasks(plan: Plan, label: str) -> list[str]:
    # `phase:3` is the phase labelled 3; only without one, every phase numbered 3 (3.1, 3.2).
    matching = [p for p in plan.phases if p.label == label] or [p for p in plan.phases if str(p.number) == label]
    if not matching:
        known = ", ".join(p.label for p in plan.phases)
        raise PlanError(f"no phase {label} in {plan.path}", f"phases are: {known}")
    return [task_id for found in matching for task_id in found.task_ids]


def _drop_skipped_whose_cause_remains(run: set[str], candidates: set[str], entries: dict[Any, dict[str, Any]],
                                      predecessors: dict[str, list[str]]) -> None:
    """Remove from ``run`` the failure-skipped ``candidates`` that would still
    wait for an unfinished task this run does not execute (and, in turn, the
    candidates waiting for those). Linear: each drop is pushed to the
    candidates that wait for it, never found by another pass over all."""
    waiting_for: dict[str, list[str]] = {}
    for task_id in candidates & run:
        for upstream in predecessors.get(task_id, ()):
            waiting_for.setdefault(upstream, []).append(task_id)

    def unfinished_outside(upstream: str) -> bool:
        entry = entries.get(upstream) or {}
        return upstream not in run and entry.get("status") != "completed" and doc.skip_cause(entry) in (
            None, doc.SKIP_FAILURE)

    stack = [task_id for task_id in candidates & run
             if any(unfinished_outside(upstream) for upstream in predecessors.get(task_id, ()))]
    while stack:
        task_id = stack.pop()
        if task_id not in run:
            continue
        run.discard(task_id)
        stack.extend(dependant for dependant in waiting_for.get(task_id, ()) if dependant in run)
