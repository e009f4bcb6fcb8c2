"""Each attempt of a task on record in status.json, for the timeline report. No Prefect here.

status.json's own task fields say how the *last* attempt went (``startedAt``,
``completedAt``, ``retryCount``); a report of a run needs every attempt: when
it started and ended, how it ended, and where its log is. They are kept under
the task's ``planTasks.attempts``, newest last, at most ATTEMPTS_KEPT of them
(older runs' attempts drop off first), and each run's settings that the
report reads (``maxParallel``) under the run's ``planTasks``. These functions
change a document in memory; ``RunRecord`` writes them in its transactions.
"""

from __future__ import annotations

from typing import Any

from plan_tasks.status import document as doc

ATTEMPTS_KEPT = 20  # per task: three attempts of the last six runs, or so
ERROR_CHARACTERS = 300  # of a failed attempt's error (status.json's `lastError` keeps 4,000)
OUTCOMES = ("completed", "failed", "interrupted")


def attempt_entry(run_id: str | None, number: int, started_at: str, ended_at: str, outcome: str, *,
                  category: str | None = None, error: str | None = None, log: str | None = None) -> dict[str, Any]:
    """One attempt as status.json keeps it: only the keys that have a value."""
    entry: dict[str, Any] = {"run": run_id, "attempt": number, "startedAt": started_at, "endedAt": ended_at,
                             "outcome": outcome, "category": category,
                             "error": error[:ERROR_CHARACTERS] if error else None, "log": log}
    return {key: value for key, value in entry.items() if value is not None}


def add_attempt(document: doc.Document, task_id: str, entry: dict[str, Any]) -> None:
    """Append an attempt to the task's ``planTasks.attempts``, dropping the oldest past ATTEMPTS_KEPT."""
    task = doc.find_task(document, task_id)
    ours = task.setdefault(doc.OURS, {})
    kept = ours.get("attempts")
    attempts = [*kept, entry] if isinstance(kept, list) else [entry]
    ours["attempts"] = attempts[-ATTEMPTS_KEPT:]


def note_run(document: doc.Document, run_id: str, **settings: Any) -> None:
    """Keep a run's settings (``maxParallel``) under its entry's ``planTasks``."""
    for run in document.get("runs") or []:
        if run.get("runId") == run_id:
            run.setdefault(doc.OURS, {}).update({key: value for key, value in settings.items() if value is not None})
            return
