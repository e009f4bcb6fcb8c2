"""The dependency-aware `next N` (``--policy ready``): each rule on a small
fixture plan with its exact answer, then invariants on generated plans and
random statuses, and an agent loop that must finish every generated plan.

The selector is called directly (``select_next_ready``); the command line
around it is tested in ``test_cli_status.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_tasks.load import load_plan, load_text
from plan_tasks.plan_index import PlanIndex, build_index
from plan_tasks.select import batch_size
from plan_tasks.select.ready import select_next_ready

READY = Path(__file__).parent / "fixtures" / "ready"
FINISHED = {"completed", "skipped"}


@functools.cache
def fixture_index(name: str) -> PlanIndex:
    return build_index(load_plan(str(READY / name)))


def status_document(index: PlanIndex, statuses: dict[str, str | tuple[str, int]]) -> dict[str, Any]:
    """A status.json document: every plan task, pending unless ``statuses`` says
    otherwise; ``("failed", 2)`` is a failed task with a retryCount of 2."""
    tasks = []
    for task in index.tasks:
        given_status = statuses.get(task.id, "pending")
        status, retries = given_status if isinstance(given_status, tuple) else (given_status, None)
        record: dict[str, Any] = {"id": task.id, "phase": index.phase_name(task), "status": status}
        if retries is not None:
            record["retryCount"] = retries
        tasks.append(record)
    return {"tasks": tasks}


def completed(*task_ids: str) -> dict[str, str]:
    return dict.fromkeys(task_ids, "completed")


def offer(plan: str, statuses: dict[str, Any], count: int = 10, **options: Any) -> dict[str, Any]:
    index = fixture_index(plan)
    return select_next_ready(status_document(index, statuses), index, count, **options)


def offered_ids(answer: dict[str, Any]) -> list[str]:
    return [task["id"] for task in answer["tasks"]]


# -- the rules, one case each ------------------------------------------------

# (rule, plan, statuses, options, the ids offered, in order)
RULES: list[tuple[str, str, dict[str, Any], dict[str, Any], list[str]]] = [
    # dependencies.md: 1.2 depends on 1.1; a note chains 1.3 -> 1.4; 1.5 and 1.6 share a file.
    ("every kind of predecessor holds its successor back", "dependencies.md", {}, {}, ["1.1", "1.3", "1.5"]),
    ("a completed explicit dependency releases its successor", "dependencies.md", completed("1.1"), {},
     ["1.3", "1.5", "1.2"]),
    ("a skipped explicit dependency releases its successor", "dependencies.md", {"1.1": "skipped"}, {},
     ["1.3", "1.5", "1.2"]),
    ("a completed task of a sequential note releases the next one", "dependencies.md", completed("1.3"), {},
     ["1.1", "1.5", "1.4"]),
    ("a completed same-file task releases the later task of its phase", "dependencies.md", completed("1.5"), {},
     ["1.1", "1.3", "1.6"]),
    ("an in-progress predecessor holds its successor back and is not offered", "dependencies.md",
     {"1.1": "in_progress"}, {}, ["1.3", "1.5"]),
    ("a failed predecessor is retried but holds its successor back", "dependencies.md", {"1.1": "failed"}, {},
     ["1.1", "1.3", "1.5"]),
    ("a failed task is not retried while its predecessor is unfinished", "dependencies.md",
     {"1.1": "failed", "1.2": "failed"}, {}, ["1.1", "1.3", "1.5"]),
    # files.md: 1.1 and 2.1 name src/app.py (different phases: no edge between them).
    ("two tasks naming one file are never offered together, even across phases", "files.md", {},
     {"phase_gate": 0.0}, ["1.1", "1.2", "2.2"]),
    ("a task naming the file of an in-progress task is held back", "files.md", {"1.1": "in_progress"},
     {"phase_gate": 0.0}, ["1.2", "2.2"]),
    ("a finished task frees its file", "files.md", completed("1.1"), {"phase_gate": 0.0}, ["1.2", "2.1", "2.2"]),
    # gate.md: phases of 5, 2 and 1 tasks, no dependencies.
    ("the 0.8 gate keeps phase 2 closed at 3 of 5 finished", "gate.md", completed("1.1", "1.2", "1.3"), {},
     ["1.4", "1.5"]),
    ("the 0.8 gate opens phase 2 at 4 of 5 finished", "gate.md", completed("1.1", "1.2", "1.3", "1.4"), {},
     ["1.5", "2.1", "2.2"]),
    ("skipped tasks count toward the gate", "gate.md", {**completed("1.1", "1.2", "1.3"), "1.4": "skipped"}, {},
     ["1.5", "2.1", "2.2"]),
    ("failed tasks do not count toward the gate", "gate.md", {**completed("1.1", "1.2", "1.3"), "1.4": "failed"},
     {}, ["1.4", "1.5"]),
    ("every earlier phase must pass the gate (1 of 2 is under 0.8)", "gate.md",
     completed("1.1", "1.2", "1.3", "1.4", "1.5", "2.1"), {}, ["2.2"]),
    ("the strict gate keeps phase 2 closed at 4 of 5 finished", "gate.md", completed("1.1", "1.2", "1.3", "1.4"),
     {"phase_gate": 1.0}, ["1.5"]),
    ("the strict gate opens phase 2 once phase 1 is finished", "gate.md",
     completed("1.1", "1.2", "1.3", "1.4", "1.5"), {"phase_gate": 1.0}, ["2.1", "2.2"]),
    ("gate 0 offers later phases while phase 1 is untouched", "gate.md", {}, {"phase_gate": 0.0},
     ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "3.1"]),
    # weights.md: remaining critical paths 1.2: 4, 1.4: 2, 1.5: 2, 1.1: 1.
    ("the longest remaining critical path comes first, then plan order", "weights.md", {}, {},
     ["1.2", "1.4", "1.5", "1.1"]),
    ("finished tasks add nothing to the remaining critical path", "weights.md", completed("1.3"), {},
     ["1.4", "1.5", "1.1", "1.2"]),
    # retries (dependencies.md)
    ("a failed task with retries left is offered again", "dependencies.md", {"1.1": ("failed", 1)}, {},
     ["1.1", "1.3", "1.5"]),
    ("a failed task that used its 2 retries is not offered", "dependencies.md", {"1.1": ("failed", 2)}, {},
     ["1.3", "1.5"]),
    ("`--max-retries 3` offers a task that failed twice", "dependencies.md", {"1.1": ("failed", 2)},
     {"max_retries": 3}, ["1.1", "1.3", "1.5"]),
    ("`--max-retries 0` offers no failed task", "dependencies.md", {"1.1": ("failed", 0)}, {"max_retries": 0},
     ["1.3", "1.5"]),
]


@pytest.mark.parametrize(("plan", "statuses", "options", "expected"), [case[1:] for case in RULES],
                         ids=[case[0] for case in RULES])
def test_ready_policy_offers_exactly(plan: str, statuses: dict[str, Any], options: dict[str, Any],
                                    expected: list[str]) -> None:
    assert offered_ids(offer(plan, statuses, **options)) == expected


@pytest.mark.parametrize(("count", "expected"), [(0, []), (1, ["1.2"]), (2, ["1.2", "1.4"]),
                                                 (9, ["1.2", "1.4", "1.5", "1.1"])])
def test_count_caps_the_answer_and_keeps_the_best(count: int, expected: list[str]) -> None:
    answer = offer("weights.md", {}, count)
    assert offered_ids(answer) == expected
    assert answer["count"] == len(expected)


def test_answer_has_the_seed_shape_plus_policy_in_progress_and_exhausted() -> None:
    statuses = {**completed("1.1", "1.5"), "1.2": "in_progress", "1.6": ("failed", 2)}
    assert offer("dependencies.md", statuses, 1) == {
        "count": 1,
        "tasks": [{
            "id": "1.3",
            "description": "Migrate the users",
            "phase": 1,
            "status": "pending",
            "reason": "pending - ready to implement",
            "sequential": True,
            "sequentialGroup": "1.3-1.4",
            "sequentialReason": "one migration",
            "blockedBy": [],
            "files": [],
            "weight": 1,
        }],
        "policy": "ready",
        "inProgress": ["1.2"],
        "exhausted": [{
            "id": "1.6",
            "description": "Speed up the parser in `src/parse.py`",
            "phase": 1,
            "status": "failed",
            "reason": "failed - 2 of 2 retries used",
            "sequential": False,
            "blockedBy": [],
            "files": ["src/parse.py"],
            "weight": 1,
        }],
    }


def test_task_outside_any_note_has_no_sequential_group_and_carries_its_weight() -> None:
    (task,) = offer("weights.md", {}, 1)["tasks"]
    assert list(task) == ["id", "description", "phase", "status", "reason", "sequential", "blockedBy", "files",
                          "weight"]
    assert (task["id"], task["sequential"], task["weight"]) == ("1.2", False, 1)
    assert [task["weight"] for task in offer("weights.md", completed("1.2"), 1)["tasks"]] == [3]


def test_retried_task_says_which_retry_it_is() -> None:
    (task,) = offer("dependencies.md", {"1.1": ("failed", 1)}, 1)["tasks"]
    assert (task["id"], task["status"], task["reason"]) == ("1.1", "failed", "failed - retry 2 of 2")


def test_in_progress_tasks_are_listed_apart_in_plan_order_never_offered() -> None:
    answer = offer("dependencies.md", {"1.3": "in_progress", "1.1": "in_progress"})
    assert answer["inProgress"] == ["1.1", "1.3"]
    assert offered_ids(answer) == ["1.5"]


def blocked_by(answer: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {task["id"]: (task["reason"], task["blockedBy"]) for task in answer["blocked"]}


def test_explain_lists_the_unfinished_predecessors_of_each_blocked_task() -> None:
    answer = offer("dependencies.md", {"1.3": "in_progress"}, explain=True)
    assert blocked_by(answer) == {
        "1.2": ("waiting for its dependencies", ["1.1"]),
        "1.4": ("waiting for its dependencies", ["1.3"]),
        "1.6": ("waiting for its dependencies", ["1.5"]),
    }


def test_explain_names_the_task_holding_a_shared_file() -> None:
    in_progress = offer("files.md", {"1.1": "in_progress"}, phase_gate=0.0, explain=True)
    assert blocked_by(in_progress) == {"2.1": ("shares a file with a task in progress or already chosen", ["1.1"])}
    chosen = offer("files.md", {}, phase_gate=0.0, explain=True)
    assert blocked_by(chosen) == {"2.1": ("shares a file with a task in progress or already chosen", ["1.1"])}


def test_explain_says_when_the_phase_gate_holds_a_task_back() -> None:
    answer = offer("gate.md", completed("1.1", "1.2", "1.3"), explain=True)
    assert blocked_by(answer) == {
        "2.1": ("phase gate: earlier phases under 80% done", []),
        "2.2": ("phase gate: earlier phases under 80% done", []),
        "3.1": ("phase gate: earlier phases under 80% done", []),
    }


def test_blocked_tasks_are_listed_only_when_asked() -> None:
    assert "blocked" not in offer("dependencies.md", {})


def test_a_plan_task_missing_from_status_json_is_not_offered_and_holds_its_successors() -> None:
    index = fixture_index("dependencies.md")
    document = status_document(index, {})
    document["tasks"] = [task for task in document["tasks"] if task["id"] != "1.1"]
    assert offered_ids(select_next_ready(document, index, 10)) == ["1.3", "1.5"]


@pytest.mark.parametrize(("task_count", "size"), [(0, 3), (1, 3), (9, 3), (10, 4), (30, 4), (31, 5), (500, 5)])
def test_batch_auto_sizes_by_plan_task_count(task_count: int, size: int) -> None:
    assert batch_size(task_count) == size


# -- properties on generated plans -------------------------------------------

FILES = ("src/app.py", "src/cli.py", "docs/guide.md")
WEIGHT_OF_WORD = {"": 1, "LOW": 1, "MEDIUM": 1, "HIGH": 2, "CRITICAL": 3}
GATES = (0.0, 0.5, 0.8, 1.0)
STATUS_CHOICES = ("pending", "pending", "completed", "completed", "skipped", "in_progress", "failed")

property_settings = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class GeneratedPlan:
    """A plan as Markdown and, independently of the parser, what it declares."""

    text: str = ""
    ids: list[str] = field(default_factory=list)  # plan order
    phase_of: dict[str, int] = field(default_factory=dict)
    files: dict[str, set[str]] = field(default_factory=dict)
    weight: dict[str, int] = field(default_factory=dict)
    predecessors: dict[str, set[str]] = field(default_factory=dict)  # direct graph edges, as declared

    def successors(self, task_id: str) -> list[str]:
        return [other for other in self.ids if task_id in self.predecessors[other]]

    def phase_sizes(self) -> list[int]:
        return [sum(1 for task_id in self.ids if self.phase_of[task_id] == phase)
                for phase in range(max(self.phase_of.values()) + 1)]


def chain(plan: GeneratedPlan, task_ids: list[str]) -> None:
    for earlier, later in zip(task_ids, task_ids[1:]):
        plan.predecessors[later].add(earlier)


@st.composite
def generated_plans(draw: st.DrawFn) -> GeneratedPlan:
    sizes = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    sizes[0] = max(sizes[0], 1)
    plan = GeneratedPlan()
    phases = [[f"{number}.{position}" for position in range(1, size + 1)] for number, size in enumerate(sizes, 1)]
    plan.ids = [task_id for phase in phases for task_id in phase]
    plan.predecessors = {task_id: set() for task_id in plan.ids}
    notes_in_phase: dict[int, list[str]] = {}
    for number in range(draw(st.integers(0, 3)) if len(plan.ids) > 1 else 0):
        listed = draw(st.lists(st.sampled_from(plan.ids), min_size=2, max_size=4, unique=True))
        chain(plan, sorted(listed, key=plan.ids.index))  # chained in document order
        notes_in_phase.setdefault(draw(st.integers(0, len(phases) - 1)), []).append(
            f"**Execution Note:** Tasks {', '.join(listed)} are [SEQUENTIAL] - note {number}")
    lines = ["# Generated plan", ""]
    for index, phase in enumerate(phases):
        sequential = draw(st.integers(0, 5)) == 0
        if sequential:
            chain(plan, phase)
        lines += [f"## Phase {index + 1}: Part {index + 1}{' [SEQUENTIAL]' if sequential else ''}", ""]
        for note in notes_in_phase.get(index, []):
            lines += [note, ""]
        holders: dict[str, str] = {}
        for task_id in phase:
            earlier = plan.ids[:plan.ids.index(task_id)]
            depends = draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []
            files = draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True))
            word = draw(st.sampled_from(sorted(WEIGHT_OF_WORD)))
            plan.phase_of[task_id] = index
            plan.files[task_id] = set(files)
            plan.weight[task_id] = WEIGHT_OF_WORD[word]
            plan.predecessors[task_id].update(depends)
            for path in files:
                if path in holders:
                    plan.predecessors[task_id].add(holders[path])
                holders[path] = task_id
            lines.append(f"- [ ] {task_id} Do the work{''.join(f' in `{path}`' for path in files)} {word}".rstrip())
            if depends:
                lines.append(f"  - Depends on: {', '.join(depends)}")
        lines.append("")
    plan.text = "\n".join(lines)
    return plan


def build(plan: GeneratedPlan) -> PlanIndex:
    return build_index(load_text(plan.text, "generated.md"))


@st.composite
def plans_with_statuses(draw: st.DrawFn) -> tuple[GeneratedPlan, dict[str, tuple[str, int]]]:
    plan = draw(generated_plans())
    statuses = {task_id: (draw(st.sampled_from(STATUS_CHOICES)), draw(st.integers(0, 3))) for task_id in plan.ids}
    return plan, statuses


def phase_is_open(plan: GeneratedPlan, statuses: dict[str, tuple[str, int]], phase: int, gate: float) -> bool:
    """Every earlier phase has at least ``gate`` of its tasks completed or skipped (exact arithmetic)."""
    sizes = plan.phase_sizes()
    for earlier in range(phase):
        finished = sum(1 for task_id in plan.ids
                       if plan.phase_of[task_id] == earlier and statuses[task_id][0] in FINISHED)
        if finished < Fraction(str(gate)) * sizes[earlier]:
            return False
    return True


def remaining_path(plan: GeneratedPlan, statuses: dict[str, tuple[str, int]]) -> dict[str, int]:
    """Heaviest chain of unfinished work each task starts (edges run forward in plan order)."""
    path: dict[str, int] = {}
    for task_id in reversed(plan.ids):
        own = 0 if statuses[task_id][0] in FINISHED else plan.weight[task_id]
        path[task_id] = own + max((path[later] for later in plan.successors(task_id)), default=0)
    return path


@property_settings
@given(plans_with_statuses(), st.integers(0, 6), st.sampled_from(GATES), st.integers(0, 3))
def test_every_answer_keeps_dependencies_files_gate_count_and_priority(
    plan_and_statuses: tuple[GeneratedPlan, dict[str, tuple[str, int]]], count: int, gate: float, max_retries: int,
) -> None:
    plan, statuses = plan_and_statuses
    document = {"tasks": [{"id": task_id, "status": status, "retryCount": retries}
                          for task_id, (status, retries) in statuses.items()]}
    answer = select_next_ready(document, build(plan), count, phase_gate=gate, max_retries=max_retries)
    offered = offered_ids(answer)
    in_progress = [task_id for task_id in plan.ids if statuses[task_id][0] == "in_progress"]
    busy_files = set().union(*(plan.files[task_id] for task_id in in_progress))

    def retryable(task_id: str) -> bool:
        status, retries = statuses[task_id]
        return status == "failed" and retries < max_retries

    assert answer["count"] == len(offered) <= count
    assert len(set(offered)) == len(offered)
    for task_id in offered:
        assert statuses[task_id][0] == "pending" or retryable(task_id)
        unfinished = {upstream for upstream in plan.predecessors[task_id] if statuses[upstream][0] not in FINISHED}
        assert not unfinished, f"{task_id} offered while {sorted(unfinished)} unfinished"
        assert not plan.files[task_id] & busy_files, f"{task_id} shares a file with a task in progress"
        if statuses[task_id][0] == "pending":
            assert phase_is_open(plan, statuses, plan.phase_of[task_id], gate)
    for position, task_id in enumerate(offered):
        for other in offered[position + 1:]:
            assert not plan.files[task_id] & plan.files[other], f"{task_id} and {other} share a file"
    priority = remaining_path(plan, statuses)
    assert offered == sorted(offered, key=lambda task_id: (-priority[task_id], plan.ids.index(task_id)))
    assert answer["inProgress"] == in_progress
    assert [task["id"] for task in answer["exhausted"]] == [
        task_id for task_id in plan.ids if statuses[task_id][0] == "failed" and not retryable(task_id)]

    # Nothing offerable is left out: a short answer is short only because of files.
    if len(offered) < count:
        claimed = busy_files.union(*(plan.files[task_id] for task_id in offered))
        for task_id in plan.ids:
            eligible = (
                (retryable(task_id) or (statuses[task_id][0] == "pending"
                                        and phase_is_open(plan, statuses, plan.phase_of[task_id], gate)))
                and all(statuses[upstream][0] in FINISHED for upstream in plan.predecessors[task_id])
            )
            if eligible and task_id not in offered:
                assert plan.files[task_id] & claimed, f"{task_id} could have been offered"


@property_settings
@given(plans_with_statuses(), st.integers(1, 6))
def test_with_gate_0_an_empty_answer_means_every_unfinished_task_waits_on_an_exhausted_one(
    plan_and_statuses: tuple[GeneratedPlan, dict[str, tuple[str, int]]], count: int,
) -> None:
    """No deadlock: with gate 0, if nothing is offered and nothing is in progress,
    then every unfinished task is a failed task with no retries left, or reaches
    one through a chain of unfinished predecessors."""
    plan, statuses = plan_and_statuses
    statuses = {task_id: ("pending" if status == "in_progress" else status, retries)
                for task_id, (status, retries) in statuses.items()}
    document = {"tasks": [{"id": task_id, "status": status, "retryCount": retries}
                          for task_id, (status, retries) in statuses.items()]}
    answer = select_next_ready(document, build(plan), count, phase_gate=0.0)
    if answer["tasks"]:
        return
    exhausted = {task_id for task_id, (status, retries) in statuses.items() if status == "failed" and retries >= 2}
    waits_on_exhausted: dict[str, bool] = {}
    for task_id in plan.ids:  # predecessors come first in plan order
        waits_on_exhausted[task_id] = task_id in exhausted or any(
            waits_on_exhausted[upstream] for upstream in plan.predecessors[task_id]
            if statuses[upstream][0] not in FINISHED
        )
    stuck = [task_id for task_id in plan.ids
             if statuses[task_id][0] not in FINISHED and not waits_on_exhausted[task_id]]
    assert not stuck, f"nothing offered, yet {stuck} could run"


@property_settings
@given(generated_plans(), st.integers(1, 5), st.sampled_from((0.0, 0.8, 1.0)), st.data())
def test_an_agent_taking_next_n_and_completing_them_finishes_every_plan(
    plan: GeneratedPlan, count: int, gate: float, data: st.DataObject,
) -> None:
    index = build(plan)
    status = dict.fromkeys(plan.ids, "pending")
    for _ in range(len(plan.ids)):  # every round completes at least one task
        if all(value == "completed" for value in status.values()):
            break
        document = {"tasks": [{"id": task_id, "status": value} for task_id, value in status.items()]}
        for task_id in offered_ids(select_next_ready(document, index, count, phase_gate=gate)):
            waiting = [upstream for upstream in plan.predecessors[task_id] if status[upstream] != "completed"]
            assert not waiting, f"{task_id} offered before {waiting}"
            status[task_id] = "in_progress"
        running = [task_id for task_id, value in status.items() if value == "in_progress"]
        assert running, f"deadlock: nothing offered, nothing running, {status}"
        for task_id in data.draw(st.lists(st.sampled_from(running), min_size=1, unique=True), label="finish"):
            status[task_id] = "completed"
    assert set(status.values()) == {"completed"}


# (predecessors of each task in plan order, weights, finished tasks, expected remaining path weights):
# tasks usually wait for tasks above them; the last cases wait for one further down.
PATH_WEIGHT_CASES = [
    ({"a": (), "b": ("a",), "c": ("b",)}, {"a": 1, "b": 2, "c": 3}, set(), {"a": 6, "b": 5, "c": 3}),
    ({"a": (), "b": ("a",), "c": ("a",)}, {"a": 1, "b": 2, "c": 3}, {"a"}, {"a": 3, "b": 2, "c": 3}),
    ({"a": ("c",), "b": ("a",), "c": ()}, {"a": 1, "b": 2, "c": 3}, set(), {"a": 3, "b": 2, "c": 6}),
    ({"a": ("c",), "b": ("a",), "c": (), "d": ("b", "c")}, {"a": 1, "b": 2, "c": 3, "d": 4}, {"c"},
     {"a": 7, "b": 6, "c": 7, "d": 4}),
]


@pytest.mark.parametrize(("predecessors", "weights", "finished", "expected"), PATH_WEIGHT_CASES)
def test_remaining_path_weights_follow_successors_whichever_way_the_plan_orders_them(
        predecessors: dict[str, tuple[str, ...]], weights: dict[str, int], finished: set[str],
        expected: dict[str, int]) -> None:
    from plan_tasks.plan_index import IndexedPhase, IndexedTask, PlanIndex

    index = PlanIndex("t", [IndexedPhase(1, "Phase 1: T")], [
        IndexedTask(task_id, 0, task_id, False, (), weights[task_id], waits) for task_id, waits in predecessors.items()])
    assert index.task_graph().remaining_weights(finished) == expected
