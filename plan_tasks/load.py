"""Load a plan file into a checked plan and its graph, or fail with every problem.

This is the one entry point the commands use: read, parse, build the graph,
check. Warnings ride along on the result; errors raise :class:`PlanInvalid`.
"""

from __future__ import annotations

from dataclasses import dataclass

from plan_tasks.check import check_plan
from plan_tasks.errors import PlanInvalid, Problem
from plan_tasks.graph import PlanGraph, build_graph
from plan_tasks.model import Plan
from plan_tasks.parse import parse_plan, read_plan_text


@dataclass(frozen=True)
class LoadedPlan:
    plan: Plan
    graph: PlanGraph
    warnings: tuple[Problem, ...] = ()


def load_text(text: str, path: str = "<plan>", dialect: str | None = None) -> LoadedPlan:
    """Parse (in ``dialect``, default: the detected one) and check a plan's text."""
    plan, problems = parse_plan(text, path, dialect)
    graph = build_graph(plan)
    problems += check_plan(plan, graph)
    if any(problem.is_error for problem in problems):
        raise PlanInvalid(problems)
    return LoadedPlan(plan, graph, tuple(problems))


def load_plan(path: str, dialect: str | None = None) -> LoadedPlan:
    """Read and check the plan at ``path``; raises PlanInvalid with all problems.

    ``dialect`` forces a plan format (``--format``); by default it is detected.
    """
    text, problems = read_plan_text(path)
    if text is None:
        raise PlanInvalid(problems)
    return load_text(text, path, dialect)
