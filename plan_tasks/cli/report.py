"""`plan-tasks report PLAN`: a finished run as a timeline (HTML) and, with `--junit`, as JUnit XML.

Reads the plan and its status.json; never imports Prefect.
"""

from __future__ import annotations

import argparse
from typing import Any

from plan_tasks.cli.options import add_format_option
from plan_tasks.errors import EXIT_OK, PlanError


def register(commands: Any) -> None:
    report = commands.add_parser("report", help="write a run's timeline as one HTML file (and JUnit XML with --junit)")
    report.add_argument("plan", metavar="PLAN")
    report.add_argument("--run", metavar="ID", help="the run (`run-...`, as status.json lists them; default: the last)")
    report.add_argument("--out", metavar="FILE", help="the HTML file to write (default: report.html in the plan's "
                                                      "output folder, docs/plan-outputs/<plan>/)")
    report.add_argument("--junit", metavar="FILE", help="also write the run as JUnit XML, one test case per task")
    report.add_argument("--root", metavar="DIR", help="project root (default: the current directory)")
    add_format_option(report)
    report.set_defaults(handler=cmd_report)


def _check_suffix(option: str, value: str | None, *suffixes: str) -> None:
    if value is not None and not value.lower().endswith(suffixes):
        raise PlanError(f"`{option}` {value!r} does not end in {' or '.join(suffixes)}",
                        f"name a file ending in {suffixes[0]} (nothing was written)")


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from plan_tasks.load import load_plan
    from plan_tasks.run.report import display_path
    from plan_tasks.status.paths import require_plan_or_status, resolve_plan
    from plan_tasks.timeline import DEFAULT_REPORT
    from plan_tasks.timeline.outputs import load_timeline, report_target, write_junit, write_report

    _check_suffix("--out", args.out, ".html", ".htm")
    _check_suffix("--junit", args.junit, ".xml")
    paths = require_plan_or_status(resolve_plan(args.plan, args.root, args.dialect))
    loaded = load_plan(str(paths.plan), args.dialect)
    timeline = load_timeline(paths, loaded, args.run)
    written = write_report(timeline, paths, report_target(paths, args.out or DEFAULT_REPORT))
    count = len(timeline.rows)
    print(f"report: {display_path(written)} ({count} task{'' if count == 1 else 's'} of run {timeline.run_id})")
    if args.junit:
        print(f"junit: {display_path(write_junit(timeline, paths, Path(args.junit)))}")
    return EXIT_OK
