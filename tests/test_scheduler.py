"""The run scheduler (``plan_tasks.run.scheduler``): which task may start now.

Each rule is checked on a small fixture plan (``fixtures/run/scheduler``)
with its exact answer; then many threads drive one scheduler at once; then a
property test simulates whole runs of generated plans with random finish
orders and failures and checks every invariant after every step.
"""

from __future__ import annotations

import math
import random
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_tasks.load import LoadedPlan, load_plan, load_text
from plan_tasks.run.scheduler import Progress, RunScheduler

PLANS = Path(__file__).parent / "fixtures" / "run" / "scheduler"


def loaded(name: str) -> LoadedPlan:
    return load_plan(str(PLANS / name))


def scheduler_for(plan: LoadedPlan, *, to_run: Iterable[str] | None = None, max_parallel: int = 10,
                  phase_gate: float = 1.0) -> RunScheduler:
    return RunScheduler(plan.graph, plan.graph.task_ids if to_run is None else to_run,
                        files={task.id: task.files for task in plan.plan.tasks},
                        max_parallel=max_parallel, phase_gate=phase_gate)


def finish_all(scheduler: RunScheduler, task_ids: Iterable[str], succeeded: bool = True) -> None:
    for task_id in task_ids:
        scheduler.finish(task_id, succeeded)


# -- dependencies -------------------------------------------------------------


def test_take_hands_out_only_tasks_whose_predecessors_completed() -> None:
    scheduler = scheduler_for(loaded("chain.md"))
    assert scheduler.take() == ["1.1", "1.3"]
    assert scheduler.take() == []
    scheduler.finish("1.1", succeeded=True)
    assert scheduler.take() == ["1.2"]


def test_take_marks_tasks_running_and_never_hands_one_out_twice() -> None:
    scheduler = scheduler_for(loaded("chain.md"))
    first = scheduler.take()
    assert [scheduler.state(task_id) for task_id in first] == ["running", "running"]
    assert scheduler.waiting() == ["1.2"]
    scheduler.finish("1.3", succeeded=True)
    assert scheduler.take() == []


def test_tasks_not_selected_count_as_already_done() -> None:
    scheduler = scheduler_for(loaded("chain.md"), to_run=["1.2"])
    assert scheduler.state("1.1") == "completed"
    assert scheduler.take() == ["1.2"]
    assert scheduler.progress.total == 1


def test_take_of_one_phase_hands_out_only_that_phase() -> None:
    scheduler = scheduler_for(loaded("files.md"), phase_gate=0.0)
    assert scheduler.take(1) == ["2.1", "2.2"]
    assert scheduler.take(0) == ["1.2"]  # 1.1 names the file 2.1 holds


def test_a_task_waiting_only_for_a_busy_file_is_ready_and_starts_once_the_file_is_free() -> None:
    scheduler = scheduler_for(loaded("files.md"), phase_gate=0.0)
    assert scheduler.take(1) == ["2.1", "2.2"]
    assert scheduler.take(0) == ["1.2"]
    assert scheduler.has_ready(0)  # 1.1: only its file keeps it waiting (has_ready leaves slots and files aside)
    assert scheduler.take(0) == []
    scheduler.finish("2.2", succeeded=True)
    assert scheduler.take(0) == []  # another task's end does not free src/shared.py
    scheduler.finish("2.1", succeeded=True)
    assert scheduler.take() == ["1.1"]
    assert not scheduler.has_ready(0)


# -- the phase gate -----------------------------------------------------------


@pytest.mark.parametrize("succeeded", [True, False], ids=["completed", "failed"])
@pytest.mark.parametrize(("gate", "settled_before_phase_2"), [(1.0, 5), (0.8, 4), (0.5, 3), (0.0, 0)])
def test_phase_gate_opens_the_next_phase_after_that_share_of_tasks_settled(
        gate: float, settled_before_phase_2: int, succeeded: bool) -> None:
    scheduler = scheduler_for(loaded("gate.md"), phase_gate=gate)
    handed_out = scheduler.take()
    settled = 0
    while "2.1" not in handed_out:
        assert settled < 5, "phase 2 never opened"
        scheduler.finish(f"1.{settled + 1}", succeeded)
        settled += 1
        handed_out = scheduler.take()
    assert settled == settled_before_phase_2


