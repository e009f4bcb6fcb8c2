"""The task-heading dialect (``plan_tasks.parse.headings``): one behaviour per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from plan_tasks.graph import build_graph
from plan_tasks.model import Plan
from plan_tasks.parse import headings
from plan_tasks.parse.source import Source

FIXTURES = Path(__file__).parent / "fixtures" / "dialects"


def _parse(text: str) -> Plan:
    plan, problems = headings.parse(Source(text, "plan.md"))
    assert [p for p in problems if p.is_error] == [], [p.format() for p in problems]
    return plan


def test_task_heading_forms_give_their_ids_and_titles() -> None:
    plan = _parse(
        "# Plan\n\n## Phase 1: Setup\n\n### Task 1.1: Create the parser\n\n### Task 3: Wire it\n\n"
        "#### 1.2 Bare numbered heading\n\n### T004 [P] Spec-kit style id\n"
    )
    assert [(task.id, task.title) for task in plan.tasks] == [
        ("1.1", "Create the parser"), ("3", "Wire it"), ("1.2", "Bare numbered heading"), ("T004", "Spec-kit style id"),
    ]
    assert plan.tasks[0].line == 5 and plan.tasks[0].column == 10


@pytest.mark.parametrize(("line", "expected"), [
    ("**Depends on:** Task 1.1, 1.2", ["1.1", "1.2"]),
    ("- **Depends on:** none", []),
    ("**Depends On**: Task 1.1 (same files as 1.2)", ["1.1"]),
    ("Depends on: 1.1-1.2", ["1.1", "1.2"]),
    ("**Dependencies:** Task 1.2", ["1.2"]),
    ("The parser depends on 1.1 in prose", []),  # only labelled lines declare
])
def test_depends_on_lines(line: str, expected: list[str]) -> None:
    plan = _parse(f"## Phase 1: A\n\n### Task 1.1: One\n\n### Task 1.2: Two\n\n### Task 1.3: Three\n\n{line}\n")
    assert [ref.id for ref in plan.task_by_id["1.3"].depends_on] == expected


def test_files_list_reads_create_and_modify_entries_and_nothing_after_it() -> None:
    plan = _parse(
        "## Phase 1: A\n\n### Task 1.1: One\n\n**Files:**\n- Create: `src/new.py`\n- `src/old.py` (modify)\n"
        "- Test: tests/test_new.py\n\nRead `docs/guide.md` first.\n\n**File:** `src/other.py`\n"
    )
    assert plan.task_by_id["1.1"].files == ("src/new.py", "src/old.py", "tests/test_new.py", "src/other.py")


def test_a_bulleted_files_label_ends_at_the_next_label_of_its_level() -> None:
    plan = _parse(
        "## Stage 1\n\n### Task 1.1: One\n\n- **Files:**\n  - Modify: `a/b.json` — fix\n"
        "- **Briefing context:**\n  - `docs/plan.md` — read it\n"
    )
    assert plan.task_by_id["1.1"].files == ("a/b.json",)


@pytest.mark.parametrize(("line", "complexity", "weight"), [
    ("Risk: high", "HIGH", 2),
    ("**Risk:** critical", "CRITICAL", 3),
    ("- **Priority:** Medium", "MEDIUM", 1),
    ("Risk of high load is discussed", None, 1),
])
def test_risk_and_priority_lines_give_the_weight(line: str, complexity: str | None, weight: int) -> None:
    task = _parse(f"## Phase 1: A\n\n### Task 1.1: One\n\n{line}\n").tasks[0]
    assert (task.complexity, task.weight) == (complexity, weight)


@pytest.mark.parametrize(("steps", "status"), [
    ("- [x] **Step 1: Test**\n- [x] **Step 2: Code**\n", "completed"),
    ("- [x] **Step 1: Test**\n- [ ] **Step 2: Code**\n", "pending"),
    ("", "pending"),
])
def test_a_task_is_done_when_all_its_steps_are_checked(steps: str, status: str) -> None:
    plan = _parse(f"## Task 1: Only\n\n{steps}")
    assert len(plan.tasks) == 1  # the steps are not tasks
    assert plan.tasks[0].initial_status == status


@pytest.mark.parametrize(("heading", "status"), [
    ("### [x] Task 1.1: Done", "completed"),
    ("### T001 [P] [x] Done", "completed"),
    ("### Task 1.1: Done ✅", "completed"),
    ("### ~~Task 1.1: Dropped~~", "skipped"),
    ("### Task 1.1: Open", "pending"),
])
def test_heading_marks_give_the_initial_status(heading: str, status: str) -> None:
    assert _parse(f"## Phase 1: A\n\n{heading}\n").tasks[0].initial_status == status


def test_status_field_and_completed_group_mark_tasks_done() -> None:
    plan = _parse(
        "## Stage 1 — completed 2026-01-01\n\n### Task 1.1: A\n\n"
        "## Stage 2\n\n### Task 2.1: B\n\n**Status:** done\n\n### Task 2.2: C\n\n**Status:** cancelled\n\n### Task 2.3: D\n"
    )
    assert [task.initial_status for task in plan.tasks] == ["completed", "completed", "skipped", "pending"]


def test_instruction_testing_and_edge_case_sections_are_not_tasks_and_end_the_task() -> None:
    plan = _parse((FIXTURES / "headings_sections.md").read_text(encoding="utf-8"))
    assert [task.id for task in plan.tasks] == ["1.1", "1.2", "2.1"]
    assert "Agent instructions" not in plan.task_by_id["1.2"].body
    assert "Run the suite" in plan.task_by_id["1.2"].body  # a deeper `#### Testing` stays in the task
    assert plan.task_by_id["2.1"].body.strip() == "Ship it."
    assert [phase.name for phase in plan.phases] == ["Phase 1: Stream A: Parser", "Phase 2: Stream B: Release"]


def test_sequential_marker_makes_a_task_wait_for_the_one_before() -> None:
    plan = _parse(
        "## Wave 1\n\n### Task 1.1: A\n\n### Task 1.2: B [sequential]\n\n### Task 1.3: C\n\n"
        "## Wave 2 [sequential]\n\n### Task 2.1: D\n\n### Task 2.2: E\n"
    )
    graph = build_graph(plan)
    assert graph.predecessors["1.2"] == ("1.1",)
    assert graph.predecessors["1.3"] == ()
    assert plan.phases[1].sequential and graph.predecessors["2.2"] == ("2.1",)
    assert plan.task_by_id["1.2"].title == "B"


@pytest.mark.parametrize(("groups", "names"), [
    (["Stream A: Parser", "Stream B: CLI"], ["Phase 1: Stream A: Parser", "Phase 2: Stream B: CLI"]),
    (["Wave 1", "Wave 2"], ["Phase 1: Wave 1", "Phase 2: Wave 2"]),
    (["Slice 3: Late", "Slice 4: Later"], ["Phase 3: Slice 3: Late", "Phase 4: Slice 4: Later"]),
    (["Phase 1: Setup", "Phase 1.5: Hotfix"], ["Phase 1: Setup", "Phase 1.5: Hotfix"]),
    (["Stage 1", "Stream B"], ["Phase 1: Stage 1", "Phase 2: Stream B"]),  # a letter: positions for all
])
def test_group_headings_become_phases_with_numbers_the_seed_reads(groups: list[str], names: list[str]) -> None:
    text = "".join(f"## {group}\n\n### Task {index}.1: Work\n\n" for index, group in enumerate(groups, 1))
    assert [phase.name for phase in _parse(text).phases] == names


def test_task_headings_inside_code_are_not_tasks() -> None:
    plan = _parse("## Phase 1: A\n\n### Task 1.1: Real\n\n```markdown\n### Task 1.2: Example\n```\n")
    assert [task.id for task in plan.tasks] == ["1.1"]
    assert plan.tasks[0].code_blocks[0].content == "### Task 1.2: Example\n"


def test_a_plan_without_task_headings_is_an_error_with_a_hint() -> None:
    _, problems = headings.parse(Source("# Plan\n\n## Notes\n\nNothing here.\n", "plan.md"))
    assert [(str(p.location), p.message) for p in problems] == [("plan.md:1:1", "no task headings found")]
    assert problems[0].hint and "### Task 1.1: Title" in problems[0].hint


def test_a_task_heading_without_title_is_located() -> None:
    _, problems = headings.parse(Source("## Phase 1: A\n\n### Task 1.1:\n", "plan.md"))
    assert [(str(p.location), p.message) for p in problems] == [("plan.md:3:10", "task 1.1 has no title")]


@pytest.mark.parametrize(("text", "fits"), [
    ("## Stage 1\n\n### Task 1.1: A\n", True),
    ("## Phase 1: A\n\n### 1.1 Parser\n\n- [ ] 1.1.1 Seed step\n- [ ] 1.1.2 Another\n", False),
    ("## Phase 1: A\n\n- [ ] 1.1 A seed task\n", False),
])
def test_detect_prefers_seed_checkbox_plans_with_numbered_sub_headings(text: str, fits: bool) -> None:
    fit = headings.detect(Source(text, "plan.md"))
    assert (fit is not None and fit.score >= 0.5) == fits
