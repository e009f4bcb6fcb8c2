"""Whole-plan checks that need every task at once: duplicate ids, references
to unknown tasks (with a did-you-mean), self-dependencies, dependencies that
run against phase order, and cycles. Parsing reports what one line gets wrong;
this module reports what the lines get wrong together.
"""

from __future__ import annotations

import difflib

from plan_tasks.errors import Location, Problem
from plan_tasks.graph import PlanGraph
from plan_tasks.model import Plan, TaskRef


def check_plan(plan: Plan, graph: PlanGraph) -> list[Problem]:
    problems: list[Problem] = []
    problems += _duplicate_ids(plan)
    problems += _unknown_references(plan)
    problems += _dependencies_against_phase_order(plan)
    problems += _cycles(plan, graph)
    return problems


def _at(plan: Plan, line: int, column: int) -> Location:
    return Location(plan.path, line, column)


def _duplicate_ids(plan: Plan) -> list[Problem]:
    first_seen: dict[str, int] = {}
    problems = []
    for task in plan.tasks:
        if task.id in first_seen:
            problems.append(Problem(
                _at(plan, task.line, task.column),
                f"duplicate task id {task.id} (first defined at line {first_seen[task.id]})",
                "give every task its own id; renumber this one",
            ))
        else:
            first_seen[task.id] = task.line
    return problems


def _did_you_mean(task_id: str, known: list[str]) -> str:
    close = difflib.get_close_matches(task_id, known, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def _unknown(plan: Plan, ref: TaskRef, what: str, known: list[str]) -> Problem:
    return Problem(
        _at(plan, ref.line, ref.column),
        f"{what} unknown task {ref.id}{_did_you_mean(ref.id, known)}",
        "refer to tasks by the ids of their `- [ ] N.M` lines",
    )


def _unknown_references(plan: Plan) -> list[Problem]:
    known_ids = plan.task_by_id
    known = list(known_ids)
    problems = []
    for task in plan.tasks:
        for ref in task.depends_on:
            if ref.id == task.id:
                problems.append(Problem(
                    _at(plan, ref.line, ref.column),
                    f"task {task.id} depends on itself",
                    "remove the dependency, or name the task it really waits for",
                ))
            elif ref.id not in known_ids:
                # Never suggest the task itself: that would be a self-dependency.
                others = [task_id for task_id in known if task_id != task.id]
                problems.append(_unknown(plan, ref, f"task {task.id} depends on", others))
    for note in plan.notes:
        for ref in note.tasks:
            if ref.id not in known_ids:
                problems.append(_unknown(plan, ref, "execution note names", known))
    return problems


def _dependencies_against_phase_order(plan: Plan) -> list[Problem]:
    problems = []
    for task in plan.tasks:
        for ref in task.depends_on:
            upstream = plan.task_by_id.get(ref.id)
            if upstream is not None and upstream.phase_index > task.phase_index:
                problems.append(Problem(
                    _at(plan, ref.line, ref.column),
                    f"task {task.id} ({plan.phase_of(task).name}) depends on task {ref.id} "
                    f"of a later phase ({plan.phase_of(upstream).name})",
                    "phases run in order: move one of the two tasks so the dependency points backwards",
                ))
    return problems


def _cycles(plan: Plan, graph: PlanGraph) -> list[Problem]:
    cycle = graph.find_cycle()
    if cycle is None:
        return []
    # The cycle lists each task then the one it waits for; the first edge locates it.
    edge = graph.edge(cycle[1], cycle[0])
    line, column = (edge.line, edge.column) if edge else (plan.task_by_id[cycle[0]].line, 1)
    reasons = "; ".join(
        f"{waiter} waits for {upstream} ({found.reason})"
        for waiter, upstream in zip(cycle, cycle[1:])
        if (found := graph.edge(upstream, waiter)) is not None
    )
    return [Problem(
        _at(plan, line, column),
        f"dependency cycle: {' -> '.join(cycle)}",
        f"{reasons}; remove one of these so the tasks can be ordered",
    )]
