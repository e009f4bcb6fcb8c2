"""The `plan-tasks` command line: argument parsing and dispatch, nothing else.

``main(argv) -> int`` returns an exit code (see ``plan_tasks.errors``): 0 on
success, 1 when the work asked for failed, 2 on bad input with every problem
printed as ``path:line:col: error: message`` plus a hint, never a traceback.

Handlers live in ``cli_plan`` (validate, show, graph) and ``cli_status`` (the
seed's status commands and ``next``); each module registers its own
subcommands. Commands that do not run a plan never import Prefect:
``tests/test_cli_imports.py`` keeps it that way, because importing Prefect
costs over a second on every call.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from plan_tasks import __version__, cli_plan, cli_run, cli_status
from plan_tasks.errors import EXIT_INVALID, EXIT_OK, PlanError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plan-tasks",
        description="Check, preview, track and run Markdown implementation plans.",
    )
    parser.add_argument("--version", action="version", version=f"plan-tasks {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_plan.register(commands)
    cli_status.register(commands)
    cli_run.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except PlanError as error:
        print(error.format(), file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # `plan-tasks show x.md | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
