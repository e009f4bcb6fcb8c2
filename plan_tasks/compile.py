"""A plan as a Prefect flow: the only library module that imports Prefect when imported.

Shape of a run (the design card's):

* one flow run per plan, named after the plan;
* one subflow per phase, named ``Phase N: Title``, started when its first task
  becomes ready or, below phase gate 1, as soon as the phase before it is
  open, so that it exists when its own gate opens (with ``phase_gate=0``
  phases overlap in time);
* one Prefect task run per plan task, named ``<id> <title>``, submitted only
  once everything it waits for has finished, with those upstream futures as
  ``wait_for``: the run graph shows every dependency, sequential chain and file
  conflict, and no worker thread ever blocks on an upstream task (the known
  deadlock of small pools with nested waits);
* retries with exponential backoff and jitter, spent only on transient
  failures (``retry_condition_fn``); a failed task's dependants are skipped;
  the flow ends Failed when any task failed.

The decisions live in Prefect-free modules (``scheduler``, ``run_record``,
``run_report``, ``executors``), which this module wires to Prefect.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from plan_tasks.errors import PlanError
from plan_tasks.executors import choose_executor
from plan_tasks.executors.outcome import TaskFailure, TaskRequest
from plan_tasks.global_slots import ensure_global_limit as _ensure_global_limit
from plan_tasks.global_slots import global_slots
from plan_tasks.interrupt import STOP
from plan_tasks.load import LoadedPlan
from plan_tasks.model import Task
from plan_tasks.redact import configure as configure_redaction
from plan_tasks.redact import redact
from plan_tasks.run_config import RunSettings
from plan_tasks.run_artifacts import emitter as _emit
from plan_tasks.run_artifacts import outcome_table as _outcome_table
from plan_tasks.run_artifacts import start_artifacts as _start_artifacts
from plan_tasks.run_lock import hold_run_lock, note_run_id
from plan_tasks.run_prepare import PreparedRun, handed_over, prepare_run
from plan_tasks.run_record import AttemptLog, RunRecord
from plan_tasks.run_report import RunReporter
from plan_tasks.scheduler import RunScheduler
from plan_tasks.status.paths import resolve_plan
from plan_tasks.task_groups import GroupRecorder, after_dead_run

WAIT_SECONDS = 0.5  # how often a phase loop looks again when nothing finished
SUBFLOW_START_TIMEOUT = 30.0  # longest wait for one phase subflow to start before starting the next
OUTPUT_TAIL_CHARACTERS = 4000  # of a failed attempt's output, kept for the terminal (the log has it all)


class PlanRunFailed(Exception):
    """Raised at the end of a run with failed tasks, so the flow run ends Failed."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class RunIds:
    """The Prefect runs of one plan run: the plan's flow run, each phase's subflow run, each task's future."""

    phase_of: dict[str, int]
    plan_flow_run: Any = None
    phase_flow_runs: dict[int, Any] = field(default_factory=dict)
    futures: dict[str, PrefectFuture[Any]] = field(default_factory=dict)

    @classmethod
    def of_current_flow_run(cls, phase_of: dict[str, int]) -> RunIds:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        return cls(phase_of, plan_flow_run=context.flow_run.id if context and context.flow_run else None)

    def of_task(self, task_id: str) -> tuple[Any, Any]:
        """A task's task run id (None before it is submitted) and the flow run it
        runs in: its phase's subflow run, or the plan's before that one started."""
        future = self.futures.get(task_id)
        phase_run = self.phase_flow_runs.get(self.phase_of.get(task_id, -1), self.plan_flow_run)
        return (future.task_run_id if future is not None else None), phase_run


