"""A plan as a Prefect flow: the only library module that imports Prefect when imported.

Shape of a run (the design card's):

* one flow run per plan, named after the plan;
* one subflow per phase, named ``Phase N: Title``, started when its first task
  becomes ready or, below phase gate 1, as soon as the phase before it is
  open, so that it exists when its own gate opens (with ``phase_gate=0``
  phases overlap in time);
* one Prefect task run per attempt of a plan task, named ``<id> <title>``,
  submitted only once everything it waits for has finished, with those
  upstream futures as ``wait_for``: the run graph shows every dependency,
  sequential chain and file conflict, and no worker thread ever blocks on an
  upstream task (the known deadlock of small pools with nested waits);
* a task run is pure: a ``TaskRequest`` in, a ``TaskOutcome`` out
  (``executors.run_task``), so it can run in a thread or on a Dask worker
  (``task_runners``); the driver (``run_driver``), in this process, writes
  status.json, the agent's files, findings and events, and retries transient
  failures with exponential backoff and jitter as new task runs; a failed
  task's dependants are skipped; the flow ends Failed when any task failed.

The decisions live in Prefect-free modules (``scheduler``, ``run_driver``,
``run_record``, ``run_report``, ``executors``), which this module wires to Prefect.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from plan_tasks.errors import PlanError
from plan_tasks.executors.outcome import TaskFailure, TaskRequest
from plan_tasks.executors.run_task import configure_driver, run_task
from plan_tasks.load import LoadedPlan
from plan_tasks.prefect.artifacts import emitter as _emit
from plan_tasks.prefect.artifacts import outcome_table as _outcome_table
from plan_tasks.prefect.artifacts import start_artifacts as _start_artifacts
from plan_tasks.prefect.slots import ensure_global_limit as _ensure_global_limit
from plan_tasks.prefect.slots import global_slots
from plan_tasks.prefect.task_runners import task_runner_for
from plan_tasks.redact import redact
from plan_tasks.run.driver import RunDriver
from plan_tasks.run.interrupt import STOP
from plan_tasks.run.lock import hold_run_lock, note_run_id
from plan_tasks.run.prepare import PreparedRun, handed_over, prepare_run
from plan_tasks.run.record import RunRecord
from plan_tasks.run.report import RunReporter
from plan_tasks.run.scheduler import RunScheduler
from plan_tasks.run.settings import RunSettings
from plan_tasks.run.task_groups import GroupRecorder, after_dead_run
from plan_tasks.status.paths import PlanPaths, resolve_plan

WAIT_SECONDS = 0.5  # how often a phase loop looks again when nothing finished
SUBFLOW_START_TIMEOUT = 30.0  # longest wait for one phase subflow to start before starting the next


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
    """The Prefect side of one run: its driver, and the Prefect objects it runs with."""

    key: str
    driver: RunDriver
    prefect_task: Any = None  # execute_plan_task with this run's options, built once
    task_runner: Any = None  # a task runner factory for the phase subflows (None: Prefect's thread pool)
    crash: str | None = None  # what crashed a phase subflow, if one did
    phase_started: dict[int, threading.Event] = field(default_factory=dict)

    # What run_artifacts reads, by the names it reads them.
    @property
    def loaded(self) -> LoadedPlan:
        return self.driver.loaded

    @property
    def scheduler(self) -> RunScheduler:
        return self.driver.scheduler

    @property
    def record(self) -> RunRecord:
        return self.driver.record

    @property
    def runs(self) -> RunIds:
        return self.driver.runs

    @property
    def outcomes(self) -> dict[str, dict[str, Any]]:
        return self.driver.outcomes

    @property
    def settings(self) -> RunSettings:
        return self.driver.settings


ACTIVE_RUNS: dict[str, ActiveRun] = {}  # by key: how a phase subflow (a flow parameter) finds its run


# -- the Prefect task ----------------------------------------------------------


def run_attempt(request: TaskRequest) -> Any:
    """Run one attempt of one plan task: a request in, an outcome out, nothing else.

    Returns a Cancelled state, instead of running, once the run is being
    stopped (Ctrl-C, SIGTERM): the task did not fail, it was interrupted.
    A module-level function of its own name, so that a Dask worker unpickles
    it by reference (cloudpickle would otherwise copy it with its globals).
    """
    if STOP.requested():
        from prefect.states import Cancelled

        return Cancelled(message=f"not started: the run was stopped ({STOP.name})")
    with global_slots(request.slots, request.slots):
        return run_task(request)


execute_plan_task = task(run_attempt, name="plan-task", cache_policy=NO_CACHE, persist_result=False)


def _on_done(run: ActiveRun, task_id: str, future: PrefectFuture[Any]) -> None:
    """An attempt's task run ended: hand its outcome to the driver."""
    driver = run.driver
    try:
        # The wrapped future is done, so wait() returns at once; it also records the
        # final state, which `state` would otherwise read from the API, possibly stale.
        future.wait()
        state = future.state
        if state.is_completed():
            driver.succeeded(task_id, future.result())
            return
        message = state.message
        error = None if state.is_cancelled() else future.result(raise_on_failure=False)
    except Exception as surprise:  # noqa: BLE001 - an unreadable state must not hang the run
        message, error = f"state unavailable: {surprise}", surprise
    try:
        if STOP.requested():
            driver.stopped(task_id, f"interrupted ({STOP.name})")
        elif error is None:
            driver.stopped(task_id, message)
        elif isinstance(error, TaskFailure):
            driver.failed(task_id, error)
        else:
            driver.failed(task_id, TaskFailure(redact(f"{type(error).__name__}: {error}"), "permanent"))
    except Exception as surprise:  # noqa: BLE001 - always settled, or the phase loops would wait forever
        print(f"plan-tasks: warning: could not record the end of task {task_id}: {surprise}", file=sys.stderr)
        driver.scheduler.finish(task_id, False)