@pytest.mark.parametrize(("gate", "settled_before_phase_2"), [(1.0, 5), (0.5, 3), (0.0, 0)])
def test_phase_open_says_when_the_gate_lets_a_phase_run(gate: float, settled_before_phase_2: int) -> None:
    scheduler = scheduler_for(loaded("gate.md"), phase_gate=gate)
    scheduler.take()
    assert scheduler.phase_open(0)
    for settled in range(5):
        assert scheduler.phase_open(1) == (settled >= settled_before_phase_2), settled
        scheduler.finish(f"1.{settled + 1}", succeeded=True)
    assert scheduler.phase_open(1)


def test_a_failed_task_and_its_skipped_dependants_count_toward_the_gate() -> None:
    scheduler = scheduler_for(loaded("gate_skipped.md"), phase_gate=1.0)
    assert scheduler.take() == ["1.1"]
    assert scheduler.finish("1.1", succeeded=False) == ["1.2"]
    assert scheduler.take() == ["2.1"]


def test_tasks_not_selected_count_toward_the_gate() -> None:
    scheduler = scheduler_for(loaded("gate.md"), to_run=["1.5", "2.1"], phase_gate=1.0)
    assert scheduler.take() == ["1.5"]
    scheduler.finish("1.5", succeeded=True)
    assert scheduler.take() == ["2.1"]


# -- slots and weights ----------------------------------------------------------


@pytest.mark.parametrize(("max_parallel", "first_batch"), [
    (10, ["1.1", "1.2", "1.3", "1.4"]),
    (4, ["1.1", "1.3"]),  # CRITICAL takes 3 slots; HIGH (2) does not fit the last one, a small task does
    (3, ["1.1"]),
    (2, ["1.1"]),  # heavier than every slot: it still runs, alone
    (1, ["1.1"]),
], ids=lambda value: str(value))
def test_weights_occupy_slots(max_parallel: int, first_batch: list[str]) -> None:
    scheduler = scheduler_for(loaded("weights.md"), max_parallel=max_parallel)
    assert scheduler.take() == first_batch


def test_a_task_heavier_than_all_slots_waits_until_every_slot_is_free() -> None:
    scheduler = scheduler_for(loaded("weights.md"), to_run=["1.1", "1.3", "1.4"], max_parallel=2)
    assert scheduler.take() == ["1.1"]
    scheduler.finish("1.1", succeeded=True)
    assert scheduler.take() == ["1.3", "1.4"]


def test_finishing_a_task_frees_its_slots() -> None:
    scheduler = scheduler_for(loaded("weights.md"), max_parallel=3)
    assert scheduler.take() == ["1.1"]
    assert scheduler.take() == []
    scheduler.finish("1.1", succeeded=False)
    assert scheduler.take() == ["1.2", "1.3"]


# -- files ------------------------------------------------------------------------


def test_no_two_running_tasks_share_a_file_even_across_phases() -> None:
    scheduler = scheduler_for(loaded("files.md"), phase_gate=0.0)
    assert scheduler.take() == ["1.1", "1.2", "2.2"]
    scheduler.finish("1.2", succeeded=True)
    assert scheduler.take() == []
    scheduler.finish("1.1", succeeded=False)  # a failure frees its files too
    assert scheduler.take() == ["2.1"]


# -- priority -----------------------------------------------------------------------


def test_ready_tasks_go_out_heaviest_remaining_chain_first_then_in_plan_order() -> None:
    scheduler = scheduler_for(loaded("priority.md"))
    assert scheduler.take() == ["1.2", "1.4", "1.5", "1.1"]


def test_only_slots_left_go_to_the_highest_priority_task() -> None:
    scheduler = scheduler_for(loaded("priority.md"), max_parallel=1)
    assert scheduler.take() == ["1.2"]


def test_remaining_chain_counts_only_tasks_this_run_executes() -> None:
    # 1.3 (CRITICAL) is done already, so 1.2 no longer starts the heaviest chain.
    to_run = ["1.1", "1.2", "1.4", "1.5", "1.6"]
    scheduler = scheduler_for(loaded("priority.md"), to_run=to_run)
    assert scheduler.take() == ["1.4", "1.5", "1.1", "1.2"]


# -- failures ------------------------------------------------------------------------


