"""Subcommands that read a plan file: `validate PLAN...`, `show`, `graph`.

``validate`` without plan arguments is the seed's status validation and is
handed to ``cli_status``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from plan_tasks.cli.options import PHASE_GATE_HELP, add_format_option, phase_gate, plan_options
from plan_tasks.errors import EXIT_INVALID, EXIT_OK, PlanInvalid


def register(commands: Any) -> None:
    validate = commands.add_parser(
        "validate", parents=[plan_options()],
        help="check plans (PLAN...), or with --plan and no PLAN check status.json against its plan",
    )
    validate.add_argument("plans", nargs="*", metavar="PLAN", help="Markdown plan files to check")
    validate.set_defaults(handler=cmd_validate)

    show = commands.add_parser("show", help="preview phases, parallel groups, chains and the critical path")
    show.add_argument("plan", metavar="PLAN")
    show.add_argument("--json", action="store_true", help="print the preview as JSON")
    show.add_argument("--phase-gate", type=phase_gate, default=1.0, metavar="F", help=PHASE_GATE_HELP)
    show.add_argument("--root", metavar="DIR",
                      help="project root whose docs/plan-outputs/ holds the plan's status.json, read when it exists "
                           "(default: the current directory)")
    add_format_option(show)
    show.set_defaults(handler=cmd_show)

    graph = commands.add_parser("graph", help="print the dependency graph (Mermaid, DOT or JSON)")
    graph.add_argument("plan", metavar="PLAN")
    graph.add_argument("--format", choices=("mermaid", "dot", "json"), default="mermaid")
    add_format_option(graph, "--dialect")  # `--format` is the output format here
    graph.set_defaults(handler=cmd_graph)


def _print_warnings(loaded) -> None:  # noqa: ANN001 - LoadedPlan, imported lazily
    for warning in loaded.warnings:
        print(warning.format(), file=sys.stderr)


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


def cmd_validate(args: argparse.Namespace) -> int:
    if not args.plans:
        from plan_tasks.cli.status import cmd_validate_status

        return cmd_validate_status(args)
    from plan_tasks.load import load_plan

    status = EXIT_OK
    for path in args.plans:
        try:
            loaded = load_plan(path, args.dialect)
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
    from plan_tasks.run.preview import preview_data, render_preview

    loaded = load_plan(args.plan, args.dialect)
    _print_warnings(loaded)
    statuses, status_file = _recorded_statuses(args.plan, args.root)
    if args.json:
        print(json.dumps(preview_data(loaded, args.phase_gate, statuses, status_file), indent=2, ensure_ascii=False))
    else:
        print(render_preview(loaded, args.phase_gate, statuses, status_file))
    return EXIT_OK


def _recorded_statuses(plan: str, root: str | None) -> tuple[dict[str, str] | None, str | None]:
    """Task statuses from the plan's status.json and its path, or (None, None) when it has none."""
    from plan_tasks.status.paths import resolve_plan
    from plan_tasks.status.store import load_status, status_exists

    paths = resolve_plan(plan, root)
    if not status_exists(paths):
        return None, None
    document = load_status(paths)  # a broken status.json is reported, not ignored
    return ({task["id"]: task.get("status") or "pending" for task in document["tasks"]},
            paths.relative(paths.status_file))


def cmd_graph(args: argparse.Namespace) -> int:
    from plan_tasks.export import export_graph
    from plan_tasks.load import load_plan

    loaded = load_plan(args.plan, args.dialect)
    _print_warnings(loaded)
    print(export_graph(loaded, args.format))
    return EXIT_OK

