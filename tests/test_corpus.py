"""The parser against real plans from the shared corpus (``../shared/corpus``).

``tests/fixtures/corpus_expected/`` holds, for every seed-format plan and the
seed-like public plans, the seed system's own reading of it (phases, tasks,
execution notes) as JSON, written by ``regenerate.py`` from a port of the
seed's line regexes and checked by hand. Two kinds of tests use it: the seed
port must still reproduce each file (so the data provably is the seed's
answer), and our parser must give the same answer except where a file lists a
deliberate divergence, with its reason.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from plan_tasks.errors import PlanInvalid
from plan_tasks.load import load_plan
from plan_tasks.model import Plan
from plan_tasks.parse import parse_plan, read_plan_text

EXPECTED_DIR = Path(__file__).resolve().parent / "fixtures" / "corpus_expected"
KINDS = {"phase": "phases", "task": "tasks", "execution_note": "execution_notes"}


def _load_seed_port() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_regenerate", EXPECTED_DIR / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_port = _load_seed_port()

EXPECTED_FILES = [
    pytest.param(path, id=path.relative_to(EXPECTED_DIR).with_suffix("").as_posix())
    for path in sorted(EXPECTED_DIR.glob("*/*.json"))
]


def _expected(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _parse(corpus_dir: Path, relative: str) -> Plan:
    path = str(corpus_dir / relative)
    text, problems = read_plan_text(path)
    assert text is not None, problems
    return parse_plan(text, path)[0]


def _ours(expected: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The seed's entries of one kind, with this file's divergences applied."""
    divergences = [d for d in expected["divergences"] if KINDS[d["kind"]] == kind]
    replaced = {d["line"] for d in divergences}
    entries = [entry for entry in expected[kind] if entry["line"] not in replaced]
    entries += [d["plan_tasks"] for d in divergences if d["plan_tasks"] is not None]
    return sorted(entries, key=lambda entry: entry["line"])


def test_every_checked_corpus_plan_has_expected_results(corpus_dir: Path) -> None:
    plans = {plan.relative_to(corpus_dir).with_suffix("").as_posix() for plan in seed_port.corpus_plans(corpus_dir)}
    expected = {path.relative_to(EXPECTED_DIR).with_suffix("").as_posix() for path in EXPECTED_DIR.glob("*/*.json")}
    assert plans == expected


@pytest.mark.parametrize("expected_path", EXPECTED_FILES)
def test_corpus_plan_loads_as_a_valid_plan(expected_path: Path, corpus_dir: Path) -> None:
    loaded = load_plan(str(corpus_dir / _expected(expected_path)["plan"]))
    assert loaded.plan.tasks


@pytest.mark.parametrize("expected_path", EXPECTED_FILES)
def test_seed_regexes_reproduce_expected_results(expected_path: Path, corpus_dir: Path) -> None:
    expected = _expected(expected_path)
    text = (corpus_dir / expected["plan"]).read_text(encoding="utf-8")
    assert seed_port.seed_reading(text) == {kind: expected[kind] for kind in KINDS.values()}
    for divergence in expected["divergences"]:
        at_line = [e for e in expected[KINDS[divergence["kind"]]] if e["line"] == divergence["line"]]
        assert at_line == ([divergence["seed"]] if divergence["seed"] is not None else [])
        assert divergence["why"]


@pytest.mark.parametrize("expected_path", EXPECTED_FILES)
def test_parser_reads_phases_as_the_seed_does(expected_path: Path, corpus_dir: Path) -> None:
    expected = _expected(expected_path)
    plan = _parse(corpus_dir, expected["plan"])
    phases = [{"number": phase.number, "title": phase.title, "line": phase.line} for phase in plan.phases]
    assert phases == _ours(expected, "phases")


@pytest.mark.parametrize("expected_path", EXPECTED_FILES)
def test_parser_reads_tasks_as_the_seed_does(expected_path: Path, corpus_dir: Path) -> None:
    expected = _expected(expected_path)
    plan = _parse(corpus_dir, expected["plan"])
    tasks = [
        {
            "id": task.id,
            "phase": plan.phase_of(task).number,
            "checked": task.checked,
            "description": task.title,
            "line": task.line,
        }
        for task in plan.tasks
    ]
    assert tasks == _ours(expected, "tasks")