def test_a_failure_skips_every_transitive_dependant_in_plan_order_with_the_reason() -> None:
    scheduler = scheduler_for(loaded("cascade.md"), phase_gate=0.0)
    assert scheduler.take() == ["1.1", "1.2"]
    skipped = scheduler.finish("1.1", succeeded=False)
    assert skipped == ["1.3", "1.4", "1.5", "2.1"]
    assert scheduler.skip_reasons == dict.fromkeys(skipped, "depends on failed task 1.1")
    assert [scheduler.state(task_id) for task_id in ("1.1", "1.2", "2.2")] == ["failed", "running", "waiting"]
    assert all(scheduler.state(task_id) == "skipped" for task_id in skipped)


def test_independent_work_goes_on_after_a_failure() -> None:
    scheduler = scheduler_for(loaded("cascade.md"), phase_gate=0.0)
    scheduler.take()
    scheduler.finish("1.1", succeeded=False)
    scheduler.finish("1.2", succeeded=True)
    assert scheduler.take() == ["2.2"]
    scheduler.finish("2.2", succeeded=True)
    assert scheduler.all_settled()


def test_a_failure_does_not_skip_dependants_this_run_does_not_execute() -> None:
    scheduler = scheduler_for(loaded("cascade.md"), to_run=["1.1", "1.4", "1.5", "2.1"])
    scheduler.take()
    assert scheduler.finish("1.1", succeeded=False) == ["1.4", "1.5", "2.1"]
    assert scheduler.state("1.3") == "completed"


def test_a_success_skips_nothing() -> None:
    scheduler = scheduler_for(loaded("cascade.md"))
    scheduler.take()
    assert scheduler.finish("1.1", succeeded=True) == []
    assert scheduler.skip_reasons == {}


@pytest.mark.parametrize("situation", ["waiting", "finished", "not selected"])
def test_finish_of_a_task_that_is_not_running_raises(situation: str) -> None:
    scheduler = scheduler_for(loaded("chain.md"), to_run=["1.1", "1.2"])
    scheduler.take()
    scheduler.finish("1.1", succeeded=True)
    task_id = {"waiting": "1.2", "finished": "1.1", "not selected": "1.3"}[situation]
    with pytest.raises(ValueError, match=f"task {task_id} is not running"):
        scheduler.finish(task_id, succeeded=True)


# -- questions and progress ----------------------------------------------------------------


def test_phase_settled_has_ready_and_all_settled_follow_the_run() -> None:
    scheduler = scheduler_for(loaded("gate_skipped.md"), phase_gate=1.0)
    assert scheduler.has_ready(0) and not scheduler.has_ready(1)
    assert not scheduler.phase_settled(0)
    scheduler.take()
    scheduler.finish("1.1", succeeded=False)
    assert scheduler.phase_settled(0) and scheduler.has_ready(1) and not scheduler.all_settled()
    scheduler.take()
    scheduler.finish("2.1", succeeded=True)
    assert scheduler.all_settled() and scheduler.waiting() == []


def test_wait_returns_at_once_when_a_task_finished_after_the_callers_take() -> None:
    """A finish between a phase loop's take and its wait notifies nobody; the
    loop must not then sleep out its timeout with a slot free."""
    scheduler = scheduler_for(loaded("gate_skipped.md"), phase_gate=1.0)
    finishes = scheduler.finishes
    scheduler.take()
    scheduler.finish("1.1", succeeded=True)  # while the loop is not waiting yet
    waited = threading.Event()
    waiter = threading.Thread(target=lambda: (scheduler.wait(30.0, finishes), waited.set()))
    waiter.start()
    assert waited.wait(5.0), "wait() slept through a finish that came before it"
    waiter.join()
    # With the count read after that finish, it waits for the next one (here: the timeout).
    finishes = scheduler.finishes
    assert not _returns_within(lambda: scheduler.wait(0.3, finishes), 0.1)


def _returns_within(call: Callable[[], None], seconds: float) -> bool:
    done = threading.Event()
    thread = threading.Thread(target=lambda: (call(), done.set()))
    thread.start()
    returned = done.wait(seconds)
    thread.join()
    return returned


def starving_plan() -> LoadedPlan:
    """A CRITICAL task that becomes ready after a first light one, with 30 more
    light tasks always ready beside it."""
    lines = ["# Plan: Starvation", "", "## Phase 1: Work", "",
             "- [ ] 1.1 Prepare", "- [ ] 1.2 Rewrite the core CRITICAL", "  - Depends on: 1.1"]
    lines += [f"- [ ] 1.{number} Light step {number}" for number in range(3, 33)]
    return load_text("\n".join(lines) + "\n")


