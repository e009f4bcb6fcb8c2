"""`plan-tasks reset PLAN [TASK... | phase:N | --failed | --all]`: tasks back to `pending`.

After a failure is fixed, `run` already runs the failed task and the tasks
skipped because of it again; `reset` is for the other cases: run a completed
task again, take back a `mark-skipped`, or start a plan over. It names the plan
as `run PLAN` does, changes status.json in one locked transaction and says
what it changed, e.g. ``reset 3 tasks to pending: 2.1 (failed), 2.3 (skipped),
2.4 (skipped)``. Like the other status commands it never imports Prefect.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from plan_tasks.errors import EXIT_OK, PlanError
from plan_tasks.status import document as doc
from plan_tasks.status.paths import require_plan_or_status, resolve_plan
from plan_tasks.status.store import load_status, locked, require_status, save_status

_PHASE_SELECTOR = re.compile(r"^(?:phase|p):(?P<label>\d+(?:\.\d+)*)$", re.IGNORECASE)
_PHASE_LABEL = re.compile(r"^Phase\s+(?P<label>\d+(?:\.\d+)*)\b")  # of "Phase 2: Endpoints"
LISTED = 20  # ids named in the confirmation line; more are counted


def register(commands: Any) -> None:
    reset = commands.add_parser(
        "reset", help="put tasks back to pending (TASK..., phase:N, --failed or --all)",
        description="Put tasks back to pending, clearing what their last attempt or skip left "
                    "(lastError and lastErrorAt stay, as the seed keeps them).")
    reset.add_argument("plan", metavar="PLAN")
    reset.add_argument("selection", nargs="*", metavar="TASK", help="task ids (2.1 2.3) or phases (phase:2, p:2)")
    which = reset.add_mutually_exclusive_group()
    which.add_argument("--failed", action="store_true",
                       help="failed tasks and the tasks skipped because one failed")
    which.add_argument("--all", action="store_true",
                       help="every task that is not pending (tasks the plan itself skips stay skipped)")
    reset.add_argument("--root", metavar="DIR", help="project root (default: the current directory)")
    reset.set_defaults(handler=cmd_reset)


def cmd_reset(args: argparse.Namespace) -> int:
    if bool(args.selection) + args.failed + args.all != 1:
        raise PlanError("say which tasks to reset: task ids or phase:N, `--failed`, or `--all`",
                        f"e.g. `plan-tasks reset {args.plan} --failed`")
    paths = require_plan_or_status(resolve_plan(args.plan, args.root))
    require_status(paths)  # before the lock, which would create the output folder
    with locked(paths):
        document = load_status(paths)
        if args.failed:
            chosen = doc.failed_and_skipped_for_it(document)
        elif args.all:
            chosen = doc.resettable(document)
        else:
            chosen = _selected(document, args.selection, paths.plan_ref)
        changed = doc.reset_tasks(document, chosen)
        if changed:  # nothing to reset writes nothing
            save_status(paths, document)
    print(confirmation(changed) if changed else f"nothing to reset: {_nothing_reason(args)}")
    return EXIT_OK


def _nothing_reason(args: argparse.Namespace) -> str:
    if args.failed:
        return "no task has failed, nor been skipped because one failed"
    if args.all:
        return "every task is pending already"
    return f"{', '.join(args.selection)} {'is' if len(args.selection) == 1 else 'are'} pending already"


def _selected(document: doc.Document, selection: list[str], plan_ref: str) -> list[str]:
    """The ids named, with ``phase:N`` standing for every task of phase N."""
    chosen: list[str] = []
    for selector in selection:
        phase = _PHASE_SELECTOR.match(selector)
        if phase is None:
            chosen.append(doc.find_task(document, selector)["id"])  # an unknown id: TaskNotFound, did-you-mean
            continue
        labels = {task["id"]: _label(task) for task in document["tasks"]}
        matching = [task_id for task_id, label in labels.items() if label == phase.group("label")]
        if not matching:
            known = ", ".join(dict.fromkeys(label for label in labels.values() if label))
            raise PlanError(f"no phase {phase.group('label')} in the status of {plan_ref}",
                            f"phases are: {known}" if known else "select tasks by id")
        chosen.extend(matching)
    return list(dict.fromkeys(chosen))


def _label(task: dict[str, Any]) -> str | None:
    match = _PHASE_LABEL.match(task.get("phase") or "")
    return match.group("label") if match else None


def confirmation(changed: list[tuple[str, str]]) -> str:
    """``reset 3 tasks to pending: 2.1 (failed), 2.3 (skipped), 2.4 (skipped)``."""
    listed = ", ".join(f"{task_id} ({previous})" for task_id, previous in changed[:LISTED])
    more = f" and {len(changed) - LISTED} more" if len(changed) > LISTED else ""
    noun = "task" if len(changed) == 1 else "tasks"
    return f"reset {len(changed)} {noun} to pending: {listed}{more}"