@dataclass
class ActiveRun:
    """Everything the Prefect tasks of one run share (they run as threads of this process)."""

    key: str
    settings: RunSettings
    loaded: LoadedPlan
    root: Path
    record: RunRecord
    scheduler: RunScheduler
    reporter: RunReporter
    max_parallel: int
    agent_command: tuple[str, ...]
    output_limit: int | None = None
    protected: tuple[str, ...] = ()  # path patterns FILE blocks may not write (executors.safe_paths)
    limiter: Any = None
    groups: GroupRecorder | None = None  # records task process groups for the run after a crash
    prefect_task: Any = None  # execute_plan_task with this run's options, built once
    progress_ticker: Any = None  # run_artifacts.ProgressTicker, once the progress artifact exists
    runs: RunIds = field(default_factory=lambda: RunIds({}))
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: list[str] = field(default_factory=list)  # started, then stopped with the run
    lock: threading.Lock = field(default_factory=threading.Lock)
    phase_started: dict[int, threading.Event] = field(default_factory=dict)


ACTIVE_RUNS: dict[str, ActiveRun] = {}


# -- the Prefect task ----------------------------------------------------------


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only failures an attempt more may fix (see executors.outcome)."""
    try:
        state.result()
    except TaskFailure as failure:
        return failure.category == "transient"
    except BaseException:  # noqa: BLE001 - anything unexpected is permanent
        return False
    return False


@task(cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=_retry_transient)
def execute_plan_task(run_key: str, task_id: str) -> Any:
    """Run one plan task with its executor; status.json follows every attempt.

    Returns a Cancelled state, instead of running or failing, once the run is
    being stopped (Ctrl-C, SIGTERM): the task did not fail, it was interrupted.
    """
    from prefect.runtime import task_run
    from prefect.states import Cancelled

    run = ACTIVE_RUNS[run_key]
    if STOP.requested():
        return Cancelled(message=f"not started: the run was stopped ({STOP.name})")
    plan_task = run.loaded.plan.task_by_id[task_id]
    attempt = int(task_run.run_count or 1)
    run.record.started(task_id, attempt)
    run.reporter.task_event("started" if attempt == 1 else "retrying", task_id, plan_task.title, attempt=attempt)
    log = _begin_log(run, task_id, attempt)
    request = TaskRequest(
        task=plan_task,
        plan_title=run.loaded.plan.title,
        phase_name=run.loaded.plan.phase_of(plan_task).name,
        root=run.root,
        timeout=run.settings.timeout_seconds,
        dependency_findings=run.record.findings_of(run.loaded.graph.predecessors[task_id]),
        agent_command=run.agent_command,
        on_process_start=run.groups.record if run.groups else None,
        log_path=log.path if log else None,
        output_limit=run.output_limit,
        protected=run.protected,
    )
    began = time.monotonic()
    try:
        outcome = _execute(run, plan_task, request)
    except Exception as error:  # noqa: BLE001 - a bug or a surprise fails this task, not the run
        failure = error if isinstance(error, TaskFailure) else TaskFailure(f"{type(error).__name__}: {error}",
                                                                             "permanent")
        # Its message becomes the task run's state message and Prefect's log line: no secrets.
        failure = TaskFailure(redact(failure.message), failure.category, redact(failure.output))
        if STOP.requested():
            _end_log(run, log, f"interrupted ({STOP.name})", failure.output)
            return Cancelled(message=f"interrupted ({STOP.name})")
        shown = _end_log(run, log, f"failed, {failure.category}: {failure.message.splitlines()[0]}",
                         failure.output or failure.message)
        run.record.failed(task_id, failure.message, failure.category, attempt)
        with run.lock:
            run.outcomes[task_id] = {"error": failure.message, "category": failure.category, "attempts": attempt,
                                     "log": shown, "output": failure.output[-OUTPUT_TAIL_CHARACTERS:]}
        # The original is kept as the cause (its traceback helps) unless it carries a secret.
        cause = None if isinstance(error, TaskFailure) or redact(str(error)) != str(error) else error
        raise failure from cause
    _end_log(run, log, "completed", outcome.output)
    run.record.completed(task_id, outcome.findings)
    with run.lock:
        run.outcomes[task_id] = {"files": list(outcome.files_written), "attempts": attempt,
                                 "seconds": time.monotonic() - began}
    return None


def _begin_log(run: ActiveRun, task_id: str, attempt: int) -> AttemptLog | None:
    """Open the attempt's part of the task's log file, where its output streams (None if it cannot be)."""
    try:
        return run.record.begin_attempt_log(task_id, attempt)
    except OSError as error:
        print(f"plan-tasks: warning: could not write the log of task {task_id}: {error}", file=sys.stderr)
        return None


def _end_log(run: ActiveRun, log: AttemptLog | None, heading: str, output: str) -> str | None:
    """Close the attempt's part of the log; the log's path as the terminal shows it
    (None when it could not be written)."""
    from plan_tasks.run_report import display_path

    if log is None:
        return None
    try:
        return display_path(run.record.end_attempt_log(log, heading, output))
    except OSError as error:
        print(f"plan-tasks: warning: could not write the log of task {log.task_id}: {error}", file=sys.stderr)
        return None


def _execute(run: ActiveRun, plan_task: Task, request: TaskRequest) -> Any:
    from plan_tasks.executors.agent import run_agent
    from plan_tasks.executors.python_call import run_python
    from plan_tasks.executors.shell import run_shell

    kind = choose_executor(plan_task, run.settings.executor)
    with global_slots(plan_task.weight, run.max_parallel):
        if kind == "agent" and run.limiter is not None:
            run.limiter.acquire()
        return {"shell": run_shell, "agent": run_agent, "python": run_python}[kind](request)


# -- phases and the plan ---------------------------------------------------------


def _on_done(run: ActiveRun, task_id: str, future: PrefectFuture[Any]) -> None:
    """A task run ended (after its retries): settle it, skip its dependants, report."""
    try:
        # The wrapped future is done, so wait() returns at once; it also records the
        # final state, which `state` would otherwise read from the API, possibly stale.
        future.wait()
        state = future.state
        succeeded, interrupted, message = state.is_completed(), state.is_cancelled(), state.message
    except Exception as error:  # noqa: BLE001 - an unreadable state must not hang the run
        succeeded, interrupted, message = False, False, f"state unavailable: {error}"
    # Always, or the phase loops would wait forever.
    skipped = run.scheduler.finish(task_id, succeeded, interrupted=interrupted)
    try:
        if interrupted:
            _report_interrupted(run, task_id, message)
            return
        _report_done(run, task_id, succeeded, message, skipped)
    except Exception as error:  # noqa: BLE001 - reporting must not stop the run
        print(f"plan-tasks: warning: could not record the end of task {task_id}: {error}", file=sys.stderr)


def _report_interrupted(run: ActiveRun, task_id: str, message: str | None) -> None:
    """A task stopped with the run (or never started): back to pending, said once."""
    if run.record.was_started(task_id):
        run.record.interrupted(task_id, f"interrupted by {STOP.name}; runs again on the next `plan-tasks run`")
        with run.lock:
            run.interrupted.append(task_id)
        run.reporter.task_event("interrupted", task_id, run.loaded.plan.task_by_id[task_id].title,
                                reason=message or STOP.name)


def _report_done(run: ActiveRun, task_id: str, succeeded: bool, message: str | None, skipped: list[str]) -> None:
    plan = run.loaded.plan
    title = plan.task_by_id[task_id].title
    outcome = run.outcomes.get(task_id, {})
    if succeeded:
        run.reporter.task_event("completed", task_id, title, duration_seconds=outcome.get("seconds"))
    else:
        run.reporter.task_event("failed", task_id, title, error=outcome.get("error", message),
                                category=outcome.get("category", "permanent"), log=outcome.get("log"),
                                output=outcome.get("output", ""))
    if skipped:
        reasons = {skipped_id: run.scheduler.skip_reasons[skipped_id] for skipped_id in skipped}
        run.record.skipped(skipped, reasons, run.scheduler.skipped_because_of)
        for skipped_id in skipped:
            run.reporter.task_event("skipped", skipped_id, plan.task_by_id[skipped_id].title,
                                    reason=reasons[skipped_id])


def _fixed(name: str) -> Any:
    return lambda: name


def _task_run_name(parameters: dict[str, Any]) -> str:
    """``<id> <title>``; a callable, as Prefect would format a string name with the
    parameters, and titles contain braces (`GET /reports/{id}`)."""
    task_id = str(parameters.get("task_id", ""))
    run = ACTIVE_RUNS.get(str(parameters.get("run_key", "")))
    title = run.loaded.plan.task_by_id[task_id].title if run and task_id in run.loaded.plan.task_by_id else ""
    return f"{task_id} {title}".strip()[:200] or "plan-task"


def _prefect_task(run: ActiveRun) -> Any:
    """The run's one Prefect task: ``with_options`` rebuilds a task (and reads its
    source), too slow to do for every submission."""
    from prefect.tasks import exponential_backoff

    delays = exponential_backoff(backoff_factor=run.settings.retry_delay_seconds)(max(run.settings.retries, 1))
    return execute_plan_task.with_options(
        name="plan-task",
        task_run_name=_task_run_name,
        retries=run.settings.retries,
        retry_delay_seconds=delays,
        retry_jitter_factor=0.5,
        # No default tag: Prefect checks tag concurrency limits on the server for every
        # tagged task run, one more contended write per task on SQLite.
        tags=list(run.settings.tags),
    )


@flow(persist_result=False, log_prints=False)
def run_phase(run_key: str, phase_index: int) -> Any:
    """One phase: submit its tasks as they become ready, until all have settled."""
    from prefect.context import FlowRunContext

    run = ACTIVE_RUNS[run_key]
    run.runs.phase_flow_runs[phase_index] = FlowRunContext.get().flow_run.id
    run.phase_started.setdefault(phase_index, threading.Event()).set()
    graph = run.loaded.graph
    mine: list[PrefectFuture[Any]] = []
    while not run.scheduler.phase_settled(phase_index):
        finishes = run.scheduler.finishes
        for task_id in run.scheduler.take(phase_index):
            with run.lock:
                upstream = [run.runs.futures[p] for p in graph.predecessors[task_id] if p in run.runs.futures]
            future = run.prefect_task.submit(run_key, task_id, wait_for=upstream)
            with run.lock:
                run.runs.futures[task_id] = future
            future.add_done_callback(lambda done, task_id=task_id: _on_done(run, task_id, done))
            mine.append(future)
        run.scheduler.wait(WAIT_SECONDS, finishes)
    for future in mine:
        future.wait()
    states = {task_id: run.scheduler.state(task_id) for task_id in run.loaded.plan.phases[phase_index].task_ids}
    failed = [task_id for task_id, state in states.items() if state == "failed"]
    if run.scheduler.cancelled and any(state in ("interrupted", "cancelled") for state in states.values()):
        from prefect.states import Cancelled

        return Cancelled(message=f"stopped by {STOP.name}")
    if failed:
        # The phase's subflow run ends Failed too, so the UI shows where the failures are.
        raise PlanRunFailed(f"{len(failed)} task(s) of this phase failed: {', '.join(failed)}")
    return None


def _phase_runner(run: ActiveRun, phase_index: int) -> Any:
    phase = run.loaded.plan.phases[phase_index]
    subflow = run_phase.with_options(name="plan-phase", flow_run_name=_fixed(phase.name[:200]))
    # Each thread needs its own copy of the parent flow's context, so the
    # subflow is recorded as a child of this plan's flow run.
    context = contextvars.copy_context()

    def run_subflow() -> Any:
        # return_state: a phase with failed tasks ends Failed without crashing the
        # parent; the plan's flow run reports the failures itself.
        return subflow(run.key, phase_index, return_state=True)

    return lambda: context.run(run_subflow)


def _drive_phases(run: ActiveRun) -> None:
    """Start each phase's subflow when its first task is ready; wait for all."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # The plan's flow run sends heartbeats for crash detection; a phase subflow's own
    # heartbeat thread only adds a ~1 s join at its end, on every phase. The phase
    # threads copy this context, so one settings copy serves them all.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        _start_and_wait_for_phases(run)


