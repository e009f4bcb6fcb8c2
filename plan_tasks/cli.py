"""The `plan-tasks` command line: argument parsing and dispatch, nothing else.

``main(argv) -> int`` returns an exit code (see ``plan_tasks.errors``): 0 on
success, 2 on bad input with every problem printed as
``path:line:col: error: message`` plus a hint, never a traceback.

Commands that only read plans import the parser lazily and never import
Prefect: ``tests/test_cli_imports.py`` keeps it that way, because importing
Prefect costs over a second on every call.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from plan_tasks.errors import EXIT_INVALID, EXIT_OK, PlanError, PlanInvalid

PHASE_GATE_HELP = (
    "how much of each earlier phase must be done before a phase starts: "
    "1.0 strict phase order (default for previews), 0.8 the seed's rule, 0 dependencies only"
)


def _phase_gate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`--phase-gate` takes a number from 0 to 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"`--phase-gate` takes a number from 0 to 1, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plan-tasks",
        description="Check, preview and run Markdown implementation plans.",
    )
    parser.add_argument("--version", action="version", version=f"plan-tasks {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check plans; print every problem found")
    validate.add_argument("plans", nargs="+", metavar="PLAN", help="Markdown plan files")
    validate.set_defaults(handler=cmd_validate)

    show = commands.add_parser("show", help="preview phases, parallel groups, chains and the critical path")
    show.add_argument("plan", metavar="PLAN")
    show.add_argument("--json", action="store_true", help="print the preview as JSON")
    show.add_argument("--phase-gate", type=_phase_gate, default=1.0, metavar="F", help=PHASE_GATE_HELP)
    show.set_defaults(handler=cmd_show)

    graph = commands.add_parser("graph", help="print the dependency graph (Mermaid, DOT or JSON)")
    graph.add_argument("plan", metavar="PLAN")
    graph.add_argument("--format", choices=("mermaid", "dot", "json"), default="mermaid")
    graph.set_defaults(handler=cmd_graph)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("plan-tasks")
    except PackageNotFoundError:
        return "unknown"


def _print_warnings(loaded) -> None:  # noqa: ANN001 - LoadedPlan, imported lazily
    for warning in loaded.warnings:
        print(warning.format(), file=sys.stderr)


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


def cmd_validate(args: argparse.Namespace) -> int:
    from plan_tasks.load import load_plan

    status = EXIT_OK
    for path in args.plans:
        try:
            loaded = load_plan(path)
        except PlanInvalid as invalid:
            for problem in invalid.problems:
                print(problem.format(), file=sys.stderr)
            count = len(invalid.errors)
            print(f"{path}: invalid: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
            status = EXIT_INVALID
            continue
        _print_warnings(loaded)
        plan, graph = loaded.plan, loaded.graph
        kinds = {kind: 0 for kind in ("depends", "sequential", "file")}
        for edge in graph.edges:
            kinds[edge.kind] += 1
        checked = [task.id for task in plan.tasks if task.checked]
        _, weight = graph.critical_path(finished=checked)  # what is left, as `show` says
        print(
            f"{path}: ok: {_count(len(plan.tasks), 'task')} in {_count(len(plan.phases), 'phase')}, "
            f"{_count(kinds['depends'], 'dependency', 'dependencies')}, {kinds['sequential']} sequential and "
            f"{kinds['file']} file-conflict edges, critical path weight {weight}"
        )
    return status


def cmd_show(args: argparse.Namespace) -> int:
    from plan_tasks.load import load_plan
    from plan_tasks.preview import preview_data, render_preview

    loaded = load_plan(args.plan)
    _print_warnings(loaded)
    if args.json:
        print(json.dumps(preview_data(loaded, args.phase_gate), indent=2, ensure_ascii=False))
    else:
        print(render_preview(loaded, args.phase_gate))
    return EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    from plan_tasks.export import export_graph
    from plan_tasks.load import load_plan

    loaded = load_plan(args.plan)
    _print_warnings(loaded)
    print(export_graph(loaded, args.format))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except PlanInvalid as invalid:
        for problem in invalid.problems:
            print(problem.format(), file=sys.stderr)
        return EXIT_INVALID
    except PlanError as error:
        print(f"plan-tasks: error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # `plan-tasks show x.md | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
