"""The driver of a run: every side effect of running a plan's tasks. No Prefect here.

A Prefect task gets a :class:`~plan_tasks.executors.outcome.TaskRequest` and
gives back a :class:`~plan_tasks.executors.outcome.TaskOutcome` or a
``TaskFailure``; it may run in a thread of this process or in another
process altogether. Everything else happens here, in the process that runs
the flow (the seed's read-only agent principle, applied to every executor):
status.json (``run_record``), the agent's FILE blocks, findings, the
attempt's log headings, the terminal and the events (``run_report``), and
the decision to retry.

Retries are the driver's too, so that each attempt is on record as it starts
and ends, wherever it runs, and a run being stopped never waits out a retry
delay: a transient failure with retries left is scheduled again after an
exponential backoff with jitter, as a new task run of the same task.
"""

from __future__ import annotations

import heapq
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plan_tasks.errors import PlanError
from plan_tasks.executors import choose_executor
from plan_tasks.executors.file_blocks import write_blocks
from plan_tasks.executors.outcome import AgentUsage, TaskFailure, TaskOutcome, TaskRequest
from plan_tasks.load import LoadedPlan
from plan_tasks.run.record import AttemptLog, RunRecord
from plan_tasks.run.report import RunReporter, display_path
from plan_tasks.run.scheduler import RunScheduler
from plan_tasks.run.settings import RunSettings
from plan_tasks.status.document import now_iso

OUTPUT_TAIL_CHARACTERS = 4000  # of a failed attempt's output, kept for the terminal (the log has it all)
JITTER = 0.5  # a retry waits its backoff times a factor from 1 - JITTER to 1 + JITTER


@dataclass
class Attempt:
    """One attempt of a task, from its start on record to its end."""

    task_id: str
    number: int
    log: AttemptLog | None
    began: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=now_iso)  # for the attempt's entry in status.json