# -- phases and the plan ---------------------------------------------------------


def _submit(run: ActiveRun, requests: list[TaskRequest]) -> list[PrefectFuture[Any]]:
    """Submit attempts whose start is on record; upstream futures become ``wait_for`` edges."""
    futures = run.runs.futures
    submitted = []
    for request in requests:
        task_id = request.task.id
        with run.driver.lock:
            upstream = [futures[p] for p in run.loaded.graph.predecessors[task_id] if p in futures]
        future = run.prefect_task.submit(request, wait_for=upstream)
        with run.driver.lock:
            futures[task_id] = future
        run.driver.announce(task_id)
        future.add_done_callback(lambda done, task_id=task_id: _on_done(run, task_id, done))
        submitted.append(future)
    return submitted


def _fixed(name: str) -> Any:
    return lambda: name


def _task_run_name(parameters: dict[str, Any]) -> str:
    """``<id> <title>`` (``(attempt N)`` after it, for a retry); a callable, as Prefect
    would format a string name with the parameters, and titles contain braces."""
    request = parameters.get("request")
    if not isinstance(request, TaskRequest):
        return "plan-task"
    name = f"{request.task.id} {request.task.title}".strip()[:200]
    return name + (f" (attempt {request.attempt})" if request.attempt > 1 else "")


def _prefect_task(run: ActiveRun) -> Any:
    """The run's one Prefect task: ``with_options`` rebuilds a task (and reads its
    source), too slow to do for every submission. No Prefect retries: the driver
    retries, so every attempt is on record wherever it runs (``run_driver``)."""
    return execute_plan_task.with_options(
        name="plan-task",
        task_run_name=_task_run_name,
        # No default tag: Prefect checks tag concurrency limits on the server for every
        # tagged task run, one more contended write per task on SQLite.
        tags=list(run.settings.tags),
    )


