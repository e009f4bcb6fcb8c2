"""The three layers on the one ready-set rule agree: `next --policy ready`,
`show`'s groups and the run's scheduler give the same ready tasks as the
graph's TaskSorter, on generated plans and finished sets, and as tasks finish.

Plans come from ``test_graph_properties.generated_plans`` (Markdown text with
dependencies, notes, sequential phases, shared files, weights and checked
boxes, loaded through the parser). File conflicts and slots are layers of
their own: the scheduler runs here with unlimited slots and no file locks, and
`next`'s ready set is what it offered plus what it held back for a shared file.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_graph_properties import GATES, GeneratedPlan, generated_plans, property_settings

from plan_tasks.load import LoadedPlan, load_text
from plan_tasks.plan_index import build_index
from plan_tasks.run.scheduler import RunScheduler
from plan_tasks.select.ready import select_next_ready

FILE_CONFLICT = "shares a file with a task in progress or already chosen"


def next_ready(loaded: LoadedPlan, statuses: dict[str, str], gate: float) -> tuple[list[str], list[str]]:
    """`next`'s ready tasks as a set-like sorted list, and the tasks it offered, in its order."""
    document = {"tasks": [{"id": task_id, "status": status} for task_id, status in statuses.items()]}
    answer = select_next_ready(document, build_index(loaded), len(statuses) + 1, phase_gate=gate, explain=True)
    offered = [entry["id"] for entry in answer["tasks"]]
    held_for_files = [entry["id"] for entry in answer["blocked"] if entry["reason"] == FILE_CONFLICT]
    return sorted(offered + held_for_files), offered


def unlimited_scheduler(loaded: LoadedPlan, to_run: list[str], gate: float) -> RunScheduler:
    return RunScheduler(loaded.graph, to_run, files={}, max_parallel=10**6, phase_gate=gate)


@st.composite
def plans_and_finished_sets(draw: st.DrawFn) -> tuple[GeneratedPlan, LoadedPlan, set[str], float]:
    plan = draw(generated_plans())
    loaded = load_text(plan.text, "generated.md")
    task_ids = list(loaded.graph.task_ids)
    finished = set(draw(st.lists(st.sampled_from(task_ids), unique=True))) if task_ids else set()
    return plan, loaded, finished, draw(st.sampled_from(GATES))


@property_settings
@given(plans_and_finished_sets())
def test_next_show_and_the_scheduler_hand_out_the_sorters_ready_set(
        case: tuple[GeneratedPlan, LoadedPlan, set[str], float]) -> None:
    _, loaded, finished, gate = case
    graph = loaded.graph
    unfinished = [task_id for task_id in graph.task_ids if task_id not in finished]
    sorter_ready = sorted(graph.sorter(gate, finished).get_ready())

    statuses = {task_id: "completed" if task_id in finished else "pending" for task_id in graph.task_ids}
    ready_of_next, offered = next_ready(loaded, statuses, gate)
    handed_out = unlimited_scheduler(loaded, unfinished, gate).take()
    groups = graph.levels(gate, finished)

    assert ready_of_next == sorter_ready
    assert sorted(handed_out) == sorter_ready
    assert (sorted(groups[0]) if groups else []) == sorter_ready
    # One remaining critical weight: `next` offers in the order the scheduler hands out.
    assert [task_id for task_id in handed_out if task_id in offered] == offered


@property_settings
@given(plans_and_finished_sets(), st.randoms(use_true_random=False))
def test_as_tasks_finish_next_and_the_scheduler_keep_agreeing_with_a_fresh_sorter(
        case: tuple[GeneratedPlan, LoadedPlan, set[str], float], chance: Any) -> None:
    _, loaded, finished, gate = case
    graph = loaded.graph
    to_run = [task_id for task_id in graph.task_ids if task_id not in finished]
    scheduler = unlimited_scheduler(loaded, to_run, gate)
    statuses = {task_id: "completed" if task_id in finished else "pending" for task_id in graph.task_ids}
    running: list[str] = []
    while True:
        handed_out = scheduler.take()
        done = {task_id for task_id, status in statuses.items() if status == "completed"}
        pending = [task_id for task_id, status in statuses.items() if status == "pending"]
        expected = sorted(graph.sorter(gate, done, candidates=pending).get_ready())
        assert sorted(handed_out) == expected
        assert next_ready(loaded, statuses, gate)[0] == expected
        for task_id in handed_out:
            statuses[task_id] = "in_progress"
        running += handed_out
        if not running:
            break
        finishing = running.pop(chance.randrange(len(running)))
        scheduler.finish(finishing, succeeded=True)
        statuses[finishing] = "completed"
    assert scheduler.all_settled()
    assert set(statuses.values()) <= {"completed"}
