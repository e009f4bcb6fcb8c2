"""`plan-tasks run`: execute a plan as a Prefect flow run.

Everything that can be wrong with the input (the plan, the selection, the
options) is checked before Prefect is imported, so mistakes answer in a
fraction of a second with exit code 2. ``--dry-run`` prints the execution
groups and never imports Prefect. With no ``PREFECT_API_URL``, the run starts
a Prefect server of its own for its duration (``local_server``): no setup, and
no telemetry or log noise unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import os
import shlex
import sys
import threading
import time
from typing import Any

from plan_tasks.cli_options import PHASE_GATE_HELP, add_format_option, non_negative_int, phase_gate
from plan_tasks.cli_options import at_least_one, non_negative_seconds, positive_seconds
from plan_tasks.errors import EXIT_NO_SERVER, EXIT_OK, EXIT_TASKS_FAILED, PlanError


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="run a plan as a Prefect flow (all unfinished tasks, or a selection)")
    run.add_argument("plan", metavar="PLAN")
    run.add_argument("selection", nargs="*", metavar="TASK",
                     help="task ids (1.1 1.3) or phases (phase:2, p:2); default: every unfinished task")
    run.add_argument("--root", metavar="DIR", help="project root (default: the current directory)")
    run.add_argument("--phase-gate", type=phase_gate, default=0.8, metavar="F", help=PHASE_GATE_HELP + " (default 0.8)")
    run.add_argument("--max-parallel", type=at_least_one, metavar="N",
                     help="slots for concurrent tasks (default: the seed's batch table: <10 tasks 3, 10-30 4, >30 5)")
    run.add_argument("--executor", choices=("agent", "shell", "python"), default="agent",
                     help="what runs tasks that carry no shell block, Run: or Call: line (default: agent)")
    run.add_argument("--agent-command", metavar="CMD",
                     help="agent command line (default: $PLAN_TASKS_AGENT_COMMAND, else [tool.plan-tasks] agent-command)")
    run.add_argument("--retries", type=non_negative_int, default=2, metavar="N",
                     help="retries of a transiently failing task (default 2, the seed's MAX_RETRIES)")
    run.add_argument("--retry-delay", type=non_negative_seconds, default=2.0, metavar="S", help="first retry delay; doubles each retry")
    run.add_argument("--timeout", type=positive_seconds, default=1800.0, metavar="S", help="per attempt, on the process group")
    run.add_argument("--output-limit", metavar="SIZE",
                     help="what a task may print before it fails, e.g. 50MB (default: [tool.plan-tasks] "
                          "output-limit, else 50MB)")
    run.add_argument("--update-plan", action="store_true", help="tick each task's checkbox in the plan when it completes")
    run.add_argument("--rate-limit", metavar="N/min", help="at most N agent calls per minute")
    run.add_argument("--events-jsonl", metavar="FILE", help="also write plan.task.* events as JSON lines")
    run.add_argument("--wait", action="store_true",
                     help="if the plan is already being run, wait for that run to end, then run (default: refuse)")
    run.add_argument("--dry-run", action="store_true", help="print the execution groups and exit")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    add_format_option(run)
    run.set_defaults(handler=cmd_run)


def _check_input(args: argparse.Namespace) -> tuple[Any, list[str], Any]:
    """Load the plan and the selection without Prefect; PlanError on bad input."""
    from plan_tasks.load import load_plan
    from plan_tasks.redact import configure as configure_redaction
    from plan_tasks.run_config import (
        configured_redactions,
        parse_rate,
        parse_size,
        resolve_agent_command,
        resolve_output_limit,
        resolve_protect,
    )
    from plan_tasks.run_record import tasks_to_run
    from plan_tasks.status.paths import resolve_plan
    from plan_tasks.status.store import load_status, status_exists

    paths = resolve_plan(args.plan, args.root, args.dialect)
    configure_redaction(configured_redactions(paths.root))
    loaded = load_plan(str(paths.plan), paths.dialect)
    if status_exists(paths):
        snapshot = load_status(paths)
    else:
        snapshot = {"tasks": [{"id": t.id, "status": t.initial_status} for t in loaded.plan.tasks]}
    selected = tasks_to_run(loaded.plan, snapshot, tuple(args.selection), loaded.graph.predecessors)
    if args.rate_limit:
        args.rate_per_second = parse_rate(args.rate_limit)
    else:
        args.rate_per_second = None
    # Read here, so a bad setting is an error before any server starts.
    args.output_bytes = resolve_output_limit(parse_size(args.output_limit) if args.output_limit else None, paths.root)
    resolve_protect(paths.root)
    if args.executor == "agent" and not args.dry_run:
        needs_agent = [t for t in selected if _needs_agent(loaded.plan.task_by_id[t])]
        if needs_agent and not resolve_agent_command(args.agent_command, paths.root):
            raise PlanError(
                f"{len(needs_agent)} task(s) need an agent (e.g. {needs_agent[0]}) but no agent command is set",
                "pass `--agent-command CMD`, set PLAN_TASKS_AGENT_COMMAND, or add `agent-command = [...]` under "
                "[tool.plan-tasks] in pyproject.toml; or pick `--executor shell`")
    return paths, selected, loaded


def _needs_agent(task: Any) -> bool:
    from plan_tasks.executors import choose_executor

    return choose_executor(task, "agent") == "agent"


def _dry_run(loaded: Any, selected: list[str], args: argparse.Namespace) -> int:
    graph = loaded.graph
    to_run = set(selected)  # built once: a set per task made this quadratic (30 s at 20,000 tasks)
    finished = [task_id for task_id in graph.task_ids if task_id not in to_run]
    groups = graph.levels(args.phase_gate, finished)
    path, weight = graph.critical_path(args.phase_gate, finished)
    print(f"{loaded.plan.title}: {len(selected)} task(s) to run, phase gate {args.phase_gate:g}")
    for number, wave in enumerate(groups, 1):
        label = "parallel" if len(wave) > 1 else "single"
        print(f"  group {number} ({label}): {', '.join(wave)}")
    print(f"Critical path (weight {weight}): {' -> '.join(path) if path else '(nothing to run)'}")
    return EXIT_OK


def _quiet_prefect(verbose: bool) -> None:
    # Must happen before Prefect is imported: it reads settings at import.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        # CRITICAL: a failed run is reported by plan-tasks itself, without Prefect's traceback.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "ERROR")
        # Prefect's background services ("EventsWorker - Still processing items") log here.
        os.environ.setdefault("PREFECT_INTERNAL_LOGGING_LEVEL", "ERROR")


def cmd_run(args: argparse.Namespace) -> int:
    paths, selected, loaded = _check_input(args)
    if args.dry_run:
        return _dry_run(loaded, selected, args)
    if not selected:
        print(f"{paths.plan_ref}: nothing to run: every selected task is completed or skipped")
        return EXIT_OK
    from plan_tasks.server_check import configured_api_url, unreachable

    api_url = configured_api_url()
    if api_url and unreachable(api_url):  # before the lock: a run that cannot start writes nothing
        return _no_server(paths.plan_ref, unreachable(api_url) or "", api_url)
    from plan_tasks.run_lock import hold_run_lock
    from plan_tasks.task_groups import after_dead_run

    waited: list[Any] = []
    try:
        # Taken before the Prefect server starts, so that a second run refuses at once.
        with hold_run_lock(paths, wait=args.wait, on_wait=lambda holder: _announce_wait(paths, holder, waited),
                           on_dead_holder=lambda holder: after_dead_run(paths, holder)):
            if waited:  # the run waited for changed status.json: select again
                paths, selected, loaded = _check_input(args)
                if not selected:
                    print(f"{paths.plan_ref}: nothing to run after waiting: every selected task is completed "
                          "or skipped")
                    return EXIT_OK
            return _run_with_lock(args, paths, api_url)
    except KeyboardInterrupt:  # Ctrl-C while waiting, before the run's own signal handling
        print(f"{paths.plan_ref}: stopped waiting (Ctrl-C); nothing ran", file=sys.stderr)
        return 130


def _announce_wait(paths: Any, holder: Any, waited: list[Any]) -> None:
    waited.append(holder)
    who = holder.describe() if holder else "another run"
    print(f"{paths.plan_ref}: waiting for {who} to end...", file=sys.stderr, flush=True)


def _run_with_lock(args: argparse.Namespace, paths: Any, api_url: str | None) -> int:
    _quiet_prefect(args.verbose)
    from plan_tasks.interrupt import Interrupted, handle_stop_signals

    started = time.monotonic()
    with handle_stop_signals() as stop:
        try:
            state = _run_flow(args, paths, stop, announce_local_server=not api_url)
        except Interrupted as interrupted:
            print(f"{paths.plan_ref}: interrupted by {interrupted} before any task started; nothing changed",
                  file=sys.stderr)
            return interrupted.exit_code
        except _NoServer as error:
            return _no_server(paths.plan_ref, str(error), error.api_url)
    return _report(paths, state, time.monotonic() - started, stop)


class _NoServer(Exception):
    def __init__(self, message: str, api_url: str | None = None) -> None:
        super().__init__(message)
        self.api_url = api_url


def _no_server(plan_ref: str, message: str, api_url: str | None) -> int:
    if api_url:
        print(f"{plan_ref}: error: the Prefect server at {api_url} does not answer: {message}", file=sys.stderr)
        print("hint: start it (`prefect server start`), or unset PREFECT_API_URL to let plan-tasks start "
              "a local server for the run", file=sys.stderr)
    else:
        print(f"{plan_ref}: error: {message}", file=sys.stderr)
        print("hint: set PREFECT_API_URL to a running Prefect server (`prefect server start`), "
              "or run with --verbose to see the server's own output", file=sys.stderr)
    return EXIT_NO_SERVER


def _run_flow(args: argparse.Namespace, paths: Any, stop: Any, announce_local_server: bool) -> Any:
    """Start (or reach) the Prefect server and run the plan's flow on a thread of
    its own, so that this (main) thread takes Ctrl-C and SIGTERM (see ``interrupt``)."""
    from plan_tasks.server_check import StartupNotice

    notice = StartupNotice(sys.stderr) if announce_local_server else None
    if notice:
        notice.start()
    try:
        from plan_tasks.compile import run_plan
        from plan_tasks.redact import hide_argv
        from plan_tasks.local_server import ServerStartError, ServerUnreachable, prefect_api

        try:
            with prefect_api(verbose=args.verbose, on_ready=notice.ready if notice else None) as local_url:
                if notice is None and local_url is None:
                    from plan_tasks.server_check import current_api_url

                    print(f"using the Prefect server at {current_api_url()}", file=sys.stderr)
                call = functools.partial(
                    run_plan,
                    plan=str(paths.plan), root=str(paths.root), tasks=list(args.selection) or None,
                    phase_gate=args.phase_gate, max_parallel=args.max_parallel, executor=args.executor,
                    # Stored as a flow-run parameter: with its secrets starred (the flow gets the real one).
                    agent_command=hide_argv(shlex.split(args.agent_command)) if args.agent_command else None,
                    retries=args.retries, retry_delay_seconds=args.retry_delay, timeout_seconds=args.timeout,
                    update_plan=args.update_plan, rate_limit_per_second=args.rate_per_second,
                    events_jsonl=args.events_jsonl, plan_format=args.dialect, output_limit=args.output_bytes,
                    return_state=True,
                )
                return _on_own_thread(call, stop)
        except ServerUnreachable as error:
            raise _NoServer(str(error), error.api_url) from None
        except ServerStartError as error:
            raise _NoServer(str(error)) from None
    finally:
        if notice:
            notice.stop()


def _on_own_thread(call: Any, stop: Any) -> Any:
    context = contextvars.copy_context()  # Prefect's settings for the run live in context variables
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["state"] = context.run(call)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread as it is
            outcome["error"] = error

    thread = threading.Thread(target=target, name="plan-tasks-flow")
    stop.graceful = True  # from now on a stop signal winds the run down instead of raising
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.2)  # short waits: the signal handler runs between them
    finally:
        stop.graceful = False
    if "error" in outcome:
        raise outcome["error"]
    return outcome["state"]


def _report(paths: Any, state: Any, elapsed: float, stop: Any) -> int:
    """The run's last words: one summary line on stdout (progress went to stderr)."""
    from plan_tasks.compile import PlanRunFailed
    from plan_tasks.run_report import display_path

    result = state.result(raise_on_failure=False)
    status = f"status: {display_path(paths.status_file)}"
    if state.is_cancelled() and isinstance(result, dict):
        stopped = ", ".join(result.get("interrupted") or []) or "no task was running"
        print(f"{paths.plan_ref}: interrupted by {stop.name} after {elapsed:.1f} s: {stopped}"
              f"{' stopped and back to pending' if result.get('interrupted') else ''}; "
              f"{result['completed']} completed, {result['failed']} failed, {result['skipped']} skipped, "
              f"{result['notStarted']} not started; resume with `plan-tasks run {paths.plan_ref}`; {status}")
        return stop.exit_code
    if isinstance(result, PlanRunFailed) and result.summary:
        summary = result.summary
        print(f"fix the cause, then `plan-tasks run {paths.plan_ref}` runs the failed tasks and the tasks "
              "skipped because of them again")
        print(f"{paths.plan_ref}: {summary['completed']} completed, {summary['failed']} failed, "
              f"{summary['skipped']} skipped in {elapsed:.1f} s (run {summary['runId']}); {status}")
        return EXIT_TASKS_FAILED
    if isinstance(result, PlanError):
        raise result
    if isinstance(result, BaseException):
        from plan_tasks.redact import redact

        print(f"{paths.plan_ref}: run crashed after {elapsed:.1f} s: {type(result).__name__}: "
              f"{redact(str(result))}; {status}")
        return EXIT_TASKS_FAILED
    print(f"{paths.plan_ref}: {result['completed']} completed, {result['failed']} failed, "
          f"{result['skipped']} skipped in {elapsed:.1f} s (run {result['runId']}); {status}")
    return EXIT_OK