def phase_loop(run_key: str, phase_index: int) -> Any:
    """One phase: submit its tasks (and their retries) as they become ready, until all have settled.

    Wrapped as the flow ``run_phase`` under another name: a task runner that
    ships work to other processes (Dask) pickles the flow run's context, flow
    function included, and a function pickles by reference only when its
    module's attribute of that name is the function itself.
    """
    from prefect.context import FlowRunContext

    run = ACTIVE_RUNS[run_key]
    driver, scheduler = run.driver, run.driver.scheduler
    run.runs.phase_flow_runs[phase_index] = FlowRunContext.get().flow_run.id
    run.phase_started.setdefault(phase_index, threading.Event()).set()
    mine: list[PrefectFuture[Any]] = []
    while not scheduler.phase_settled(phase_index):
        finishes = scheduler.finishes
        starts = [(task_id, 1) for task_id in scheduler.take(phase_index)] + driver.due_retries(phase_index)
        if starts:
            mine += _submit(run, driver.start(starts))
        retry_in = driver.next_retry_in(phase_index)
        scheduler.wait(WAIT_SECONDS if retry_in is None else min(WAIT_SECONDS, retry_in), finishes)
    for future in mine:
        future.wait()
    states = {task_id: scheduler.state(task_id) for task_id in run.loaded.plan.phases[phase_index].task_ids}
    failed = [task_id for task_id, state in states.items() if state == "failed"]
    if scheduler.cancelled and any(state in ("interrupted", "cancelled") for state in states.values()):
        from prefect.states import Cancelled

        return Cancelled(message=f"stopped by {STOP.name}")
    if failed:
        # The phase's subflow run ends Failed too, so the UI shows where the failures are.
        raise PlanRunFailed(f"{len(failed)} task(s) of this phase failed: {', '.join(failed)}")
    return None


run_phase = flow(phase_loop, name="plan-phase", persist_result=False, log_prints=False)


def _phase_runner(run: ActiveRun, phase_index: int) -> Any:
    phase = run.loaded.plan.phases[phase_index]
    options: dict[str, Any] = {"task_runner": run.task_runner()} if run.task_runner else {}
    subflow = run_phase.with_options(name="plan-phase", flow_run_name=_fixed(phase.name[:200]), **options)
    # Each thread needs its own copy of the parent flow's context, so the
    # subflow is recorded as a child of this plan's flow run.
    context = contextvars.copy_context()

    def run_subflow() -> Any:
        # return_state: a phase with failed tasks ends Failed without crashing the
        # parent; the plan's flow run reports the failures itself.
        state = subflow(run.key, phase_index, return_state=True)
        crash = _crash_of(state)
        if crash:  # the other phases would wait forever for its tasks
            _settle_after_crash(run, crash)
        return state

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
    if run.crash:
        raise PhaseCrashed(f"a phase subflow crashed: {run.crash}")


class PhaseCrashed(Exception):
    """A phase subflow ended by an error of plan-tasks or Prefect, not of a task."""


def _crash_of(state: Any) -> str | None:
    """What crashed a phase subflow, from its final state; None if it ran to its end."""
    if state is None or not (state.is_failed() or state.is_crashed()):
        return None
    error = state.result(raise_on_failure=False)
    if isinstance(error, PlanRunFailed):
        return None  # it ran to its end: some of its tasks failed
    return redact(f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(state.message))


def _settle_after_crash(run: ActiveRun, crash: str) -> None:
    """Stop the run: nothing more is handed out, and tasks handed out but never
    settled go back to pending, saying why."""
    run.crash = run.crash or crash
    run.driver.stop_name = f"a crash of the run ({crash[:200]})"
    run.scheduler.cancel()
    for task_id in list(run.driver.attempts):
        if run.scheduler.state(task_id) == "running":
            run.driver.stopped(task_id, crash)


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

    run.driver.stop_name = STOP.name
    run.scheduler.cancel()
    run.driver.drop_retries()
    stop_all()
    for future in list(run.runs.futures.values()):
        remote = getattr(future, "wrapped_future", None)  # a Dask future: its worker's process is not ours
        if remote is not None and hasattr(remote, "cancel") and not remote.done():
            remote.cancel()


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
    paths = prepared.paths
    configure_driver(paths.root, list(prepared.redactions))
    with hold_run_lock(paths, on_dead_holder=lambda holder: after_dead_run(paths, holder)):
        return _execute_plan(prepared, stream)