def passes_before_the_critical_task_starts(scheduler: RunScheduler, phase: int | None = None) -> int:
    """Finish the oldest running task, take, repeat: how many takes started
    lighter tasks before the CRITICAL 1.2 got its 3 of the 4 slots."""
    running = scheduler.take(phase)
    assert running[0] == "1.1" and "1.2" not in running and len(running) == 4
    passes = 0
    while "1.2" not in running:
        scheduler.finish(running.pop(0), succeeded=True)
        started = scheduler.take(phase)
        if started and "1.2" not in started:
            passes += 1
        running += started
        assert running, "nothing runs and 1.2 did not start"
    return passes


@pytest.mark.parametrize("phase", [None, 0])
def test_a_critical_task_waiting_for_slots_is_passed_over_at_most_bypass_limit_times(
    monkeypatch: pytest.MonkeyPatch, phase: int | None,
) -> None:
    import plan_tasks.run.scheduler as scheduler_module

    plan = starving_plan()
    assert passes_before_the_critical_task_starts(scheduler_for(plan, max_parallel=4), phase) == \
        scheduler_module.BYPASS_LIMIT
    # Without the bound it waits until the light tasks run out (27 start after the
    # first 3): the starvation the bound fixes.
    monkeypatch.setattr(scheduler_module, "BYPASS_LIMIT", 10**6)
    assert passes_before_the_critical_task_starts(scheduler_for(plan, max_parallel=4), phase) == 27


def test_once_reserved_the_freed_slots_go_to_the_waiting_task_whichever_phase_asks_first() -> None:
    from plan_tasks.run.scheduler import BYPASS_LIMIT

    text = ("# Plan: Race\n\n## Phase 1: Work\n\n- [ ] 1.1 Prepare\n- [ ] 1.2 Rewrite the core CRITICAL\n"
            "  - Depends on: 1.1\n\n## Phase 2: Light\n\n" + "".join(f"- [ ] 2.{n} Light {n}\n" for n in range(1, 31)))
    scheduler = scheduler_for(load_text(text), max_parallel=4, phase_gate=0.0)
    running = scheduler.take(0) + scheduler.take(1)  # 1.1 and three light tasks
    assert running[0] == "1.1" and len(running) == 4
    scheduler.finish(running.pop(0), succeeded=True)  # 1.2 is ready now and waits for 3 slots
    for _ in range(BYPASS_LIMIT):  # phase 2's loop is always first to ask
        assert scheduler.take(0) == []
        started = scheduler.take(1)
        assert len(started) == 1 and started[0].startswith("2.")
        running += started
        scheduler.finish(running.pop(0), succeeded=True)
    # Passed over BYPASS_LIMIT times: phase 2 gets nothing more until 1.2 has started.
    for _ in range(2):
        assert scheduler.take(1) == []
        scheduler.finish(running.pop(0), succeeded=True)
    assert scheduler.take(1) == []  # 3 slots free now, and still phase 2 asks first
    assert scheduler.take(0) == ["1.2"]
    assert len(running) == 1 and scheduler.take(1) == []  # 1.2 holds 3 slots, a light task the fourth
    scheduler.finish(running.pop(0), succeeded=True)
    assert scheduler.take(1) == ["2.8"]  # no reservation left: light work goes on


def test_slots_are_not_kept_for_a_task_of_a_phase_nobody_takes_from_yet() -> None:
    text = ("# Plan: Two\n\n## Phase 1: Light\n\n" + "".join(f"- [ ] 1.{n} Light {n}\n" for n in range(1, 21))
            + "\n## Phase 2: Heavy\n\n- [ ] 2.1 Rewrite the core CRITICAL\n")
    plan = load_text(text)
    scheduler = scheduler_for(plan, max_parallel=4, phase_gate=0.0)
    running = scheduler.take(0)  # phase 2's loop has not started: its CRITICAL task cannot be taken
    assert len(running) == 4
    for _ in range(10):  # phase 1 goes on using every freed slot
        scheduler.finish(running.pop(0), succeeded=True)
        running += scheduler.take(0)
        assert len(running) == 4