@dataclass
class RunDriver:
    """One run's state outside Prefect: what was handed out, how each attempt ended."""

    settings: RunSettings
    loaded: LoadedPlan
    root: Path
    record: RunRecord
    scheduler: RunScheduler
    reporter: RunReporter
    max_parallel: int
    agent_command: tuple[str, ...]
    output_limit: int | None = None
    protected: tuple[str, ...] = ()
    stop_name: str = "the user"  # what stopped the run, for the notes of interrupted tasks
    limiter: Any = None  # rate_limit.RateLimiter of agent starts, when one is set
    runs: Any = None  # compile.RunIds: the Prefect ids of this run, for events and artifacts
    progress_ticker: Any = None  # run_artifacts.ProgressTicker, once the progress artifact exists
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: list[str] = field(default_factory=list)  # started, then stopped with the run
    attempts: dict[str, Attempt] = field(default_factory=dict)  # running, by task id
    usage: AgentUsage = field(default_factory=AgentUsage)  # what the run's agent attempts cost, summed
    budget_reached: str | None = None  # why no more tasks are handed out, once the run's cost reached its budget
    lock: threading.Lock = field(default_factory=threading.Lock)
    _retries: list[tuple[float, str, int]] = field(default_factory=list)  # heap of (due, task id, attempt)
    report_path: Path | None = None  # the timeline report, once written (write_reports)

    def __post_init__(self) -> None:
        self.record.note_run(maxParallel=self.max_parallel)  # the timeline report's slot count

    # -- starting attempts ---------------------------------------------------------

    def start(self, starts: list[tuple[str, int]]) -> list[TaskRequest]:
        """Put the attempts ``(task id, number)`` on record, then build their requests.

        status.json says ``in_progress`` before the requests exist, so no
        task's work begins while it still says ``pending``.
        """
        for task_id, _ in starts:
            if self.limiter is not None and self.kind_of(task_id) == "agent":
                self.limiter.acquire()
        self.record.started_all(starts)
        return [self._request(task_id, number) for task_id, number in starts]

    def kind_of(self, task_id: str) -> str:
        return choose_executor(self.loaded.plan.task_by_id[task_id], self.settings.executor)

    def _request(self, task_id: str, number: int) -> TaskRequest:
        plan = self.loaded.plan
        task = plan.task_by_id[task_id]
        log = self._begin_log(task_id, number)
        with self.lock:
            self.attempts[task_id] = Attempt(task_id, number, log)
        return TaskRequest(
            task=task, plan_title=plan.title, phase_name=plan.phase_of(task).name, root=self.root,
            executor=self.kind_of(task_id), attempt=number, timeout=self.settings.timeout_seconds,
            dependency_findings=self.record.findings_of(self.loaded.graph.predecessors[task_id]),
            agent_command=self.agent_command, log_path=log.path if log else None,
            output_limit=self.output_limit, protected=self.protected,
            slots=min(task.weight, self.max_parallel), agent_preset=self.settings.agent,
            plan_path=str(self.record.paths.plan),
        )

    def announce(self, task_id: str) -> None:
        """Say an attempt started (once its Prefect task run exists, so the event names it)."""
        attempt = self.attempts[task_id]
        self.reporter.task_event("started" if attempt.number == 1 else "retrying", task_id,
                                 self.loaded.plan.task_by_id[task_id].title, attempt=attempt.number)

    # -- how attempts end -----------------------------------------------------------

    def succeeded(self, task_id: str, outcome: TaskOutcome) -> None:
        """Write the attempt's FILE blocks and findings; settle the task. A block
        that cannot be written fails the task instead (permanently)."""
        attempt = self.attempts[task_id]
        try:
            written = list(outcome.files_written) + write_blocks(self.root, outcome.blocks, self.protected)
        except TaskFailure as failure:
            self.failed(task_id, failure)
            return
        self._end_log(attempt, _with_usage("completed", outcome.usage), outcome.output)
        self._keep_attempt(attempt, "completed")
        self.record.completed(task_id, outcome.findings)
        with self.lock:
            usage = self.outcomes.get(task_id, {}).get("usage")  # of its failed attempts in this run
            self.outcomes[task_id] = {"files": written, "attempts": attempt.number, "seconds": outcome.seconds,
                                      "usage": usage}
        self._count_usage(task_id, outcome.usage)
        self._check_budget()  # before its slot is freed: no task may start on a budget already spent
        self._settle(task_id, succeeded=True)

    def failed(self, task_id: str, failure: TaskFailure) -> None:
        """Record a failed attempt; retry it later if it may help, else settle the task."""
        attempt = self.attempts[task_id]
        first_line = failure.message.splitlines()[0] if failure.message else "failed"
        retry = failure.category == "transient" and attempt.number <= self.settings.retries \
            and not self.scheduler.cancelled
        heading = f"failed, {failure.category}: {first_line}" + (", retrying" if retry else "")
        shown = self._end_log(attempt, _with_usage(heading, failure.usage), failure.output or failure.message)
        self._keep_attempt(attempt, "failed", failure.category, first_line)
        self.record.failed(task_id, failure.message, failure.category, attempt.number)
        with self.lock:
            usage = self.outcomes.get(task_id, {}).get("usage")  # of its earlier attempts in this run
            self.outcomes[task_id] = {"error": failure.message, "category": failure.category,
                                      "attempts": attempt.number, "log": shown,
                                      "output": failure.output[-OUTPUT_TAIL_CHARACTERS:], "usage": usage}
        self._count_usage(task_id, failure.usage)
        if retry:
            delay = self.settings.retry_delay_seconds * 2 ** (attempt.number - 1)
            delay *= random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - spreading retries, not security
            with self.lock:
                heapq.heappush(self._retries, (time.monotonic() + delay, task_id, attempt.number + 1))
            self._check_budget()  # after the retry is queued: a budget reached now drops it
            return  # its phase loop submits it when due (next_retry_in bounds the loop's wait)
        self._check_budget()
        self._settle(task_id, succeeded=False)

    # -- cost ----------------------------------------------------------------------------

    def _count_usage(self, task_id: str, usage: AgentUsage | None) -> None:
        """Add an attempt's cost to its task's (this run's, and status.json's) and to the run's."""
        if usage is None or usage.is_empty():
            return
        with self.lock:
            outcome = self.outcomes.setdefault(task_id, {})
            outcome["usage"] = usage if outcome.get("usage") is None else outcome["usage"] + usage
            self.usage += usage
        self.record.add_usage(task_id, usage.to_json())

    def _check_budget(self) -> None:
        """Once the run's cost reaches ``--budget-usd``, hand out nothing more: running
        attempts finish, tasks not started (and retries not due) stay pending."""
        budget = self.settings.budget_usd
        with self.lock:
            spent = self.usage.cost_usd
            if budget is None or spent is None or spent < budget or self.budget_reached:
                return
            self.budget_reached = f"the run's agents cost ${spent:.4f}, reaching its budget (--budget-usd {budget:g})"
        self.stop_name = "the budget"
        self.scheduler.cancel()
        self.drop_retries()

    def stopped(self, task_id: str, message: str | None) -> None:
        """An attempt stopped with the run (or never started): back to pending, said once."""
        attempt = self.attempts.get(task_id)
        if attempt is not None:
            self._end_log(attempt, f"interrupted ({self.stop_name})", "")
            self._keep_attempt(attempt, "interrupted")
            self.record.interrupted(task_id, f"interrupted by {self.stop_name}; runs again on the next "
                                             "`plan-tasks run`")
            with self.lock:
                self.interrupted.append(task_id)
            self.reporter.task_event("interrupted", task_id, self.loaded.plan.task_by_id[task_id].title,
                                     reason=message or self.stop_name)
        self.scheduler.finish(task_id, False, interrupted=True)

    def _settle(self, task_id: str, succeeded: bool) -> None:
        skipped = self.scheduler.finish(task_id, succeeded)
        try:
            self._report(task_id, succeeded, skipped)
        except Exception as error:  # noqa: BLE001 - reporting must not stop the run
            print(f"plan-tasks: warning: could not record the end of task {task_id}: {error}", file=sys.stderr)

    def _report(self, task_id: str, succeeded: bool, skipped: list[str]) -> None:
        plan = self.loaded.plan
        outcome = self.outcomes.get(task_id, {})
        usage = outcome.get("usage")
        spent = {"usage": usage.to_json()} if usage is not None else {}
        if succeeded:
            self.reporter.task_event("completed", task_id, plan.task_by_id[task_id].title,
                                     duration_seconds=outcome.get("seconds"), **spent)
        else:
            self.reporter.task_event("failed", task_id, plan.task_by_id[task_id].title, error=outcome.get("error"),
                                     category=outcome.get("category", "permanent"), log=outcome.get("log"),
                                     output=outcome.get("output", ""), **spent)
        if skipped:
            reasons = {skipped_id: self.scheduler.skip_reasons[skipped_id] for skipped_id in skipped}
            self.record.skipped(skipped, reasons, self.scheduler.skipped_because_of)
            for skipped_id in skipped:
                self.reporter.task_event("skipped", skipped_id, plan.task_by_id[skipped_id].title,
                                         reason=reasons[skipped_id])

    # -- retries ----------------------------------------------------------------------

    def due_retries(self, phase: int) -> list[tuple[str, int]]:
        """The retries of ``phase``'s tasks whose delay is over, taken off the queue."""
        now, due, kept = time.monotonic(), [], []
        with self.lock:
            while self._retries and self._retries[0][0] <= now:
                entry = heapq.heappop(self._retries)
                (due if self.loaded.graph.phase_of[entry[1]] == phase else kept).append(entry)
            for entry in kept:
                heapq.heappush(self._retries, entry)
        return [(task_id, number) for _, task_id, number in due]

    def next_retry_in(self, phase: int) -> float | None:
        """Seconds until the next retry of ``phase`` is due, if one waits."""
        with self.lock:
            dues = [due for due, task_id, _ in self._retries if self.loaded.graph.phase_of[task_id] == phase]
        return max(0.0, min(dues) - time.monotonic()) if dues else None

    def drop_retries(self) -> None:
        """The run is being stopped: the tasks waiting to retry go back to pending."""
        with self.lock:
            waiting, self._retries = [task_id for _, task_id, _ in self._retries], []
        for task_id in waiting:
            self.stopped(task_id, f"stopped by {self.stop_name} before its retry")

    def _keep_attempt(self, attempt: Attempt, outcome: str, category: str | None = None,
                      error: str | None = None) -> None:
        """Put the attempt's times, outcome and log under its task's ``planTasks.attempts``."""
        from plan_tasks.redact import redact
        from plan_tasks.run.attempts import attempt_entry

        # A completed attempt's log is not linked from anywhere: leaving it out keeps status.json smaller.
        log = self.record.paths.relative(attempt.log.path) if attempt.log and outcome != "completed" else None
        self.record.attempt_ended(attempt.task_id, attempt_entry(
            self.record.run_id, attempt.number, attempt.started_at, now_iso(), outcome, category=category,
            error=redact(error) if error else None, log=log))

    # -- after the run -----------------------------------------------------------------

    def write_reports(self) -> None:
        """The timeline report (``--report``) and the JUnit file (``--junit``) of this run, from
        status.json once the run's record is closed; a report that cannot be written is a warning."""
        if not (self.settings.report or self.settings.junit):
            return
        from plan_tasks.timeline.outputs import write_run_outputs

        try:
            written = write_run_outputs(self.record.paths, self.loaded, self.record.run_id, self.settings)
        except (OSError, ValueError, PlanError) as error:
            print(f"plan-tasks: warning: could not write the run's report: {error}", file=sys.stderr)
            return
        self.report_path = written.get("report")
        for kind, path in written.items():
            print(f"{kind}: {display_path(path)}", file=sys.stderr)

    # -- the attempt's log ------------------------------------------------------------

    def _begin_log(self, task_id: str, number: int) -> AttemptLog | None:
        try:
            return self.record.begin_attempt_log(task_id, number)
        except OSError as error:
            print(f"plan-tasks: warning: could not write the log of task {task_id}: {error}", file=sys.stderr)
            return None

    def _end_log(self, attempt: Attempt, heading: str, output: str) -> str | None:
        """Close the attempt's part of the log; the log's path as the terminal shows it."""
        if attempt.log is None:
            return None
        try:
            return display_path(self.record.end_attempt_log(attempt.log, heading, output))
        except OSError as error:
            print(f"plan-tasks: warning: could not write the log of task {attempt.task_id}: {error}",
                  file=sys.stderr)
            return None


def _with_usage(heading: str, usage: AgentUsage | None) -> str:
    """An attempt's closing log heading, with what it cost when the agent said."""
    described = usage.describe() if usage is not None else ""
    return f"{heading} ({described})" if described else heading