def _start_and_wait_for_phases(run: ActiveRun) -> None:
    phases_with_work = sorted({run.loaded.graph.phase_of[t] for t in run.scheduler.waiting()})
    started: set[int] = set()
    with ThreadPoolExecutor(max_workers=max(1, len(phases_with_work)), thread_name_prefix="plan-phase") as pool:
        running = []
        while len(started) < len(phases_with_work):
            for phase_index in phases_with_work:
                if phase_index not in started and _time_to_start(run, phase_index):
                    started.add(phase_index)
                    if not run.scheduler.phase_settled(phase_index):
                        started_event = run.phase_started.setdefault(phase_index, threading.Event())
                        running.append(pool.submit(_phase_runner(run, phase_index)))
                        # One subflow created at a time, in plan order: created together,
                        # they all compete for the CPU and the server, and the first
                        # phase's tasks start only when every subflow exists.
                        started_event.wait(SUBFLOW_START_TIMEOUT)
            if len(started) < len(phases_with_work):
                run.scheduler.wait(WAIT_SECONDS)
        for done in running:
            done.result()


def _time_to_start(run: ActiveRun, phase_index: int) -> bool:
    """Whether to start a phase's subflow now: its first task is ready (or it has
    nothing left to do), or, below phase gate 1, the phase before it is open.

    Starting a subflow takes several API calls (0.15 s on an idle local server,
    several times that while tasks run); started only when its gate opened, it
    left slots idle at every phase boundary (1.20x the makespan bound at gate
    0.8, against 1.14x at gate 0). Started one phase ahead, its loop waits
    until the gate opens. At gate 1 a phase starts only after the one before it
    has ended, as that gate promises.
    """
    scheduler = run.scheduler
    if scheduler.has_ready(phase_index) or scheduler.phase_settled(phase_index):
        return True
    return run.settings.phase_gate < 1.0 and phase_index > 0 and scheduler.phase_open(phase_index - 1)


