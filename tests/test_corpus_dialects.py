"""Each corpus plan of the checkbox-list dialects, with expectations read from the file.

The numbers and ids below were written by reading each plan in
``../shared/corpus`` (line numbers in the comments), not by running the
parser: which dialect reads it, its phases, its task count, some ids with
what they wait for and why, parallel marks and statuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plan_tasks.errors import PlanInvalid
from plan_tasks.load import LoadedPlan, load_plan


def _load(corpus_dir: Path, relative: str) -> LoadedPlan:
    return load_plan(str(corpus_dir / relative))


def _waits_for(loaded: LoadedPlan, task_id: str, kind: str | None = None) -> list[str]:
    graph = loaded.graph
    return sorted(
        upstream for upstream in graph.predecessors[task_id]
        if kind is None or (edge := graph.edge(upstream, task_id)) is not None and edge.kind == kind
    )


# (file, dialect, phase labels, task count)
SHAPES = [
    ("public/speckit_tasks_template.md", "speckit", ["1", "2", "3", "4", "5", "6"], 28),
    ("public/speckit_c3_cli_legacy.md", "speckit", ["3.1", "3.2", "3.3", "3.4", "3.5"], 33),
    ("public/devwf_git_phase3_safety.md", "seed", ["1", "2", "3", "4", "5", "6"], 8),
    ("public/devwf_git_phase5_worktrees.md", "seed", [str(n) for n in range(1, 13)], 12),
    ("public/devwf_orchestration_constraints.md", "seed", [str(n) for n in range(0, 7)], 42),
    ("public/matrix3_mario_phase_bundle.md", "checklist", ["1", "2", "3", "4", "5"], 37),
    ("public/openspec_thegn_review_gate.md", "openspec", [str(n) for n in range(1, 8)], 17),
    ("seed-format/analyze-git-workflow.md", "seed", [str(n) for n in range(0, 8)], 41),
    ("seed-format/critical-fixes.md", "seed", ["1", "2", "3", "4", "5"], 49),
    ("seed-format/documentation-cleanup.md", "seed", [str(n) for n in range(0, 7)], 47),
    ("seed-format/fix-plan-compliance.md", "seed", [str(n) for n in range(0, 8)], 33),
    ("seed-format/high-priority-fixes.md", "seed", [str(n) for n in range(1, 8)], 65),
    ("seed-format/implement-design-command.md", "seed", [str(n) for n in range(1, 21)], 178),
    ("seed-format/implement-fan-in-fan-out.md", "seed", [str(n) for n in range(1, 14)], 101),
    ("seed-format/parallel-execution-dependencies.md", "seed", [str(n) for n in range(1, 9)], 35),
    ("seed-format/parallel-execution-foundation.md", "seed", [str(n) for n in range(0, 7)], 30),
    ("seed-format/tui-expansion-analysis.md", "seed", [str(n) for n in range(1, 12)], 57),
    ("seed-format/tui-integration-implementation.md", "seed", [str(n) for n in range(1, 6)], 24),
    ("seed-format/tui-workflow-expansion.md", "seed", [str(n) for n in range(1, 7)], 33),
]


@pytest.mark.parametrize(("relative", "dialect", "labels", "count"), SHAPES, ids=[s[0] for s in SHAPES])
def test_corpus_plan_is_read_in_its_dialect_with_its_phases_and_tasks(
    relative: str, dialect: str, labels: list[str], count: int, corpus_dir: Path
) -> None:
    plan = _load(corpus_dir, relative).plan
    assert (plan.dialect, [phase.label for phase in plan.phases], len(plan.tasks)) == (dialect, labels, count)
    assert plan.dialect_reason


# -- spec-kit -------------------------------------------------------------------


def test_speckit_template_parallel_marks_and_stated_dependency(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "public/speckit_tasks_template.md")
    assert _waits_for(loaded, "T003") == []  # line 68: `[P]`
    assert _waits_for(loaded, "T002", "sequential") == ["T001"]  # line 67: no [P]
    assert _waits_for(loaded, "T007", "sequential") == ["T004", "T005", "T006"]  # line 83
    assert _waits_for(loaded, "T014", "depends") == ["T012", "T013"]  # line 108: (depends on T012, T013)
    assert _waits_for(loaded, "T014", "sequential") == ["T010", "T011"]
    phase_titles = [phase.title for phase in loaded.plan.phases]
    assert phase_titles[2] == "User Story 1 - [Title] (Priority: P1) 🎯 MVP"
    assert phase_titles[5] == "Polish & Cross-Cutting Concerns"  # `## Phase N:`, numbered after phase 5
    assert all(task.initial_status == "pending" for task in loaded.plan.tasks)


def test_speckit_template_placeholders_are_warnings_not_tasks(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "public/speckit_tasks_template.md")
    placeholders = [w for w in loaded.warnings if "TXXX is a template placeholder" in w.message]
    assert [w.location.line for w in placeholders] == [168, 169, 170, 171, 172, 173]
    assert loaded.plan.phases[5].task_ids == ()


def test_speckit_legacy_reads_the_fenced_dependencies_section(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "public/speckit_c3_cli_legacy.md")
    tests = [f"T{n:03d}" for n in range(4, 12)]
    assert _waits_for(loaded, "T012") == tests  # line 93: T004-T011 ... before T012-T028
    assert _waits_for(loaded, "T017", "depends") == tests + ["T012", "T013", "T014", "T015", "T016"]  # line 94
    assert _waits_for(loaded, "T025") == tests + ["T020", "T021", "T022", "T023", "T024"]  # line 96: requires
    assert _waits_for(loaded, "T001") == []  # line 92: "before any other tasks" names no second id
    assert _waits_for(loaded, "T029") == []  # line 97: "requires all implementation complete"
    assert _waits_for(loaded, "T021", "sequential") == ["T020"]  # line 69: no [P]


def test_speckit_legacy_statuses_files_and_checklist(corpus_dir: Path) -> None:
    plan = _load(corpus_dir, "public/speckit_c3_cli_legacy.md").plan
    assert [task.id for task in plan.tasks if task.checked] == ["T013"]  # line 61: [x]
    assert plan.task_by_id["T004"].files == ("tests/contract/test_cli_install.py",)
    assert {phase.number for phase in plan.phases} == {3}  # Phase 3.1 ... 3.5
    assert max(task.line for task in plan.tasks) == 85  # the Validation Checklist (154-161) is not tasks


# -- seed -----------------------------------------------------------------------


def test_devwf_phase3_notes_chain_the_rollback_and_abandon_tasks(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "public/devwf_git_phase3_safety.md")
    assert _waits_for(loaded, "1.2", "sequential") == ["1.1"]
    assert _waits_for(loaded, "2.2", "sequential") == ["2.1"]
    assert loaded.graph.edge("1.1", "1.2").reason.startswith("execution note: all create/modify")


def test_devwf_phase5_one_task_per_phase_and_no_note_constraints(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "public/devwf_git_phase5_worktrees.md")
    assert [task.id for task in loaded.plan.tasks] == [f"{n}.1" for n in range(1, 13)]
    assert loaded.graph.edges == []  # line 58 speaks of phases, not tasks
    assert "scripts/status-cli.js" in loaded.plan.task_by_id["2.1"].files


def test_devwf_orchestration_sequential_note_and_file_conflict(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "public/devwf_orchestration_constraints.md")
    assert _waits_for(loaded, "2.3", "sequential") == ["2.2"]  # line 101
    assert _waits_for(loaded, "2.2", "sequential") == ["2.1"]
    assert loaded.graph.edge("3.1", "3.2").reason == "both touch scripts/lib/plan-status.js"
    assert "1.3" not in loaded.graph.predecessors["1.4"]  # line 72 has no [PARALLEL]/[SEQUENTIAL] tag


# -- checklist and OpenSpec ----------------------------------------------------------


def test_matrix3_bundles_get_phase_ids_in_document_order(corpus_dir: Path) -> None:
    plan = _load(corpus_dir, "public/matrix3_mario_phase_bundle.md").plan
    assert [len(phase.task_ids) for phase in plan.phases] == [9, 11, 9, 4, 4]
    assert plan.task_by_id["1.4"].title.startswith("Carryover regression")  # line 109
    assert plan.task_by_id["1.5"].title == "Add `PlayerControllerMode`."  # line 115, Bundle 1.2
    assert plan.task_by_id["3.5"].title.startswith("Runtime verify standing")  # line 164
    done = [task.id for task in plan.tasks if task.initial_status == "completed"]
    assert done == ["1.1", "1.2", "1.3", "1.5", "1.6", "1.7", "1.8", "1.9"] + [f"2.{n}" for n in range(1, 7)]
    assert not any(phase.sequential or phase.parallel for phase in plan.phases)


def test_openspec_groups_are_phases_of_seed_tasks(corpus_dir: Path) -> None:
    plan = _load(corpus_dir, "public/openspec_thegn_review_gate.md").plan
    assert [phase.title for phase in plan.phases][:2] == ["Workflow-graph model (TOML)", "Pure graph executor"]
    assert [task.id for task in plan.tasks if task.phase_index == 2] == ["3.1", "3.2", "3.3", "3.4"]
    assert plan.task_by_id["7.1"].title.startswith("Run `just ci`")
    assert all(task.initial_status == "pending" for task in plan.tasks)


# -- negative: examples in fences, criteria -----------------------------------------


@pytest.mark.parametrize(("relative", "line"), [
    # line 185: `- [ ] Add a toggle.` stands outside the fence that line 182's `  ```` closed early
    ("public/softure_plan_example_fenced.md", 185),
    # line 194: a VERIFY criterion; lines 183-184 are inside a fence
    ("public/devwf_PLAN-STANDARDS_spec.md", 194),
])
def test_plan_of_examples_and_criteria_names_the_closest_dialect(relative: str, line: int, corpus_dir: Path) -> None:
    with pytest.raises(PlanInvalid) as raised:
        _load(corpus_dir, relative)
    [problem] = raised.value.problems
    assert problem.message.startswith("no tasks found")
    assert f"closest format: checklist; line {line} did not match it" in (problem.hint or "")
