"""`plan-tasks show`: the execution preview of a plan, as text or as JSON.

The preview answers the seed's ``plan:batch`` step 4 before anything runs:
which tasks run together (groups), what waits for what and why (execution
note, shared file, explicit dependency), and the critical path. Tasks already
checked in the plan count as finished.
"""

from __future__ import annotations

from typing import Any

from plan_tasks.load import LoadedPlan
from plan_tasks.model import Task

def _finished(loaded: LoadedPlan) -> set[str]:
    return {task.id for task in loaded.plan.tasks if task.checked}


def preview_data(loaded: LoadedPlan, phase_gate: float = 1.0) -> dict[str, Any]:
    """The JSON document of ``show --json``."""
    plan, graph = loaded.plan, loaded.graph
    finished = _finished(loaded)
    groups = graph.levels(phase_gate, finished)
    path, weight = graph.critical_path(phase_gate, finished)

    def task_data(task: Task) -> dict[str, Any]:
        return {
            "id": task.id,
            "title": task.title,
            "status": task.initial_status,
            "depends_on": list(graph.predecessors.get(task.id, [])),
            "files": list(task.files),
            "weight": task.weight,
            "line": task.line,
        }

    return {
        "title": plan.title,
        "path": plan.path,
        "phase_gate": phase_gate,
        "phases": [
            {
                "number": phase.number,
                "label": phase.label,
                "title": phase.title,
                "name": phase.name,
                "sequential": phase.sequential,
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
        "critical_path": {"tasks": path, "weight": weight},
    }


def render_preview(loaded: LoadedPlan, phase_gate: float = 1.0) -> str:
    """The human-readable preview of ``show``."""
    plan, graph = loaded.plan, loaded.graph
    finished = _finished(loaded)
    groups = graph.levels(phase_gate, finished)
    group_of = {task_id: number for number, wave in enumerate(groups, 1) for task_id in wave}
    path, weight = graph.critical_path(phase_gate, finished)
    gate_note = {1.0: "phases in order", 0.0: "dependencies only"}.get(
        phase_gate, f"a phase opens when {phase_gate:.0%} of each earlier phase is done; shown in order"
    )
    out = [
        plan.title,
        f"{plan.path}: {len(plan.tasks)} tasks in {len(plan.phases)} phases, "
        f"{len(finished)} done, {len(groups)} groups ({gate_note})",
    ]
    for phase in plan.phases:
        tasks = plan.tasks_of(phase)
        tag = " [SEQUENTIAL]" if phase.sequential else ""
        out.append("")
        out.append(f"{phase.name}{tag}  ({len(tasks)} tasks)")
        done = [task.id for task in tasks if task.id in finished]
        if done:
            out.append(f"  done: {', '.join(done)}")
        by_group: dict[int, list[Task]] = {}
        for task in tasks:
            if task.id in group_of:
                by_group.setdefault(group_of[task.id], []).append(task)
        for number, members in sorted(by_group.items()):
            label = f"group {number}" + (" (parallel)" if len(members) > 1 else "")
            for position, task in enumerate(members):
                lead = f"  {label:<22}" if position == 0 else " " * 24
                out.append(f"{lead}{task.id} {task.title}{_waits(loaded, task)}")
    out.append("")
    chain = " -> ".join(path) if path else "(nothing left to run)"
    out.append(f"Critical path (weight {weight}): {chain}")
    return "\n".join(out)


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