def _stop(run: ActiveRun) -> None:
    """Ctrl-C or SIGTERM: hand out nothing more, terminate the running task processes."""
    from plan_tasks.executors.process import stop_all

    run.scheduler.cancel()
    stop_all()


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    settings = (flow_run.parameters or {}).get("settings")
    plan = settings.get("plan") if isinstance(settings, dict) else getattr(settings, "plan", None)
    return Path(str(plan or "plan")).stem


@flow(name="plan-tasks", flow_run_name=_flow_run_name, persist_result=False, log_prints=False)
def run_plan(settings: RunSettings) -> dict[str, Any]:
    """Run a Markdown plan: every unfinished task, or the ``selection`` (ids, ``phase:N``).

    Ends Cancelled when the run was stopped (Ctrl-C, SIGTERM), Failed when a
    task failed, Completed otherwise; returns the summary.
    """
    prepared = handed_over(settings)  # `plan-tasks run` prepared it already, under the run lock
    if prepared is None:  # started by a deployment (or from Python): prepare it here, under the lock
        paths = resolve_plan(settings.plan, settings.root, settings.dialect)
        with hold_run_lock(paths, on_dead_holder=lambda holder: after_dead_run(paths, holder)):
            summary = execute(prepare_run(settings))
    else:
        summary = execute(prepared)
    if summary.get("stopped"):
        from prefect.states import Cancelled

        return Cancelled(message=summary["stopped"], data=summary)
    return summary


