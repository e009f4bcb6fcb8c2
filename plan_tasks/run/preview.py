"""`plan-tasks show`: the execution preview of a plan, as text or as JSON.

The preview answers the seed's ``plan:batch`` step 4 before anything runs:
which tasks run together (groups), what waits for what and why (execution
note, shared file, explicit dependency), and the critical path. Finished tasks
(completed or skipped) are those status.json says, when the plan has one, else
the boxes checked in the plan; groups and the critical path cover what is left.
"""

from __future__ import annotations

from typing import Any

from plan_tasks.load import LoadedPlan
from plan_tasks.model import Plan, Task
from plan_tasks.statuses import FAILED, FINISHED, IN_PROGRESS


def _status_of(loaded: LoadedPlan, statuses: dict[str, str] | None) -> dict[str, str]:
    """Each task's status: status.json's when given (a task it does not know yet: the plan's)."""
    statuses = statuses or {}
    return {task.id: statuses.get(task.id) or task.initial_status for task in loaded.plan.tasks}


def _finished(status_of: dict[str, str]) -> set[str]:
    return {task_id for task_id, status in status_of.items() if status in FINISHED}


def preview_data(loaded: LoadedPlan, phase_gate: float = 1.0, statuses: dict[str, str] | None = None,
                 status_file: str | None = None) -> dict[str, Any]:
    """The JSON document of ``show --json``; ``statuses`` are status.json's, when it exists."""
    plan, graph = loaded.plan, loaded.graph
    status_of = _status_of(loaded, statuses)
    finished = _finished(status_of)
    groups = graph.levels(phase_gate, finished)
    path, weight = graph.critical_path(phase_gate, finished)

    def task_data(task: Task) -> dict[str, Any]:
        return {
            "id": task.id,
            "title": task.title,
            "status": status_of[task.id],
            "depends_on": list(graph.predecessors.get(task.id, [])),
            "files": list(task.files),
            "weight": task.weight,
            "line": task.line,
        }

    return {
        "title": plan.title,
        "path": plan.path,
        "status_file": status_file,
        "dialect": plan.dialect,
        "dialect_reason": plan.dialect_reason,
        "phase_gate": phase_gate,
        "phases": [
            {
                "number": phase.number,
                "label": phase.label,
                "title": phase.title,
                "name": phase.name,
                "sequential": phase.sequential,
                "parallel": phase.parallel,
                "line": phase.line,
                "tasks": [task_data(task) for task in plan.tasks_of(phase)],
            }
            for phase in plan.phases
        ],
        "groups": groups,
        "edges": [
            {"from": edge.source, "to": edge.target, "kind": edge.kind, "reason": edge.reason, "line": edge.line}
            for edge in graph.edges
        ],
        "overrides": [
            {"tasks": [override.source, override.target], "path": override.path, "reason": override.reason}
            for override in graph.overrides
        ],
        "critical_path": {"tasks": path, "weight": weight},
    }


def render_preview(loaded: LoadedPlan, phase_gate: float = 1.0, statuses: dict[str, str] | None = None,
                   status_file: str | None = None) -> str:
    """The human-readable preview of ``show``; ``statuses`` are status.json's, when it exists."""
    plan, graph = loaded.plan, loaded.graph
    status_of = _status_of(loaded, statuses)
    finished = _finished(status_of)
    groups = graph.levels(phase_gate, finished)
    group_of = {task_id: number for number, wave in enumerate(groups, 1) for task_id in wave}
    path, weight = graph.critical_path(phase_gate, finished)
    gate_note = {1.0: "phases in order", 0.0: "dependencies only"}.get(
        phase_gate, f"a phase opens when {phase_gate:.0%} of each earlier phase is done; shown in order"
    )
    out = [
        plan.title,
        f"{plan.path}: {len(plan.tasks)} tasks in {len(plan.phases)} phases, "
        f"{len(finished)} done{_skipped_count(plan)}{_unfinished_note(status_of)}, {len(groups)} groups ({gate_note})",
        f"format: {plan.dialect} ({plan.dialect_reason})" if plan.dialect_reason else f"format: {plan.dialect}",
    ]
    if status_file:
        out.append(f"statuses from {status_file}")
    for phase in plan.phases:
        tasks = plan.tasks_of(phase)
        tag = " [SEQUENTIAL]" if phase.sequential else " [PARALLEL]" if phase.parallel else ""
        out.append("")
        out.append(f"{phase.name}{tag}  ({len(tasks)} tasks)")
        done = [task.id for task in tasks if task.id in finished and not task.skipped]
        if done:
            out.append(f"  done: {', '.join(done)}")
        skipped = [task.id for task in tasks if task.skipped]
        if skipped:
            out.append(f"  skipped by the plan: {', '.join(skipped)}")
        by_group: dict[int, list[Task]] = {}
        for task in tasks:
            if task.id in group_of:
                by_group.setdefault(group_of[task.id], []).append(task)
        for number, members in sorted(by_group.items()):
            label = f"group {number}" + (" (parallel)" if len(members) > 1 else "")
            for position, task in enumerate(members):
                lead = f"  {label:<22}" if position == 0 else " " * 24
                out.append(f"{lead}{task.id} {task.title}{_waits(loaded, task)}")
    for override in graph.overrides:
        out.append("")
        out.append(f"{override.source} and {override.target} both touch {override.path} but run together: "
                   f"{override.reason}")
    out.append("")
    chain = " -> ".join(path) if path else "(nothing left to run)"
    out.append(f"Critical path (weight {weight}): {chain}")
    return "\n".join(out)


def _unfinished_note(status_of: dict[str, str]) -> str:
    """", 1 failed, 2 in progress" for what status.json says is neither done nor pending."""
    counts = {label: sum(1 for status in status_of.values() if status == key)
              for key, label in ((FAILED, "failed"), (IN_PROGRESS, "in progress"))}
    return "".join(f", {count} {label}" for label, count in counts.items() if count)


def _skipped_count(plan: Plan) -> str:
    skipped = sum(1 for task in plan.tasks if task.skipped)
    return f" ({skipped} skipped by the plan)" if skipped else ""


def _waits(loaded: LoadedPlan, task: Task) -> str:
    graph = loaded.graph
    reasons = []
    for upstream in graph.predecessors.get(task.id, []):
        edge = graph.edge(upstream, task.id)
        if edge is None:
            continue
        if edge.kind == "depends":
            reasons.append(f"depends on {upstream}")
        else:
            reasons.append(f"after {upstream}: {edge.reason}")
    return f"  [{'; '.join(reasons)}]" if reasons else ""
