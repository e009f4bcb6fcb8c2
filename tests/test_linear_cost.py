"""The work of `run --dry-run`, of the graph's walks and of the run's scheduler
grows linearly with the plan.

Counted, not timed: every task id is a ``str`` subclass that counts its own
hashing, and every set or dict lookup of an id hashes it. A walk that rebuilds
a set of n ids once per task (``task_id not in set(selected)``, which took 30 s
of `run --dry-run` at 20,000 tasks) hashes n * n times; a linear one a small
constant times n. At four times the tasks, linear work counts about four times
the hashes and quadratic work sixteen times, whatever the machine's speed.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import io
from collections.abc import Callable

import pytest

from plan_tasks.cli.run import _dry_run
from plan_tasks.graph import PlanGraph
from plan_tasks.load import LoadedPlan, load_text
from plan_tasks.run.scheduler import RunScheduler
from plan_tasks.task_graph import TaskGraph

SMALL, LARGE = 300, 1200
# Linear work gives LARGE / SMALL = 4; quadratic work gives 16.
MOST_GROWTH = 6.0


class CountingId(str):
    """A task id that counts how often it is hashed."""

    hashes = 0

    def __hash__(self) -> int:
        CountingId.hashes += 1
        return str.__hash__(self)


def plan_text(tasks: int) -> str:
    """Phases of ten tasks: a sequential note on the first three of each, every
    task but the first phase's depending on its namesake one phase earlier,
    and the first half of the plan already checked."""
    lines = ["# Growing plan", ""]
    for phase in range(1, tasks // 10 + 1):
        lines += [f"## Phase {phase}: Part {phase}", "",
                  f"**Execution Note:** Tasks {phase}.1-{phase}.3 are [SEQUENTIAL] - one table", ""]
        for number in range(1, 11):
            box = "x" if phase <= tasks // 20 else " "
            depends = f" (depends: {phase - 1}.{number})" if phase > 1 else ""
            lines.append(f"- [{box}] {phase}.{number} Build part {number} in `src/part_{number}.py`{depends}")
        lines.append("")
    return "\n".join(lines)


def with_counting_ids(loaded: LoadedPlan) -> tuple[LoadedPlan, list[CountingId]]:
    """The plan with a copy of its graph whose ids count their hashing, and
    the unchecked tasks' ids (what `run` selects)."""
    graph = loaded.graph
    ids = {task_id: CountingId(task_id) for task_id in graph.task_ids}
    counted = PlanGraph([ids[task_id] for task_id in graph.task_ids],
                        {ids[task_id]: phase for task_id, phase in graph.phase_of.items()},
                        {ids[task_id]: weight for task_id, weight in graph.weight.items()},
                        graph.phase_count,
                        [dataclasses.replace(edge, source=ids[edge.source], target=ids[edge.target])
                         for edge in graph.edges])
    unchecked = [ids[task.id] for task in loaded.plan.tasks if not task.checked]
    return dataclasses.replace(loaded, graph=counted), unchecked


def dry_run(loaded: LoadedPlan, selected: list[CountingId]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        _dry_run(loaded, selected, argparse.Namespace(phase_gate=0.8))


def scheduler_run(gate: float) -> Callable[[LoadedPlan, list[CountingId]], object]:
    """Every take and finish of a run of the selected tasks, 4 slots, file locks on (task
    p.n holds src/part_n.py), without dependencies: at gate 0 every task is ready at once."""
    def walk(loaded: LoadedPlan, selected: list[CountingId]) -> object:
        graph = loaded.graph
        unordered = TaskGraph(graph.task_ids, graph.phase_of, graph.weight, graph.phase_count, {})
        files = {task_id: (f"src/part_{task_id.partition('.')[2]}.py",) for task_id in selected}
        scheduler = RunScheduler(unordered, selected, files=files, max_parallel=4, phase_gate=gate)
        running: collections.deque[str] = collections.deque()
        while True:
            running.extend(scheduler.take())
            if not running:
                return scheduler.all_settled()
            scheduler.finish(running.popleft(), succeeded=True)

    return walk


WALKS: dict[str, Callable[[LoadedPlan, list[CountingId]], object]] = {
    "run --dry-run": dry_run,
    "levels at gate 0.8": lambda loaded, selected: loaded.graph.levels(0.8, set(loaded.graph.task_ids) - set(selected)),
    "levels at gate 0": lambda loaded, selected: loaded.graph.levels(0.0),
    "critical path at gate 1": lambda loaded, selected: loaded.graph.critical_path(1.0, selected[::2]),
    "critical path at gate 0": lambda loaded, selected: loaded.graph.critical_path(0.0),
    "cycle search": lambda loaded, selected: loaded.graph.find_cycle(),
    "scheduler run at gate 0": scheduler_run(0.0),
    "scheduler run at gate 0.8": scheduler_run(0.8),
}


def hashes_of(walk: Callable[[LoadedPlan, list[CountingId]], object], tasks: int) -> int:
    loaded, selected = with_counting_ids(load_text(plan_text(tasks), "growing.md"))
    CountingId.hashes = 0
    walk(loaded, selected)
    return CountingId.hashes


@pytest.mark.parametrize("walk", list(WALKS.values()), ids=list(WALKS))
def test_work_grows_linearly_with_the_number_of_tasks(walk: Callable[[LoadedPlan, list[CountingId]], object]) -> None:
    small, large = hashes_of(walk, SMALL), hashes_of(walk, LARGE)
    assert small >= SMALL, "the walk must look its task ids up, or this test counts nothing"
    assert large / small < MOST_GROWTH, f"{small} hashes at {SMALL} tasks, {large} at {LARGE}"


def test_a_set_rebuilt_per_task_is_caught() -> None:
    # Guards the guard: the quadratic walk `run --dry-run` once had.
    def quadratic(loaded: LoadedPlan, selected: list[CountingId]) -> object:
        return [task_id for task_id in loaded.graph.task_ids if task_id not in set(selected)]

    assert hashes_of(quadratic, LARGE) / hashes_of(quadratic, SMALL) > MOST_GROWTH
