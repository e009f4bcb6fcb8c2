"""Whole-plan checks: exact messages, `path:line:col` and hints, each plan
from tests/fixtures/plans/invalid/."""

from __future__ import annotations

from pathlib import Path

import pytest

from plan_tasks.check import check_plan
from plan_tasks.errors import PlanInvalid
from plan_tasks.graph import build_graph
from plan_tasks.load import load_text
from plan_tasks.parse import parse_plan

INVALID = Path(__file__).parent / "fixtures" / "plans" / "invalid"
UNKNOWN_HINT = "refer to tasks by the ids of their `- [ ] N.M` lines"


def check_fixture(name: str) -> list[str]:
    """The formatted problems ``check_plan`` finds in a fixture (its path is its name)."""
    plan, parse_problems = parse_plan((INVALID / name).read_text(encoding="utf-8"), name)
    assert parse_problems == [], "the fixture must be wrong only as a whole plan"
    return [problem.format() for problem in check_plan(plan, build_graph(plan))]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "duplicate-id.md",
            "duplicate-id.md:7:7: error: duplicate task id 1.2 (first defined at line 6)\n"
            "  hint: give every task its own id; renumber this one",
            id="duplicate id points at the second and names the first's line",
        ),
        pytest.param(
            "unknown-dependency.md",
            "unknown-dependency.md:8:39: error: task 2.3 depends on unknown task 2.9; did you mean 2.8?\n"
            f"  hint: {UNKNOWN_HINT}",
            id="unknown dependency with did-you-mean",
        ),
        pytest.param(
            "unknown-note-task.md",
            "unknown-note-task.md:5:32: error: execution note names unknown task 1.7; did you mean 1.8?\n"
            f"  hint: {UNKNOWN_HINT}",
            id="execution note naming an unknown task",
        ),
        pytest.param(
            "self-dependency.md",
            "self-dependency.md:6:41: error: task 1.2 depends on itself\n"
            "  hint: remove the dependency, or name the task it really waits for",
            id="self-dependency",
        ),
        pytest.param(
            "later-phase-dependency.md",
            "later-phase-dependency.md:7:17: error: task 1.2 (Phase 1: Setup) depends on task 2.1 "
            "of a later phase (Phase 2: Release)\n"
            "  hint: phases run in order: move one of the two tasks so the dependency points backwards",
            id="dependency on a later phase",
        ),
        pytest.param(
            "cycle.md",
            "cycle.md:8:36: error: dependency cycle: 1.2 -> 1.3 -> 1.2\n"
            "  hint: 1.2 waits for 1.3 (1.2 depends on 1.3); "
            "1.3 waits for 1.2 (execution note: both edit the parser); "
            "remove one of these so the tasks can be ordered",
            id="cycle with the reason of every edge",
        ),
    ],
)
def test_check_reports_the_mistake_with_location_and_hint(fixture: str, expected: str) -> None:
    assert check_fixture(fixture) == [expected]


def test_did_you_mean_never_suggests_the_task_itself() -> None:
    # The only id close to 2.4 is 2.1 itself; suggesting it would suggest a self-dependency.
    plan, _ = parse_plan(
        "## Phase 1: Setup\n- [ ] 1.5 Create\n## Phase 2: Release\n- [ ] 2.1 Publish (depends: 2.4)\n", "plan.md"
    )
    [problem] = check_plan(plan, build_graph(plan))
    assert problem.message == "task 2.1 depends on unknown task 2.4"


def test_unknown_task_far_from_every_id_gets_no_suggestion() -> None:
    plan, _ = parse_plan("## Phase 1: Setup\n- [ ] 1.1 Create\n- [ ] 1.2 Build (depends: 7.45)\n", "plan.md")
    [problem] = check_plan(plan, build_graph(plan))
    assert problem.message == "task 1.2 depends on unknown task 7.45"


def test_every_problem_of_a_plan_is_reported_in_one_run_in_line_order() -> None:
    with pytest.raises(PlanInvalid) as raised:
        load_text((INVALID / "three-mistakes.md").read_text(encoding="utf-8"), "three-mistakes.md")
    assert [problem.format() for problem in raised.value.problems] == [
        "three-mistakes.md:6:36: error: task 1.2 depends on itself\n"
        "  hint: remove the dependency, or name the task it really waits for",
        "three-mistakes.md:7:7: error: duplicate task id 1.1 (first defined at line 5)\n"
        "  hint: give every task its own id; renumber this one",
        "three-mistakes.md:11:41: error: task 2.1 depends on unknown task 2.4\n"
        f"  hint: {UNKNOWN_HINT}",
    ]


def test_a_valid_plan_has_no_problems() -> None:
    plan, _ = parse_plan(
        "## Phase 1: Setup\n"
        "**Execution Note:** Tasks 1.1-1.2 are [SEQUENTIAL] - one lock\n"
        "- [ ] 1.1 Create\n"
        "- [ ] 1.2 Build (depends: 1.1)\n"
        "## Phase 2: Release\n"
        "- [ ] 2.1 Publish (depends: 1.2)\n",
        "plan.md",
    )
    assert check_plan(plan, build_graph(plan)) == []