def _new_run(prepared: PreparedRun, stream: Any) -> ActiveRun:
    """Record the run's start and set up its driver, from the prepared run."""
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
    paths.root.mkdir(parents=True, exist_ok=True)
    driver = RunDriver(settings=settings, loaded=loaded, root=paths.root, record=record, scheduler=scheduler,
                       reporter=reporter, max_parallel=max_parallel, runs=runs,
                       agent_command=prepared.agent_command, output_limit=prepared.output_limit,
                       protected=prepared.protected)
    if settings.rate_limit_per_second:
        from plan_tasks.run.rate_limit import RateLimiter

        driver.limiter = RateLimiter(settings.rate_limit_per_second)
    run = ActiveRun(key=uuid.uuid4().hex, driver=driver)
    run.prefect_task = _prefect_task(run)
    return run


def _execute_plan(prepared: PreparedRun, stream: Any) -> dict[str, Any]:
    from plan_tasks.executors.process import set_start_listener

    settings, paths = prepared.settings, prepared.paths
    run = _new_run(prepared, stream)
    driver, scheduler, record = run.driver, run.driver.scheduler, run.driver.record
    groups = GroupRecorder(paths)
    set_start_listener(groups.record)  # task processes of this process, for the cleanup after a crash
    ACTIVE_RUNS[run.key] = run
    _ensure_global_limit(driver.max_parallel)
    _start_artifacts(run)
    forget_stop = STOP.on_stop(lambda: _stop(run))
    try:
        with task_runner_for(settings, driver.max_parallel) as run.task_runner:
            _drive_phases(run)
    finally:
        forget_stop()
        set_start_listener(None)
        ACTIVE_RUNS.pop(run.key, None)
        progress = scheduler.progress
        for error in record.end(progress.completed, progress.failed):
            print(f"plan-tasks: warning: {error}", file=sys.stderr)
        record.close()
        driver.write_reports()  # --report, --junit: from status.json, now complete
        groups.close()
        if driver.progress_ticker is not None:
            driver.progress_ticker.stop()
        _outcome_table(run)
        driver.reporter.close()
    return _summary(run, paths)


def _summary(run: ActiveRun, paths: PlanPaths) -> dict[str, Any]:
    driver, progress = run.driver, run.driver.scheduler.progress
    summary = {"plan": paths.plan_ref, "runId": driver.record.run_id, "total": progress.total,
               "completed": progress.completed, "failed": progress.failed, "skipped": progress.skipped,
               "statusFile": paths.relative(paths.status_file)}
    if not driver.usage.is_empty():
        summary["usage"] = driver.usage.to_json()
    if driver.budget_reached:  # not a stop by the user: the run fails, saying why
        summary["budgetReached"] = driver.budget_reached
        summary["notStarted"] = progress.not_started + len(driver.interrupted)
        raise PlanRunFailed(driver.budget_reached, summary)
    if driver.scheduler.cancelled:
        summary["interrupted"] = sorted(driver.interrupted, key=run.loaded.graph.order.__getitem__)
        summary["notStarted"] = (progress.total - progress.completed - progress.failed - progress.skipped
                                 - len(driver.interrupted))
        summary["stopped"] = f"stopped by {STOP.name}"
        return summary
    if progress.failed:
        raise PlanRunFailed(f"{progress.failed} of {progress.total} tasks failed "
                            f"({progress.skipped} skipped because of them); see status.json of {paths.plan_ref}",
                            summary)
    return summary


__all__ = ["PlanError", "PlanRunFailed", "execute", "run_plan"]
