"""`plan-tasks graph`: the dependency graph as Mermaid, Graphviz DOT or JSON.

Edges point from the task that finishes first to the task that waits, and are
labelled by kind (``depends``, ``sequential``, ``file``) with their reason.
File conflicts a ``[PARALLEL]`` note or phase overrides are drawn as dotted,
undirected links labelled with the override's reason: they are not edges.
Phase order is drawn once per pair of consecutive phases, not per task pair.
"""

from __future__ import annotations

import json
import re
from typing import Any

from plan_tasks.load import LoadedPlan

FORMATS = ("mermaid", "dot", "json")


def export_graph(loaded: LoadedPlan, fmt: str) -> str:
    if fmt == "mermaid":
        return to_mermaid(loaded)
    if fmt == "dot":
        return to_dot(loaded)
    if fmt == "json":
        return json.dumps(graph_data(loaded), indent=2)
    raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")


def graph_data(loaded: LoadedPlan) -> dict[str, Any]:
    plan, graph = loaded.plan, loaded.graph
    return {
        "title": plan.title,
        "dialect": plan.dialect,
        "nodes": [
            {
                "id": task.id,
                "title": task.title,
                "phase": plan.phase_of(task).name,
                "status": task.initial_status,
                "weight": task.weight,
                "files": list(task.files),
            }
            for task in plan.task_by_id.values()
        ],
        "edges": [
            {"from": edge.source, "to": edge.target, "kind": edge.kind, "reason": edge.reason}
            for edge in graph.edges
        ],
        "overrides": [
            {"tasks": [override.source, override.target], "path": override.path, "reason": override.reason}
            for override in graph.overrides
        ],
        "phase_order": [
            {"from": earlier.name, "to": later.name}
            for earlier, later in zip(plan.phases, plan.phases[1:])
        ],
    }


def _node_name(task_id: str) -> str:
    return "t" + task_id.replace(".", "_")


def _mermaid_text(text: str) -> str:
    # Mermaid labels are quoted; a quote or bracket inside would end them.
    return re.sub(r'["\[\]<>]', lambda m: f"#{ord(m.group(0))};", text)


def to_mermaid(loaded: LoadedPlan) -> str:
    plan, graph = loaded.plan, loaded.graph
    lines = ["flowchart TD"]
    for phase in plan.phases:
        lines.append(f'  subgraph p{phase.index}["{_mermaid_text(phase.name)}"]')
        for task in plan.tasks_of(phase):
            mark = "✓ " if task.checked else ""
            lines.append(f'    {_node_name(task.id)}["{mark}{task.id} {_mermaid_text(task.title)}"]')
        lines.append("  end")
    for earlier, later in zip(plan.phases, plan.phases[1:]):
        lines.append(f"  p{earlier.index} -.->|phase order| p{later.index}")
    for edge in graph.edges:
        label = _mermaid_text(f"{edge.kind}: {edge.reason}")
        lines.append(f'  {_node_name(edge.source)} -->|"{label}"| {_node_name(edge.target)}')
    for override in graph.overrides:
        label = _mermaid_text(f"together: {override.reason} (both touch {override.path})")
        lines.append(f'  {_node_name(override.source)} -.-|"{label}"| {_node_name(override.target)}')
    return "\n".join(lines)


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(loaded: LoadedPlan) -> str:
    plan, graph = loaded.plan, loaded.graph
    lines = ["digraph plan {", "  compound=true;", "  rankdir=TB;", "  node [shape=box];"]
    for phase in plan.phases:
        lines.append(f"  subgraph cluster_{phase.index} {{")
        lines.append(f'    label="{_dot_text(phase.name)}";')
        for task in plan.tasks_of(phase):
            style = ", style=filled, fillcolor=palegreen" if task.checked else ""
            lines.append(f'    {_node_name(task.id)} [label="{_dot_text(task.id + " " + task.title)}"{style}];')
        lines.append("  }")
    # Clusters can only be joined through their nodes, so empty phases are stepped over.
    filled = [phase for phase in plan.phases if phase.task_ids]
    for earlier, later in zip(filled, filled[1:]):
        lines.append(
            f"  {_node_name(earlier.task_ids[-1])} -> {_node_name(later.task_ids[0])} "
            f'[ltail=cluster_{earlier.index}, lhead=cluster_{later.index}, style=dashed, label="phase order"];'
        )
    for edge in graph.edges:
        lines.append(
            f'  {_node_name(edge.source)} -> {_node_name(edge.target)} [label="{_dot_text(edge.kind + ": " + edge.reason)}"];'
        )
    for override in graph.overrides:
        label = _dot_text(f"together: {override.reason} (both touch {override.path})")
        lines.append(
            f'  {_node_name(override.source)} -> {_node_name(override.target)} [style=dotted, dir=none, label="{label}"];'
        )
    lines.append("}")
    return "\n".join(lines)