def execute(prepared: PreparedRun, stream: Any = None) -> dict[str, Any]:
    """The body of ``run_plan``; must run inside a flow run. Holds the plan's run
    lock throughout (already held when the CLI started the run: it is reentrant)."""
    from plan_tasks.executors.log_stream import set_log_filter

    paths = prepared.paths
    configure_redaction(list(prepared.redactions))
    set_log_filter(redact)  # output streamed into the task logs is redacted line by line too
    with hold_run_lock(paths, on_dead_holder=lambda holder: after_dead_run(paths, holder)):
        return _execute_plan(prepared, stream)


def _execute_plan(prepared: PreparedRun, stream: Any) -> dict[str, Any]:
    settings, paths, loaded, max_parallel = prepared.settings, prepared.paths, prepared.loaded, prepared.max_parallel
    record = RunRecord(paths, loaded.plan, update_plan=settings.update_plan, deferred=True)
    record.begin(prepared.indexed)
    note_run_id(paths, record.run_id or "")
    selected = list(prepared.selected)
    held_files = loaded.graph.held_files({t.id: t.files for t in loaded.plan.tasks})  # less [PARALLEL] overrides
    scheduler = RunScheduler(loaded.graph, selected, files=held_files,
                             max_parallel=max_parallel, phase_gate=settings.phase_gate)
    runs = RunIds.of_current_flow_run(loaded.graph.phase_of)
    reporter = RunReporter(paths.name, scheduler.progress, max_parallel, events_jsonl=settings.events_jsonl,
                           emit=_emit(paths.name, runs.of_task), stream=stream)
    root = paths.root
    root.mkdir(parents=True, exist_ok=True)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # `Call: pkg.mod:fn` imports from the project
    run = ActiveRun(key=uuid.uuid4().hex, settings=settings, loaded=loaded, root=root, record=record,
                    scheduler=scheduler, reporter=reporter, max_parallel=max_parallel, runs=runs,
                    agent_command=prepared.agent_command, output_limit=prepared.output_limit,
                    protected=prepared.protected)
    if settings.rate_limit_per_second:
        from plan_tasks.rate_limit import RateLimiter

        run.limiter = RateLimiter(settings.rate_limit_per_second)
    run.prefect_task = _prefect_task(run)
    run.groups = GroupRecorder(paths)
    ACTIVE_RUNS[run.key] = run
    _ensure_global_limit(max_parallel)
    _start_artifacts(run)
    forget_stop = STOP.on_stop(lambda: _stop(run))
    try:
        _drive_phases(run)
    finally:
        forget_stop()
        ACTIVE_RUNS.pop(run.key, None)
        progress = scheduler.progress
        for error in record.end(progress.completed, progress.failed):
            print(f"plan-tasks: warning: {error}", file=sys.stderr)
        record.close()
        run.groups.close()
        if run.progress_ticker is not None:
            run.progress_ticker.stop()
        _outcome_table(run)
        reporter.close()
    summary = {"plan": paths.plan_ref, "runId": record.run_id, "total": progress.total,
               "completed": progress.completed, "failed": progress.failed, "skipped": progress.skipped,
               "statusFile": paths.relative(paths.status_file)}
    if scheduler.cancelled:
        summary["interrupted"] = sorted(run.interrupted, key=loaded.graph.order.__getitem__)
        summary["notStarted"] = (progress.total - progress.completed - progress.failed - progress.skipped
                                 - len(run.interrupted))
        summary["stopped"] = f"stopped by {STOP.name}"
        return summary
    if progress.failed:
        raise PlanRunFailed(f"{progress.failed} of {progress.total} tasks failed "
                            f"({progress.skipped} skipped because of them); see status.json of {paths.plan_ref}",
                            summary)
    return summary


__all__ = ["PlanError", "PlanRunFailed", "execute", "run_plan"]
