"""The seed's status commands (`status-cli.js`), kept compatible: same names, same
JSON, each with ``--plan PATH`` (default: ``.claude/current-plan.txt``).

Read-only commands (`status`, `next`, `phases`, `progress`, `retryable`,
`exhausted`, `read-findings`, `plans`) take no lock; every change goes through
``plan_tasks.status.store.transaction``. None of them imports Prefect, and
`next` reads the plan through the parse cache so that it does not pay for
pydantic or markdown-it-py either.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from plan_tasks.cli.options import PHASE_GATE_HELP, non_negative_int, phase_gate, plan_options
from plan_tasks.errors import EXIT_INVALID, EXIT_OK, EXIT_TASKS_FAILED, PlanError
from plan_tasks.status import document as doc
from plan_tasks.status.paths import PlanPaths, require_plan_or_status, resolve_plan
from plan_tasks.status.store import load_status, read_status_file, status_exists, transaction
from plan_tasks.status_sync import initialize, plan_entries


def _print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    # A lone surrogate (valid in JSON as "\ud800") cannot be encoded; JSON.stringify
    # writes it as an escape, and so do we.
    print(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _paths(args: argparse.Namespace) -> PlanPaths:
    return require_plan_or_status(resolve_plan(args.plan, args.root, args.dialect))


def _percentage(part: int, whole: int) -> int:
    # JavaScript's Math.round rounds halves up; Python's round() would round them to even.
    return int(part * 100 / whole + 0.5) if whole > 0 else 0


def register(commands: Any) -> None:
    common = plan_options()

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[common], help=help_text)
        parser.set_defaults(handler=handler)
        return parser

    add("init", cmd_init, "create status.json from the plan, or re-sync it after the plan changed")
    add("status", cmd_status, "plan progress as JSON (creates status.json if missing)")
    add("mark-started", cmd_mark, "mark a task in progress").add_argument("task_id", metavar="ID")
    complete = add("mark-complete", cmd_mark, "mark a task completed")
    complete.add_argument("task_id", metavar="ID")
    complete.add_argument("--notes", help="notes to keep with the task")
    failed = add("mark-failed", cmd_mark, "mark a task failed")
    failed.add_argument("task_id", metavar="ID")
    failed.add_argument("--error", help="what went wrong")
    skipped = add("mark-skipped", cmd_mark, "mark a task skipped")
    skipped.add_argument("task_id", metavar="ID")
    skipped.add_argument("--reason", help="why it is skipped")
    add("start-run", cmd_start_run, "record the start of an execution run; prints its id")
    complete_run = add("complete-run", cmd_complete_run, "record the end of an execution run")
    complete_run.add_argument("run_id", metavar="RUN_ID")
    complete_run.add_argument("--completed", type=non_negative_int, default=0, metavar="N")
    complete_run.add_argument("--failed", type=non_negative_int, default=0, metavar="N")

    next_parser = add("next", cmd_next, "the next tasks to work on (JSON)")
    next_parser.add_argument("count", nargs="?", type=non_negative_int, metavar="N",
                             help="how many tasks (default 3, as the seed)")
    next_parser.add_argument("--policy", choices=("ready", "seed"), default="ready",
                             help="ready: dependency-aware (default); seed: the seed's answer, exactly")
    next_parser.add_argument("--batch", choices=("auto",),
                             help="auto: size N by plan size as the seed's table does (<10: 3, 10-30: 4, >30: 5)")
    next_parser.add_argument("--phase-gate", type=phase_gate, default=0.8, metavar="F",
                             help=PHASE_GATE_HELP + " (default 0.8)")
    next_parser.add_argument("--max-retries", type=non_negative_int, default=doc.MAX_RETRIES, metavar="K",
                             help="failed tasks are offered again while retryCount < K (default 2)")
    next_parser.add_argument("--explain", action="store_true", help="also list blocked tasks and why")

    add("phases", cmd_phases, "phases with completion (JSON)")
    add("progress", cmd_progress, "a progress bar and counts")
    add("retryable", cmd_failed, "failed tasks with retries left (JSON)")
    add("exhausted", cmd_failed, "failed tasks with no retries left (JSON)")
    retry = add("increment-retry", cmd_increment_retry, "count one more failed attempt of a task")
    retry.add_argument("task_id", metavar="ID")
    retry.add_argument("--error", default="Unknown error", help="the attempt's error")
    write = add("write-findings", cmd_write_findings, "save a task's findings (notes and results)")
    write.add_argument("task_id", metavar="ID")
    source = write.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", metavar="F", help="read the findings from a file")
    source.add_argument("--stdin", action="store_true", help="read the findings from standard input")
    source.add_argument("--content", help="the findings as a string")
    add("read-findings", cmd_read_findings, "print a task's findings").add_argument("task_id", metavar="ID")

    plans = commands.add_parser("plans", help="every plan with a status under the project root, with progress")
    plans.add_argument("--root", metavar="DIR", help="project root (default: the current directory)")
    plans.add_argument("--json", action="store_true", help="print JSON")
    plans.set_defaults(handler=cmd_plans)


# -- creating and syncing ----------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    paths = _paths(args)
    document, report = initialize(paths)
    result: dict[str, Any] = {
        "success": True,
        "planPath": paths.plan_ref,
        "outputDir": paths.relative(paths.output_dir),
        "structure": {
            "statusJson": paths.relative(paths.status_file),
            "findingsDir": paths.relative(paths.findings_dir),
            "timestampsDir": paths.relative(paths.timestamps_dir),
        },
        "taskCount": len(document["tasks"]),
        "initialized": True,
        "created": report is None,
    }
    if report is not None:
        result.update(added=report.added, removed=report.removed, updated=report.updated)
    _print_json(result)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    paths = _paths(args)
    document = load_status(paths) if status_exists(paths) else initialize(paths)[0]
    summary = doc.recalculate_summary(document)
    _print_json({
        "planPath": document.get("planPath"),
        "planName": document.get("planName"),
        "source": "status.json",
        "total": summary["totalTasks"],
        "completed": summary["completed"],
        "inProgress": summary["in_progress"],
        "pending": summary["pending"],
        "failed": summary["failed"],
        "skipped": summary["skipped"],
        "percentage": _percentage(summary["completed"], summary["totalTasks"]),
        "currentPhase": document.get("currentPhase") or "Unknown",
    })
    return EXIT_OK


# -- marking -----------------------------------------------------------------

_MARKS = {
    "mark-started": ("in_progress", None, None),
    "mark-complete": ("completed", "notes", "notes"),
    "mark-failed": ("failed", "error", "error"),
    "mark-skipped": ("skipped", "reason", "skipReason"),
}


def _without_secrets(text: str | None) -> str | None:
    """Text a marking command stores, with the values of secret-named environment variables
    starred out as a run stores them (docs/security.md; `redact = [...]` extras are the run's)."""
    if not text:
        return text
    from plan_tasks.redact import Redactor, secrets_in_environment

    return Redactor(secrets_in_environment(os.environ)).text(text)


def cmd_mark(args: argparse.Namespace) -> int:
    status, option, field = _MARKS[args.command]
    value = _without_secrets(getattr(args, option)) if option else None
    with transaction(_paths(args)) as document:
        if status == "skipped":  # on purpose: a re-run leaves it skipped (SKIP_MANUAL)
            doc.mark_skipped(document, args.task_id, doc.SKIP_MANUAL, value)
        else:
            doc.set_status(document, args.task_id, status, **({field: value} if field else {}))
    result: dict[str, Any] = {"success": True, "taskId": args.task_id, "status": status}
    if option:
        result[option] = value
    _print_json(result)
    return EXIT_OK


def cmd_start_run(args: argparse.Namespace) -> int:
    with transaction(_paths(args)) as document:
        run_id = doc.start_run(document)
    _print_json({"success": True, "runId": run_id})
    return EXIT_OK


def cmd_complete_run(args: argparse.Namespace) -> int:
    with transaction(_paths(args)) as document:
        doc.complete_run(document, args.run_id, args.completed, args.failed)
    _print_json({"success": True, "runId": args.run_id, "completed": args.completed, "failed": args.failed})
    return EXIT_OK


def cmd_increment_retry(args: argparse.Namespace) -> int:
    with transaction(_paths(args)) as document:
        result = doc.increment_retry(document, args.task_id, _without_secrets(args.error) or "")
    _print_json(result)
    return EXIT_OK


# -- questions ---------------------------------------------------------------


def _warn_if_plan_changed(document: doc.Document, digest: str, paths: PlanPaths) -> None:
    synced = (document.get(doc.OURS) or {}).get("planHash")
    if synced and synced != digest:
        print(f"plan-tasks: warning: {paths.plan_ref} changed since status.json was synced\n"
              f"  hint: run `plan-tasks init --plan {paths.plan_ref}` to add new tasks and set aside removed ones",
              file=sys.stderr)


def cmd_next(args: argparse.Namespace) -> int:
    from plan_tasks.select import DEFAULT_COUNT, batch_size

    paths = _paths(args)
    document = load_status(paths)
    if args.count is not None and args.batch:
        raise PlanError("give either N or `--batch auto`, not both",
                        "drop N to size the batch from the plan, or drop `--batch auto`")
    count = args.count if args.count is not None else DEFAULT_COUNT
    if args.batch == "auto":
        count = batch_size(len(document["tasks"]))
    if args.policy == "seed":
        from plan_tasks.select.seed import select_next_seed

        try:
            raw = paths.plan.read_bytes()
            # Node's readFileSync(path, 'utf8') turns bad bytes into U+FFFD and reads on.
            plan_text: str | None = raw.decode("utf-8", errors="replace")
        except OSError:
            raw, plan_text = b"", None  # the seed reads no constraints then, and goes on
        _warn_if_plan_changed(document, hashlib.sha256(raw).hexdigest(), paths)
        _print_json(select_next_seed(document, plan_text, count))
        return EXIT_OK
    from plan_tasks.plan_cache import load_index
    from plan_tasks.select.ready import select_next_ready

    indexed = load_index(paths.plan, paths.plan_ref, paths.dialect)
    _warn_if_plan_changed(document, indexed.digest, paths)
    _print_json(select_next_ready(document, indexed.index, count, phase_gate=args.phase_gate,
                                  max_retries=args.max_retries, explain=args.explain))
    return EXIT_OK


def _phases(document: doc.Document) -> list[dict[str, Any]]:
    """Phases as the seed's ``cmdPhases`` groups them (by name, ordered by number)."""
    from plan_tasks.select.seed import PHASE_NUMBER, PHASE_PREFIX

    grouped: dict[str, list[dict[str, Any]]] = {}
    for task in document.get("tasks") or []:
        grouped.setdefault(task.get("phase") or "Unknown Phase", []).append(task)
    phases = []
    for name, tasks in grouped.items():
        match = PHASE_NUMBER.search(name)
        completed = sum(1 for task in tasks if task.get("status") == "completed")
        percentage = _percentage(completed, len(tasks))
        phases.append({
            "number": int(match.group(1)) if match else 0,
            "title": PHASE_PREFIX.sub("", name, count=1),
            "total": len(tasks),
            "completed": completed,
            "percentage": percentage,
            "status": "complete" if percentage == 100 else "in_progress" if percentage > 0 else "pending",
        })
    return sorted(phases, key=lambda phase: phase["number"])


def cmd_phases(args: argparse.Namespace) -> int:
    _print_json({"phases": _phases(load_status(_paths(args)))})
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    document = load_status(_paths(args))
    summary = doc.recalculate_summary(document)
    total = summary["totalTasks"]
    percentage = _percentage(summary["completed"], total)
    filled = int(percentage / 100 * 40 + 0.5)
    print(f"Plan: {document.get('planName')}")
    print(f"Progress: [{'█' * filled}{'░' * (40 - filled)}] {percentage}%")
    print()
    print(f"  ✓ Completed: {summary['completed']}")
    print(f"  ◯ Pending: {summary['pending']}")
    print(f"  ⏳ In Progress: {summary['in_progress']}")
    print(f"  ✗ Failed: {summary['failed']}")
    print(f"  ⊘ Skipped: {summary['skipped']}")
    print()
    print(f"Total: {total} tasks")
    print(f"Current Phase: {document.get('currentPhase')}")
    print(f"Last Updated: {document.get('lastUpdatedAt')}")
    return EXIT_OK


def cmd_failed(args: argparse.Namespace) -> int:
    tasks = doc.failed_tasks(load_status(_paths(args)), exhausted=args.command == "exhausted")
    _print_json({"count": len(tasks), "tasks": tasks})
    return EXIT_OK


def cmd_write_findings(args: argparse.Namespace) -> int:
    from plan_tasks.status.atomic import write_text_atomic

    paths = _paths(args)
    if args.file is not None:
        try:
            content = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PlanError(f"cannot read findings file: {error}", "pass a readable UTF-8 file", args.file) from None
    elif args.stdin:
        content = sys.stdin.read()
    else:
        content = args.content
    doc.find_task(load_status(paths), args.task_id)  # findings belong to a task that exists
    target = paths.findings_file(args.task_id)
    write_text_atomic(target, _without_secrets(content) or "")
    _print_json({"success": True, "taskId": args.task_id, "findingsPath": paths.relative(target)})
    return EXIT_OK


def cmd_read_findings(args: argparse.Namespace) -> int:
    paths = _paths(args)
    doc.find_task(load_status(paths), args.task_id)  # as write-findings: a task status.json knows
    try:
        content = paths.findings_file(args.task_id).read_text(encoding="utf-8")
    except OSError:
        raise PlanError(f"no findings for task {args.task_id}",
                        f"write some with `plan-tasks write-findings {args.task_id} --file F`") from None
    print(content)
    return EXIT_OK


def cmd_validate_status(args: argparse.Namespace) -> int:
    """The seed's `validate` (repair the summary, reset unknown statuses) plus a
    comparison of status.json with the plan's current tasks."""
    paths = _paths(args)
    _, entries = plan_entries(paths)
    issues: list[str] = []
    fixed = 0
    with transaction(paths) as document:
        for task in document["tasks"]:
            if task.get("status") not in doc.STATUSES:
                issues.append(f"Task {task.get('id')} has invalid status: {task.get('status')}")
                task["status"] = "pending"
                fixed += 1
        stored = document.get("summary") or {}
        for key, value in doc.recalculate_summary(document).items():
            if stored.get(key) != value:
                issues.append(f"Summary {key}: was {stored.get(key)}, should be {value}")
        if any(issue.startswith("Summary") for issue in issues):
            fixed += 1
        ids = [task.get("id") for task in document["tasks"]]
        duplicates = sorted({task_id for task_id in ids if ids.count(task_id) > 1}, key=str)
        if duplicates:
            issues.append(f"Duplicate task IDs found: {', '.join(map(str, duplicates))}")
        doc.refresh(document)
        summary = document["summary"]
    plan_ids = [entry.id for entry in entries]
    only_in_status = [task_id for task_id in ids if task_id not in set(plan_ids)]
    only_in_plan = [task_id for task_id in plan_ids if task_id not in set(ids)]
    if only_in_status:
        issues.append(f"Tasks in status.json but not in the plan: {', '.join(map(str, only_in_status))}")
    if only_in_plan:
        issues.append(f"Tasks in the plan but not in status.json: {', '.join(only_in_plan)}")
    unresolved = bool(duplicates or only_in_status or only_in_plan)
    _print_json({"valid": not issues, "issuesFound": len(issues), "issuesFixed": fixed, "issues": issues,
                 "summary": summary, "onlyInStatusJson": only_in_status, "onlyInPlan": only_in_plan})
    return EXIT_TASKS_FAILED if unresolved else EXIT_OK


def cmd_plans(args: argparse.Namespace) -> int:
    from plan_tasks.status.paths import OUTPUT_BASE

    root = Path(args.root or ".").resolve()
    rows = []
    for status_file in sorted((root / OUTPUT_BASE).glob("*/status.json")):
        display = status_file.relative_to(root).as_posix()
        try:
            document = read_status_file(status_file, display, f"it was left as it is; correct it by hand, or "
                                                              f"restore it from version control (`git checkout -- {display}`)")
        except (OSError, PlanError) as error:  # one bad file is reported; the others are still listed
            print(error.format() if isinstance(error, PlanError) else f"{display}: error: {error}", file=sys.stderr)
            rows.append({"name": status_file.parent.name, "error": "status.json unreadable"})
            continue
        summary = doc.recalculate_summary(document)
        rows.append({
            "name": status_file.parent.name,
            "planPath": document.get("planPath"),
            "planName": document.get("planName"),
            "total": summary["totalTasks"],
            "completed": summary["completed"],
            "inProgress": summary["in_progress"],
            "failed": summary["failed"],
            "percentage": _percentage(summary["completed"], summary["totalTasks"]),
            "currentPhase": document.get("currentPhase"),
            "lastUpdatedAt": document.get("lastUpdatedAt"),
        })
    exit_code = EXIT_INVALID if any("error" in row for row in rows) else EXIT_OK
    if args.json:
        _print_json({"count": len(rows), "plans": rows})
        return exit_code
    if not rows:
        print(f"no plans with a status under {root / OUTPUT_BASE}")
        return EXIT_OK
    for row in rows:
        if "error" in row:
            print(f"{row['name']:<32} {row['error']}")
            continue
        print(f"{row['name']:<32} {row['percentage']:>3}%  {row['completed']}/{row['total']} done, "
              f"{row['inProgress']} running, {row['failed']} failed  {row['planPath']}")
    return exit_code
