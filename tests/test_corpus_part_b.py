"""Real plans of the shared corpus read by the task-heading, Task Master, task
table and GSD dialects: expectations written from reading each file.

Each plan is loaded the way every command loads it (``load_plan``: dialect
detection, parse, graph, checks), so a plan that parses but fails its checks
fails here too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plan_tasks.load import LoadedPlan, load_plan
from plan_tasks.parse import gsd
from plan_tasks.parse.source import Source


def _load(corpus_dir: Path, name: str) -> LoadedPlan:
    return load_plan(str(corpus_dir / "public" / name))


def _depends(loaded: LoadedPlan, task_id: str) -> list[str]:
    return [ref.id for ref in loaded.plan.task_by_id[task_id].depends_on]


def _edge_kinds(loaded: LoadedPlan, source: str, target: str) -> str | None:
    edge = loaded.graph.edge(source, target)
    return edge.kind if edge else None


# -- kiro_phase1_stages.md: `## Stage N` groups, `### Task N.M:` headings ------------------


def test_kiro_stages_become_phases_named_for_the_seed(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "kiro_phase1_stages.md")
    plan = loaded.plan
    assert plan.dialect == "headings"
    assert plan.title == "Phase 1 Execution Plan"  # the title, not a phase: it is the only `#` heading
    assert [phase.name for phase in plan.phases] == [
        "Phase 1: Stage 1 (parallel) — completed 2026-04-17",
        "Phase 2: Stage 2 (after Stage 1) — completed 2026-04-17",
        "Phase 3: Stage 3: Review — completed 2026-04-17",
    ]
    assert [list(phase.task_ids) for phase in plan.phases] == [["1.1", "1.2", "1.3"], ["2.1"], ["3.1"]]


def test_kiro_tasks_read_depends_on_files_and_completed_stages(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "kiro_phase1_stages.md")
    plan = loaded.plan
    assert _depends(loaded, "2.1") == ["1.1"]  # `Task 1.1 (modifies the same agent JSON files)`
    assert _depends(loaded, "3.1") == ["1.1", "1.2", "1.3", "2.1"]
    assert _depends(loaded, "1.1") == []
    assert plan.task_by_id["1.2"].title == "Fix hook scripts (Plan Tasks 3 + 4)"
    assert plan.task_by_id["1.2"].files == ("hooks/feedback/context-enrichment.sh", "hooks/_lib/distill.sh")
    assert len(plan.task_by_id["1.1"].files) == 10
    # "Files to review" and "Briefing context" are read, not written.
    assert plan.task_by_id["3.1"].files == ()
    assert "docs/specs/2026-04-17-audit-phase1-safety/plan.md" not in plan.task_by_id["1.3"].files
    # Every stage heading says "— completed": its tasks start completed.
    assert all(task.initial_status == "completed" for task in plan.tasks)
    # The `## Verification` checkboxes are not tasks.
    assert len(plan.tasks) == 5


# -- superpowers_musefs_template_hardening.md: `## Task N:` with step checkboxes -----------


def test_superpowers_tasks_are_headings_and_steps_are_not_tasks(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "superpowers_musefs_template_hardening.md")
    plan = loaded.plan
    assert plan.dialect == "headings"
    assert [task.id for task in plan.tasks] == ["1", "2"]
    assert len(plan.phases) == 1  # no groups: one phase, named after the plan
    assert plan.phases[0].name == "Phase 1: Template & Path Hardening Implementation Plan"
    assert plan.task_by_id["1"].title == "#303 — Path-field segment cap (independent, infallible)"
    assert plan.task_by_id["1"].files == ("musefs-core/src/template.rs", "musefs-core/tests/template.rs")
    assert all(task.initial_status == "pending" for task in plan.tasks)  # no step is checked
    # Both tasks modify `musefs-core/src/template.rs`: task 2 waits for task 1.
    assert _edge_kinds(loaded, "1", "2") == "file"
    # `## Self-Review notes` ends task 2: its text is not in the task's body.
    assert "Self-Review" not in plan.task_by_id["2"].body


# -- planforge_auth_rbac_slices.md: `### Slice N: ... [sequential]` --------------------------


def test_planforge_slices_are_tasks_chained_by_depends_on_and_sequential(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "planforge_auth_rbac_slices.md")
    plan = loaded.plan
    assert plan.dialect == "headings"
    assert [task.id for task in plan.tasks] == [str(number) for number in range(1, 9)]
    assert [phase.name for phase in plan.phases] == ["Phase 1: Execution Slices"]
    assert plan.task_by_id["1"].title == "Create auth module skeleton + extract bearer provider"
    assert _depends(loaded, "1") == []
    assert _depends(loaded, "2") == ["1"]  # `**Depends On**: Slice 1`
    assert _depends(loaded, "8") == ["7"]
    assert plan.task_by_id["7"].files == ()  # `**Files**: (none — verification slice only)`
    assert plan.task_by_id["2"].files == ("pforge-mcp/auth/rbac.mjs", ".forge/rbac.example.json")
    assert [note.task_ids for note in plan.notes] == [tuple(str(n) for n in range(1, 9))]
    assert loaded.graph.edge("3", "4") is not None
    assert all(task.initial_status == "pending" for task in plan.tasks)


# -- speckit_variant_genseq_heading_tasks.md: `### T005 [R] [D: T001, T002] [x] Title` -------


def test_genseq_heading_tasks_read_ids_tags_dependencies_and_checkboxes(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "speckit_variant_genseq_heading_tasks.md")
    plan = loaded.plan
    assert plan.dialect == "headings"
    assert len(plan.tasks) == 25
    assert [phase.label for phase in plan.phases] == ["1", "2", "3", "4", "5", "6"]
    assert plan.phases[1].name == "Phase 2: Kick/Bass Pattern (US1)"
    assert list(plan.phases[0].task_ids) == ["T001", "T002", "T003", "T004"]
    assert plan.task_by_id["T005"].title == "Write TechnoKickBassPattern tests"
    assert _depends(loaded, "T005") == ["T001", "T002"]
    assert _depends(loaded, "T017") == ["T007", "T010", "T013", "T016"]
    assert _depends(loaded, "T019") == ["T003"]
    assert _depends(loaded, "T001") == []
    statuses = {task.id: task.initial_status for task in plan.tasks}
    assert statuses["T023"] == "completed" and statuses["T024"] == "pending" and statuses["T025"] == "pending"
    assert sum(status == "completed" for status in statuses.values()) == 23
    # `[P]` adds no edge; T001 and T002 both write `types.ts`, so the file edge still orders them.
    assert _edge_kinds(loaded, "T001", "T002") == "file"
    assert loaded.graph.predecessors["T003"] == () and loaded.graph.predecessors["T004"] == ()


@pytest.mark.parametrize("name", [
    "kiro_phase1_stages.md",
    "superpowers_musefs_template_hardening.md",
    "planforge_auth_rbac_slices.md",
    "speckit_variant_genseq_heading_tasks.md",
])
def test_heading_plans_load_without_warnings(corpus_dir: Path, name: str) -> None:
    assert _load(corpus_dir, name).warnings == ()


# -- taskmaster_task_005.md: a Task Master task file ----------------------------------------


def test_taskmaster_task_file_runs_its_subtasks(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "taskmaster_task_005.md")
    plan = loaded.plan
    assert plan.dialect == "taskmaster"
    assert plan.title == "Task 5: Waitlist Notifications and UI"
    assert [phase.name for phase in plan.phases] == ["Phase 5: Waitlist Notifications and UI"]
    # The task has subtasks: they are the runnable units.
    assert [task.id for task in plan.tasks] == ["5.1", "5.2", "5.3"]
    assert _depends(loaded, "5.1") == []  # `**Dependencies:** None`
    assert _depends(loaded, "5.2") == ["5.1"]
    assert _depends(loaded, "5.3") == ["5.1"]  # 5.2 and 5.3 may run together
    assert plan.task_by_id["5.2"].title == "Build Confirmation Handling Logic"
    assert plan.task_by_id["5.1"].body.startswith("Develop SMS and Email notification delivery")
    assert all(task.initial_status == "pending" and task.complexity == "MEDIUM" for task in plan.tasks)
    # `**Dependencies:** 4` names a task outside this file: a located warning, not an edge.
    assert [(p.location.line, p.location.column, p.message) for p in loaded.warnings] == [
        (7, 19, "task 5 depends on task 4, which is not in this file: it is not waited for"),
    ]


# -- akount_doc_intel_task_table.md: task tables with a Deps column ------------------------


def test_akount_task_tables_give_54_tasks_in_six_phases(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "akount_doc_intel_task_table.md")
    plan = loaded.plan
    assert plan.dialect == "table"
    assert plan.title == "Document Intelligence Platform — Task List"
    assert [phase.label for phase in plan.phases] == ["1", "1.5", "2", "3", "4", "5"]
    assert plan.phases[1].name == "Phase 1.5: Security Hardening (Review Follow-Up)"
    # The document says 51; its tables hold 21 + 4 + 8 + 9 + 9 + 3 rows. Summary tables are not tasks.
    assert [len(phase.task_ids) for phase in plan.phases] == [21, 4, 8, 9, 9, 3]
    assert _depends(loaded, "DEV-235") == ["DEV-230", "DEV-231", "SEC-29", "SEC-30"]
    assert _depends(loaded, "INFRA-63") == ["INFRA-61"]  # the Source cell `review:doc-intel-phase1` is not read
    assert _depends(loaded, "DEV-230") == []  # `—`
    assert _depends(loaded, "SEC-38") == ["DEV-263", "DEV-264", "DEV-265", "DEV-266"]  # `All Track F`
    assert len(_depends(loaded, "DEV-267")) == 51  # `All phases`: every task of phases 1 to 4


def test_akount_status_and_priority_columns(corpus_dir: Path) -> None:
    plan = _load(corpus_dir, "akount_doc_intel_task_table.md").plan
    statuses = {task.id: task.initial_status for task in plan.tasks}
    assert sum(status == "completed" for status in statuses.values()) == 25  # `✅ Done` rows of phases 1 and 1.5
    assert statuses["DEV-233"] == "completed" and statuses["DEV-242"] == "pending"  # `✅ Done (1c08fa3)`, `Ready`
    task = plan.task_by_id["SEC-29"]
    assert (task.complexity, task.weight, task.files) == ("CRITICAL", 3, ("lib/pii-redaction.ts",))
    assert plan.task_by_id["DEV-253"].complexity == "LOW"
    assert plan.task_by_id["DEV-246"].title == "NL bookkeeping endpoint + service (Mistral function calling)"


# -- gsd_klausbot_01-02-PLAN.md: front matter and <task> elements ----------------------------


def test_gsd_plan_reads_its_three_tasks_in_order(corpus_dir: Path) -> None:
    loaded = _load(corpus_dir, "gsd_klausbot_01-02-PLAN.md")
    plan = loaded.plan
    assert plan.dialect == "gsd"
    # "foundation" is in the front matter (`phase: 01-foundation`); the file name gives 1 and 01-02.
    assert [phase.name for phase in plan.phases] in (
        ["Phase 1: foundation (plan 01-02)"], ["Phase 1: plan 01-02"])
    assert plan.phases[0].sequential  # GSD runs a plan's tasks one after the other
    assert [(task.id, task.title) for task in plan.tasks] == [
        ("1", "Create grammY bot with plugins"),
        ("2", "Create message splitting and sending utilities"),
        ("3", "Create command and message handlers"),
    ]
    assert plan.task_by_id["2"].files == ("src/utils/split.ts", "src/utils/index.ts")
    assert plan.task_by_id["1"].body.startswith("Action:\nCreate src/telegram/bot.ts following RESEARCH.md Pattern 2:")
    assert "Verify:\nnpm run build succeeds" in plan.task_by_id["1"].body
    assert loaded.graph.predecessors["3"] == ("2",) and loaded.graph.predecessors["2"] == ("1",)
    assert all(task.initial_status == "pending" for task in plan.tasks)
    assert not [p for p in loaded.warnings if p.is_error]


def test_gsd_front_matter_gives_the_phase_title_and_names_other_plans(corpus_dir: Path) -> None:
    path = corpus_dir / "public" / "gsd_klausbot_01-02-PLAN.md"
    plan, problems = gsd.parse(Source(path.read_text(encoding="utf-8"), str(path)))
    assert [phase.name for phase in plan.phases] == ["Phase 1: foundation (plan 01-02)"]
    # `depends_on: ["01-01"]` names another plan file: a located warning.
    assert [(p.location.line, p.severity) for p in problems] == [(6, "warning")]
    assert '"01-01"' in problems[0].message