@pytest.mark.parametrize("expected_path", EXPECTED_FILES)
def test_parser_reads_execution_notes_as_the_seed_does(expected_path: Path, corpus_dir: Path) -> None:
    expected = _expected(expected_path)
    plan = _parse(corpus_dir, expected["plan"])
    notes = [{"task_ids": list(note.task_ids), "reason": note.reason, "line": note.line} for note in plan.notes]
    assert notes == _ours(expected, "execution_notes")


# -- the seed-like public plans, by hand -------------------------------------


def test_git_phase3_safety_chains_the_rollback_and_the_abandon_tasks(corpus_dir: Path) -> None:
    plan = _parse(corpus_dir, "public/devwf_git_phase3_safety.md")
    assert [(note.task_ids, note.reason) for note in plan.notes] == [
        (("1.1", "1.2"), "all create/modify `.claude/commands/plan/rollback.md`"),
        (("2.1", "2.2"), "all create/modify `.claude/commands/plan/abandon.md`"),
    ]


def test_git_phase5_note_about_phases_constrains_no_tasks(corpus_dir: Path) -> None:
    # Line 58: "**Execution Note:** Phase 2 is foundational - Phases 3-5 depend on the context system."
    plan = _parse(corpus_dir, "public/devwf_git_phase5_worktrees.md")
    assert plan.notes == ()
    assert [task.id for task in plan.tasks] == [f"{number}.1" for number in range(1, 13)]


def test_orchestration_note_without_sequential_tag_constrains_no_tasks(corpus_dir: Path) -> None:
    # Line 72 names tasks 1.1, 1.3, 1.4 but says they "can run in parallel"; line 101 is the only
    # [SEQUENTIAL] note. Task 1.1's body quotes the note syntax in a code span with X.Y ids.
    plan = _parse(corpus_dir, "public/devwf_orchestration_constraints.md")
    assert [(note.task_ids, note.reason, note.line) for note in plan.notes] == [
        (("2.1", "2.2", "2.3"), "all modify cmdNext() in status-cli.js", 101),
    ]


def test_orchestration_json_example_is_a_code_block_of_its_task(corpus_dir: Path) -> None:
    plan = _parse(corpus_dir, "public/devwf_orchestration_constraints.md")
    task = plan.task_by_id["0.1"]
    assert [(block.info, block.line) for block in task.code_blocks] == [("json", 47)]
    assert task.depends_on == () and task.files == ("scripts/lib/schemas/plan-status.json",)


def test_orchestration_success_criteria_checklist_is_not_tasks(corpus_dir: Path) -> None:
    plan = _parse(corpus_dir, "public/devwf_orchestration_constraints.md")
    assert len(plan.tasks) == 42
    assert max(task.line for task in plan.tasks) == 212  # 6.6; the checklists start at line 219


# -- plans whose examples sit inside code fences ------------------------------

NO_TASKS_IN_FENCED_EXAMPLES = [
    # "## Phase 3: Frontend" (line 184) is outside any fence: line 182's "  ```" closes the
    # "```markdown" fence of line 163, because line 177's "  ```ts" has an info string.
    pytest.param("public/softure_plan_example_fenced.md", 1, 11, id="softure_plan_example_fenced"),
    # "### Phase 0 Guidelines" (line 155) reads as a phase heading.
    pytest.param("public/devwf_PLAN-STANDARDS_spec.md", 1, 13, id="devwf_PLAN-STANDARDS_spec"),
]


@pytest.mark.parametrize(("relative", "phases", "in_code"), NO_TASKS_IN_FENCED_EXAMPLES)
def test_plan_with_fenced_examples_reports_no_tasks_found(
    relative: str, phases: int, in_code: int, corpus_dir: Path
) -> None:
    path = str(corpus_dir / relative)
    with pytest.raises(PlanInvalid) as raised:
        load_plan(path)
    assert [problem.format().split("\n")[0] for problem in raised.value.problems] == [
        f"{path}:1:1: error: no tasks found ({phases} phase(s)); {in_code} task-like line(s) sit inside "
        "code blocks, which are examples, not tasks"
    ]


@pytest.mark.parametrize(("relative", "phases", "in_code"), NO_TASKS_IN_FENCED_EXAMPLES)
def test_plan_with_fenced_examples_yields_no_tasks_or_notes(
    relative: str, phases: int, in_code: int, corpus_dir: Path
) -> None:
    plan = _parse(corpus_dir, relative)
    assert (plan.tasks, plan.notes, len(plan.phases)) == ((), (), phases)
