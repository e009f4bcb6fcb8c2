"""The `plan-tasks` command line: argument parsing and dispatch, nothing else.

``main(argv) -> int`` returns an exit code (see ``plan_tasks.errors``): 0 on
success, 1 when the work asked for failed, 2 on bad input with every problem
printed as ``path:line:col: error: message`` plus a hint, never a traceback.

Handlers live in ``cli_plan`` (validate, show, graph), ``cli_status`` (the
seed's status commands and ``next``), ``cli_reset``, ``cli_run`` and ``cli.report``; each module
registers its own subcommands. Commands that do not run a plan never import
Prefect: ``tests/test_cli_imports.py`` keeps it that way, because importing
Prefect costs over a second on every call.

Only the module of the command given is imported, and only its subcommand's
arguments are built: `next`, called once per batch by agents, pays for
nothing else. The top-level help, and any mistake in the command's name,
builds them all so that every command is listed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from plan_tasks import __version__
from plan_tasks.cli.options import HelpFormatter
from plan_tasks.errors import EXIT_INVALID, EXIT_OK, PlanError

# Which module registers each command (tests/test_cli_options.py checks this against
# what the modules register).
_PLAN, _STATUS = "plan_tasks.cli.plan", "plan_tasks.cli.status"
_RESET, _RUN = "plan_tasks.cli.reset", "plan_tasks.cli.run"
_REPORT = "plan_tasks.cli.report"
COMMAND_MODULES: dict[str, str] = {
    "validate": _PLAN, "show": _PLAN, "graph": _PLAN,
    **dict.fromkeys(
        ("init", "status", "mark-started", "mark-complete", "mark-failed", "mark-skipped", "start-run",
         "complete-run", "next", "phases", "progress", "retryable", "exhausted", "increment-retry",
         "write-findings", "read-findings", "plans"), _STATUS),
    "reset": _RESET,
    "run": _RUN,
    "report": _REPORT,
}
MODULES = (_PLAN, _STATUS, _RESET, _RUN, _REPORT)  # in the order the top-level help lists their commands


class _Ignored:
    """Stands in for the parser of a command that was not given: takes every call, builds nothing."""

    def __getattr__(self, name: str) -> Callable[..., _Ignored]:
        return lambda *args, **kwargs: self


class _Commands:
    """The subparsers action as a module's ``register`` sees it: every parser gets the
    formatter above, and with ``only`` set, only that command's parser is built."""

    def __init__(self, commands: Any, only: str | None) -> None:
        self._commands = commands
        self._only = only

    def add_parser(self, name: str, **options: Any) -> Any:
        if self._only is not None and name != self._only:
            return _Ignored()
        return self._commands.add_parser(name, formatter_class=HelpFormatter, **options)


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (its first argument that is not an option), if known."""
    for argument in argv:
        if argument.startswith("-"):
            return None  # `plan-tasks --version`, `--help`, or an option before the command
        return argument if argument in COMMAND_MODULES else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser: every command, or only ``command`` (and only its module imported)."""
    return _build(command)[0]


def _build(command: str | None) -> tuple[argparse.ArgumentParser, Any]:
    """The parser and its subparsers action (whose ``choices`` maps a command to its parser)."""
    parser = argparse.ArgumentParser(
        prog="plan-tasks",
        description="Check, preview, track and run Markdown implementation plans.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"plan-tasks {__version__}")
    # Not `required=True`: argparse would then answer `plan-tasks --bogus` with "COMMAND
    # required" instead of naming the unknown option; parse_arguments asks for it itself.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in MODULES if command is None else (COMMAND_MODULES[command],):
        import_module(module).register(_Commands(commands, command))
    return parser, commands


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; usage errors exit 2 with the usage of the command they concern."""
    parser, commands = _build(_command_of(argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command is not None and unknown[0] not in argv[:list(argv).index(args.command)]:
        # Positionals after options (`run plan.md --executor shell 2.3`) are left over by
        # parse_known_args; the command's own parser reads them intermixed, as users type them.
        rest = list(argv)[list(argv).index(args.command) + 1:]
        args = commands.choices[args.command].parse_intermixed_args(
            rest, namespace=argparse.Namespace(command=args.command))
        unknown = []
    if unknown:
        # argparse hands a subcommand's unknown options up to the top parser, whose usage
        # would not help; the subcommand's does.
        # (An option before the command is the top parser's.)
        before_command = args.command is None or unknown[0] in argv[:list(argv).index(args.command)]
        owner = parser if before_command else commands.choices[args.command]
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.error("the following arguments are required: COMMAND")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else list(argv))
    try:
        return int(args.handler(args))
    except PlanError as error:
        print(error.format(), file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # `plan-tasks show x.md | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
