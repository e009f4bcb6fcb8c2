"""The one vocabulary of task states: status.json's statuses and the run's.

Every module that names a state takes it from here: the model (a task's
initial status), the status document, ``next``'s selectors, ``show`` and the
run's scheduler. Nothing is imported: ``next`` and the marking commands load
this module on every call.

Two sets of words, sharing three:

* a task's **status**, as status.json stores it (the seed system's five);
* a task's **run state**, which only the scheduler of a running plan knows:
  ``waiting`` and ``running`` before a task ends, and two ends that leave the
  task pending in status.json: ``interrupted`` (stopped while running) and
  ``cancelled`` (never started, because the run stopped).

And the groups the ready-set rule needs, named once:

* ``FINISHED``: a task its dependants no longer wait for (completed or
  skipped); the phase gate of ``next`` counts these;
* ``ENDED``: a status with an end time (finished, or failed);
* ``SETTLED``: a run state that is final for the run; the run's phase gate
  counts these, so that one failure does not stall the plan.
"""

from __future__ import annotations

from typing import Literal, get_args

TaskStatus = Literal["pending", "in_progress", "completed", "failed", "skipped"]
"""The seed system's task statuses, as stored in status.json."""

RunState = Literal["waiting", "running", "completed", "failed", "skipped", "interrupted", "cancelled"]
"""Where a task stands in a running plan (the scheduler's word for it)."""

PENDING: TaskStatus = "pending"
IN_PROGRESS: TaskStatus = "in_progress"
COMPLETED: TaskStatus = "completed"
FAILED: TaskStatus = "failed"
SKIPPED: TaskStatus = "skipped"

WAITING: RunState = "waiting"  # to run, not started yet
RUNNING: RunState = "running"
INTERRUPTED: RunState = "interrupted"  # stopped while running: pending again in status.json
CANCELLED: RunState = "cancelled"  # never started: the run was stopped first

STATUSES: tuple[TaskStatus, ...] = get_args(TaskStatus)
RUN_STATES: tuple[RunState, ...] = get_args(RunState)
FINISHED: frozenset[str] = frozenset({COMPLETED, SKIPPED})
ENDED: frozenset[str] = frozenset({COMPLETED, FAILED, SKIPPED})
SETTLED: frozenset[str] = frozenset({COMPLETED, FAILED, SKIPPED, INTERRUPTED, CANCELLED})
