"""Where the timeline report and the JUnit file come from and go: status.json and
the plan in, files written atomically out (a report being rewritten is never
seen half-written). Used by `plan-tasks report` and at the end of a run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from plan_tasks.errors import Location, PlanError
from plan_tasks.load import LoadedPlan
from plan_tasks.status.atomic import write_text_atomic
from plan_tasks.status.paths import PlanPaths
from plan_tasks.status.store import load_status
from plan_tasks.timeline import DEFAULT_REPORT
from plan_tasks.timeline.junit import render_junit
from plan_tasks.timeline.model import Timeline, build_timeline, choose_run
from plan_tasks.timeline.page import render_page

REPORT_NAME = "report.html"


def load_timeline(paths: PlanPaths, loaded: LoadedPlan, run_id: str | None = None) -> Timeline:
    """The timeline of run ``run_id`` (default: the last) of the plan's status.json."""
    document = load_status(paths)
    try:
        run = choose_run(document, run_id, paths.relative(paths.status_file))
    except PlanError as error:
        error.location = _runs_location(paths)
        raise
    return build_timeline(document, loaded, run, paths.plan_ref)


def _runs_location(paths: PlanPaths) -> Location:
    """Where status.json lists its runs (its start, when it lists none)."""
    from plan_tasks.status.locate import locate

    display = paths.relative(paths.status_file)
    try:
        return Location(display, *locate(paths.status_file.read_text(encoding="utf-8"), ("runs",)))
    except (OSError, ValueError):
        return Location(display)


def report_target(paths: PlanPaths, given: str) -> Path:
    """Where a report goes: ``given``, or report.html in the plan's output folder for DEFAULT_REPORT."""
    return paths.output_dir / REPORT_NAME if given == DEFAULT_REPORT else Path(given)


def write_report(timeline: Timeline, paths: PlanPaths, target: Path) -> Path:
    """Write the HTML report; its log links are relative to where it is written."""
    base = target.resolve().parent

    def link(log: str) -> str:
        return Path(os.path.relpath(paths.root.resolve() / log, base)).as_posix()

    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, render_page(timeline, link))
    return target


def write_junit(timeline: Timeline, paths: PlanPaths, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, render_junit(timeline, paths.root))
    return target


def write_run_outputs(paths: PlanPaths, loaded: LoadedPlan, run_id: str | None, settings: Any) -> dict[str, Path]:
    """The report and JUnit file that ``settings`` (RunSettings: ``report``, ``junit``) ask for,
    of the run ``run_id``; returns what was written, by kind."""
    timeline = load_timeline(paths, loaded, run_id)
    written: dict[str, Path] = {}
    if settings.report:
        written["report"] = write_report(timeline, paths, report_target(paths, settings.report))
    if settings.junit:
        written["junit"] = write_junit(timeline, paths, Path(settings.junit))
    return written