def test_progress_counts_each_outcome() -> None:
    scheduler = scheduler_for(loaded("cascade.md"), to_run=["1.1", "1.2", "1.3", "1.4", "1.5", "2.1"])
    progress = scheduler.progress
    assert (progress.total, progress.running, progress.settled) == (6, 0, 0)
    scheduler.take()
    assert progress.running == 2
    scheduler.finish("1.2", succeeded=True)
    scheduler.finish("1.1", succeeded=False)
    assert (progress.completed, progress.failed, progress.skipped, progress.running) == (1, 1, 4, 0)
    assert progress.settled == progress.total
    assert len(progress.durations) == 2 and all(duration >= 0 for duration in progress.durations)


@pytest.mark.parametrize(("durations", "settled", "max_parallel", "eta"), [
    ([], 0, 2, None),
    ([2.0, 4.0], 4, 2, 9.0),  # mean 3 s, 6 tasks left, 2 slots
    ([2.0, 4.0], 4, 0, 18.0),  # no slots is read as one
    ([5.0], 10, 3, 0.0),
])
def test_eta_spreads_the_mean_duration_of_the_remaining_tasks_over_the_slots(
        durations: list[float], settled: int, max_parallel: int, eta: float | None) -> None:
    progress = Progress(total=10, completed=settled, durations=durations)
    assert progress.eta_seconds(max_parallel) == eta


# -- many threads at once ---------------------------------------------------------------------


def wide_plan_text(phases: int, per_phase: int) -> str:
    """A plan with weights, shared files and dependencies on the tasks before."""
    words = ("", "", "HIGH", "", "CRITICAL", "LOW")
    files = ("src/a.py", "src/b.py", "docs/c.md")
    lines = ["# Wide", ""]
    for phase in range(1, phases + 1):
        lines += [f"## Phase {phase}: Part {phase}", ""]
        for position in range(1, per_phase + 1):
            number = (phase - 1) * per_phase + position
            line = f"- [ ] {phase}.{position} Task {number} {words[number % len(words)]}"
            if number % 7 == 0:
                line += f" in `{files[number % len(files)]}`"
            if position > 3 and number % 3 == 0:
                line += f" (depends on {phase}.{position - 3})"
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


