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
from collections.abc import Callable, Sequence
from typing import Any

from plan_tasks.cli.options import (
    add_format_option,
    at_least_one,
    non_negative_int,
    non_negative_seconds,
    phase_gate,
    positive_seconds,
)
from plan_tasks.errors import EXIT_NO_SERVER, EXIT_OK, EXIT_TASKS_FAILED, PlanError

# Parsers of the options that argparse checks itself (a usage error names the option).
OPTION_TYPES: dict[str, Callable[[str], Any]] = {
    "phase_gate": phase_gate, "max_parallel": at_least_one, "retries": non_negative_int,
    "retry_delay_seconds": non_negative_seconds, "timeout_seconds": positive_seconds,
}


def register(commands: Any) -> None:
    from plan_tasks.run.settings import setting_options

    run = commands.add_parser("run", help="run a plan as a Prefect flow (all unfinished tasks, or a selection)")
    run.add_argument("plan", metavar="PLAN")
    run.add_argument("selection", nargs="*", metavar="TASK",
                     help="task ids (1.1 1.3) or phases (phase:2, p:2); default: every unfinished task")
    run.add_argument("--root", metavar="DIR", help="project root (default: the current directory)")
    for name, option in setting_options().items():
        if name != "dialect":  # --format (and --dialect), as the other commands take it
            _add_setting(run, name, option)
    run.add_argument("--wait", action="store_true",
                     help="if the plan is already being run, wait for that run to end, then run (default: refuse)")
    run.add_argument("--dry-run", action="store_true", help="print the execution groups and exit")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    add_format_option(run)
    run.set_defaults(handler=cmd_run)


def _add_setting(parser: Any, name: str, option: Any) -> None:
    """An option of RunSettings, its help and default from the model. Not set, it is None,
    so that ``[tool.plan-tasks]`` (then the model's default) fills it."""
    import typing

    from plan_tasks.run.settings import RunSettings

    field = RunSettings.model_fields[name]
    default = "" if field.default in (None, (), False) else f" (default: {field.default:g})" if isinstance(
        field.default, float) else f" (default: {field.default})"
    if field.annotation is bool:
        parser.add_argument(option.flag, dest=name, action="store_true", default=None, help=field.description)
        return
    choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else None
    optional = {"nargs": "?", "const": option.bare} if option.bare is not None else {}
    parser.add_argument(option.flag, dest=name, type=OPTION_TYPES.get(name, str), choices=choices,
                        metavar=option.metavar, help=f"{field.description}{default}", **optional)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the command line set, as RunSettings fields; the agent command with its
    secrets starred, since the settings are stored as the flow run's parameter."""
    from plan_tasks.redact import hide_argv
    from plan_tasks.run.settings import setting_options

    given: dict[str, Any] = {"plan": args.plan, "selection": tuple(args.selection)}
    if args.root is not None:
        given["root"] = args.root
    for name in setting_options():
        value = getattr(args, name, None)
        if value is not None:
            given[name] = value
    command = given.pop("agent_command", None)
    if command:  # `--agent-command ""` is as good as none: the environment, then pyproject.toml
        given["agent_command"] = tuple(hide_argv(shlex.split(command)))
    if isinstance(given.get("agent_args"), str):
        from plan_tasks.run.settings import split_arguments

        given["agent_args"] = tuple(hide_argv(split_arguments(given["agent_args"])))
    return given


def _prepare(args: argparse.Namespace) -> Any:
    """The run's settings, built and checked, and the run prepared: no Prefect yet; PlanError on bad input."""
    from plan_tasks.run.prepare import prepare_run
    from plan_tasks.run.settings import build_settings

    return prepare_run(build_settings(given_settings(args)), need_agent=not args.dry_run)