@pytest.mark.parametrize("attempt", range(3))  # races show up by chance: give them three chances
def test_concurrent_workers_get_each_task_once_and_never_exceed_the_slots(attempt: int) -> None:
    plan = load_text(wide_plan_text(phases=4, per_phase=25))
    slots = 4
    scheduler = scheduler_for(plan, max_parallel=slots, phase_gate=0.8)
    files = {task.id: set(task.files) for task in plan.plan.tasks}
    guard = threading.Lock()
    held = {"slots": 0, "peak": 0}
    busy_files: set[str] = set()
    handed_out: list[str] = []
    problems: list[str] = []
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        chance = random.Random(seed)
        start.wait()
        while not scheduler.all_settled():
            batch = scheduler.take()
            if not batch:
                scheduler.wait(0.01)
                continue
            # Counted after take() returns and uncounted before finish(): the count
            # can only lag the scheduler's own, so exceeding the slots is a real overrun.
            with guard:
                for task_id in batch:
                    held["slots"] += min(plan.graph.weight[task_id], slots)
                    if busy_files & files[task_id]:
                        problems.append(f"{task_id} shares {busy_files & files[task_id]} with a running task")
                    busy_files.update(files[task_id])
                    handed_out.append(task_id)
                held["peak"] = max(held["peak"], held["slots"])
            for task_id in batch:
                with guard:
                    held["slots"] -= min(plan.graph.weight[task_id], slots)
                    busy_files.difference_update(files[task_id])
                scheduler.finish(task_id, succeeded=chance.random() > 0.05)

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, to interleave take() and finish()
    try:
        threads = [threading.Thread(target=worker, args=(attempt * 8 + seed,), daemon=True) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(switch_interval)
    assert not any(thread.is_alive() for thread in threads), "workers did not finish: the run stalled"
    assert problems == []
    assert sorted(handed_out) == sorted(set(handed_out)), "a task was handed out twice"
    assert 0 < held["peak"] <= slots
    progress = scheduler.progress
    assert len(handed_out) == progress.completed + progress.failed
    assert progress.settled == progress.total == 100
    assert set(handed_out) | set(scheduler.skip_reasons) == set(plan.graph.task_ids)


# -- simulated runs of generated plans ----------------------------------------------------------

FILES = ("src/app.py", "src/cli.py", "docs/guide.md")
WORDS = ("", "", "LOW", "HIGH", "CRITICAL")


@st.composite
def generated_plans(draw: st.DrawFn) -> str:
    """Plan text: phases (some sequential), weights, files, dependencies on earlier tasks."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    lines = ["# Generated plan", ""]
    earlier: list[str] = []
    for number, size in enumerate(sizes, 1):
        sequential = draw(st.integers(0, 3)) == 0
        lines += [f"## Phase {number}: Part {number}{' [SEQUENTIAL]' if sequential else ''}", ""]
        for position in range(1, size + 1):
            task_id = f"{number}.{position}"
            depends = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
            files = draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True))
            line = f"- [ ] {task_id} Do the work" + "".join(f" in `{path}`" for path in files)
            line += f" {draw(st.sampled_from(WORDS))}"
            if depends:
                line += f" (depends: {', '.join(depends)})"
            lines.append(line.rstrip())
            earlier.append(task_id)
        lines.append("")
    return "\n".join(lines)


def dependants_not_started(plan: LoadedPlan, failed: str, waiting: set[str]) -> set[str]:
    """Tasks reachable from ``failed`` through tasks of this run that have not started."""
    found: set[str] = set()
    stack = list(plan.graph.successors[failed])
    while stack:
        task_id = stack.pop()
        if task_id in waiting and task_id not in found:
            found.add(task_id)
            stack.extend(plan.graph.successors[task_id])
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=generated_plans(), max_parallel=st.integers(1, 4), gate=st.sampled_from((0.0, 0.5, 0.8, 1.0)),
       data=st.data())
def test_simulated_runs_keep_every_scheduling_invariant(text: str, max_parallel: int, gate: float,
                                                        data: st.DataObject) -> None:
    plan = load_text(text)
    graph = plan.graph
    selected = set(data.draw(st.one_of(st.just(graph.task_ids), st.sets(st.sampled_from(graph.task_ids))),
                             label="selected"))
    scheduler = scheduler_for(plan, to_run=selected, max_parallel=max_parallel, phase_gate=gate)
    files = {task.id: set(task.files) for task in plan.plan.tasks}
    phase_sizes = [len(phase.task_ids) for phase in plan.plan.phases]
    waiting, running = set(selected), set()
    completed: set[str] = set()
    failed: set[str] = set()
    skipped: set[str] = set()

    def settled_in(phase: int) -> int:
        return sum(1 for task_id in graph.task_ids if graph.phase_of[task_id] == phase
                   and (task_id not in selected or task_id in completed | failed | skipped))

    while waiting or running:
        taken = scheduler.take()
        for task_id in taken:
            assert task_id in waiting, f"{task_id} handed out though not waiting"
            for upstream in graph.predecessors[task_id]:
                assert upstream not in selected or upstream in completed, \
                    f"{task_id} started before {upstream} completed"
            for phase in range(graph.phase_of[task_id]):
                assert settled_in(phase) >= math.ceil(gate * phase_sizes[phase] - 1e-9), \
                    f"{task_id} started while phase {phase + 1} was below the gate"
            assert not any(files[task_id] & files[other] for other in running), f"{task_id} shares a file"
            waiting.discard(task_id)
            running.add(task_id)
        assert sum(min(graph.weight[task_id], max_parallel) for task_id in running) <= max_parallel
        assert running, f"the run stalled with {sorted(waiting)} waiting"
        task_id = data.draw(st.sampled_from(sorted(running, key=graph.order.__getitem__)), label="finishes")
        succeeded = data.draw(st.integers(0, 3), label="outcome") > 0
        running.discard(task_id)
        expected_skips = set() if succeeded else dependants_not_started(plan, task_id, waiting)
        skipped_now = scheduler.finish(task_id, succeeded)
        assert skipped_now == sorted(expected_skips, key=graph.order.__getitem__)
        (completed if succeeded else failed).add(task_id)
        skipped |= expected_skips
        waiting -= expected_skips

    assert completed | failed | skipped == selected
    assert len(completed) + len(failed) + len(skipped) == len(selected)
    assert scheduler.all_settled() and scheduler.waiting() == []
    progress = scheduler.progress
    assert (progress.completed, progress.failed, progress.skipped, progress.running) == \
        (len(completed), len(failed), len(skipped), 0)