def _dry_run(loaded: Any, selected: Sequence[str], settings: Any) -> int:
    """The execution groups of the ``selected`` tasks at the ``settings``' phase gate."""
    gate = settings.phase_gate
    graph = loaded.graph
    to_run = set(selected)  # built once: a set per task made this quadratic (30 s at 20,000 tasks)
    finished = [task_id for task_id in graph.task_ids if task_id not in to_run]
    groups = graph.levels(gate, finished)
    path, weight = graph.critical_path(gate, finished)
    print(f"{loaded.plan.title}: {len(selected)} task(s) to run, phase gate {gate:g}")
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
    prepared = _prepare(args)
    paths = prepared.paths
    if args.dry_run:
        return _dry_run(prepared.loaded, prepared.selected, prepared.settings)
    if not prepared.selected:
        print(f"{paths.plan_ref}: nothing to run: every selected task is completed or skipped")
        return EXIT_OK
    from plan_tasks.run.server_check import configured_api_url, unreachable

    api_url = configured_api_url()
    if api_url and unreachable(api_url):  # before the lock: a run that cannot start writes nothing
        return _no_server(paths.plan_ref, unreachable(api_url) or "", api_url)
    from plan_tasks.run.lock import hold_run_lock
    from plan_tasks.run.task_groups import after_dead_run

    waited: list[Any] = []
    try:
        # Taken before the Prefect server starts, so that a second run refuses at once.
        with hold_run_lock(paths, wait=args.wait, on_wait=lambda holder: _announce_wait(paths, holder, waited),
                           on_dead_holder=lambda holder: after_dead_run(paths, holder)):
            if waited:  # the run waited for changed status.json: select again
                prepared = _prepare(args)
                if not prepared.selected:
                    print(f"{paths.plan_ref}: nothing to run after waiting: every selected task is completed "
                          "or skipped")
                    return EXIT_OK
            return _run_with_lock(args, prepared, api_url)
    except KeyboardInterrupt:  # Ctrl-C while waiting, before the run's own signal handling
        print(f"{paths.plan_ref}: stopped waiting (Ctrl-C); nothing ran", file=sys.stderr)
        return 130


def _announce_wait(paths: Any, holder: Any, waited: list[Any]) -> None:
    waited.append(holder)
    who = holder.describe() if holder else "another run"
    print(f"{paths.plan_ref}: waiting for {who} to end...", file=sys.stderr, flush=True)


def _run_with_lock(args: argparse.Namespace, prepared: Any, api_url: str | None) -> int:
    _quiet_prefect(args.verbose)
    from plan_tasks.run.interrupt import Interrupted, handle_stop_signals

    paths = prepared.paths
    started = time.monotonic()
    with handle_stop_signals() as stop:
        try:
            state = _run_flow(args, prepared, stop, announce_local_server=not api_url)
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


def _run_flow(args: argparse.Namespace, prepared: Any, stop: Any, announce_local_server: bool) -> Any:
    """Start (or reach) the Prefect server and run the plan's flow on a thread of
    its own, so that this (main) thread takes Ctrl-C and SIGTERM (see ``interrupt``)."""
    from plan_tasks.run.server_check import StartupNotice

    notice = StartupNotice(sys.stderr) if announce_local_server else None
    if notice:
        notice.start()
    try:
        from plan_tasks.prefect.flow import run_plan
        from plan_tasks.prefect.local_server import ServerStartError, ServerUnreachable, prefect_api
        from plan_tasks.run.prepare import hand_over

        try:
            with prefect_api(verbose=args.verbose, on_ready=notice.ready if notice else None) as local_url:
                if notice is None and local_url is None:
                    from plan_tasks.run.server_check import current_api_url

                    print(f"using the Prefect server at {current_api_url()}", file=sys.stderr)
                # The flow (on the thread below, in a copy of this context) takes the run prepared here.
                with hand_over(prepared):
                    call = functools.partial(run_plan, settings=prepared.settings, return_state=True)
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
    from plan_tasks.prefect.flow import PlanRunFailed
    from plan_tasks.run.report import display_path

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
        if summary.get("budgetReached"):
            print(f"{paths.plan_ref}: stopped handing out tasks: {summary['budgetReached']}; "
                  f"{summary['notStarted']} task(s) not started stay pending", file=sys.stderr)
        else:
            print(f"fix the cause, then `plan-tasks run {paths.plan_ref}` runs the failed tasks and the tasks "
                  "skipped because of them again")
        print(f"{paths.plan_ref}: {summary['completed']} completed, {summary['failed']} failed, "
              f"{summary['skipped']} skipped in {elapsed:.1f} s (run {summary['runId']}){_cost(summary)}; {status}")
        return EXIT_TASKS_FAILED
    if isinstance(result, PlanError):
        raise result
    if isinstance(result, BaseException):
        from plan_tasks.redact import redact

        print(f"{paths.plan_ref}: run crashed after {elapsed:.1f} s: {type(result).__name__}: "
              f"{redact(str(result))}; {status}")
        return EXIT_TASKS_FAILED
    print(f"{paths.plan_ref}: {result['completed']} completed, {result['failed']} failed, "
          f"{result['skipped']} skipped in {elapsed:.1f} s (run {result['runId']}){_cost(result)}; {status}")
    return EXIT_OK


def _cost(summary: dict[str, Any]) -> str:
    """``, agents: $0.0420, 1,200 tokens in, 300 out, 4 turns``: what the run's agents reported, if anything."""
    from plan_tasks.executors.outcome import AgentUsage

    usage = AgentUsage.from_json(summary.get("usage") or {})
    return f", agents: {usage.describe()}" if not usage.is_empty() else ""
