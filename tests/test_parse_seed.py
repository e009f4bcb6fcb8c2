"""The seed-format parser, table-driven from ``tests/fixtures/parse_cases/``.

Each fixture file holds cases in markdown-it-py's fixture style::

    title of the case
    .
    plan text
    .
    expected summary
    .

Text between cases is commentary. The summary (see :func:`summarize`) lists
every phase, its tasks with the facts read from them, the execution notes and
the problems, so a case fails on anything extra as well as anything missing.
Behaviours that need files or exact positions are plain tests at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plan_tasks.errors import Location, PlanInvalid
from plan_tasks.load import load_plan
from plan_tasks.parse import parse_plan, read_plan_text

CASES_DIR = Path(__file__).resolve().parent / "fixtures" / "parse_cases"
PLAN_PATH = "plan.md"


def read_cases(name: str) -> list[pytest.param]:
    """The ``title / input / expected`` cases of one fixture file."""
    lines = (CASES_DIR / name).read_text(encoding="utf-8").split("\n")
    dots = [number for number, line in enumerate(lines) if line == "."]
    assert len(dots) % 3 == 0, f"{name}: every case needs three `.` lines"
    cases, titles = [], set()
    for start, middle, end in zip(dots[0::3], dots[1::3], dots[2::3]):
        title = lines[start - 1].strip()
        assert title and title not in titles, f"{name}:{start}: case titles must be present and unique"
        titles.add(title)
        plan_text = "\n".join(lines[start + 1 : middle]) + "\n"
        expected = "\n".join(lines[middle + 1 : end]) + "\n"
        cases.append(pytest.param(plan_text, expected, id=title))
    return cases


def summarize(text: str) -> str:
    """What the seed dialect read from ``text``, one fact per line."""
    plan, problems = parse_plan(text, PLAN_PATH, dialect="seed")
    out: list[str] = []
    for phase in plan.phases:
        number = "" if phase.label == str(phase.number) else f" number={phase.number}"
        sequential = " sequential" if phase.sequential else ""
        out.append(f"phase {phase.label}{number} {_quote(phase.title)} @{phase.line}{sequential}")
        for task in plan.tasks_of(phase):
            mark = "x" if task.checked else " "
            out.append(f"  task {task.id} [{mark}] {_quote(task.title)} @{task.line}:{task.column}")
            if task.depends_on:
                out.append("    depends " + " ".join(ref.id for ref in task.depends_on))
            if task.files:
                out.append("    files " + " ".join(task.files))
            if task.complexity:
                out.append(f"    complexity {task.complexity} weight {task.weight}")
            out.extend(f"    code {_quote(block.info)} @{block.line}" for block in task.code_blocks)
            out.extend(f"    | {line}".rstrip() for line in task.body.split("\n") if task.body)
    for note in plan.notes:
        out.append(f"note {' '.join(note.task_ids)} {_quote(note.reason)} @{note.line}:{note.column}")
    for problem in problems:
        out.extend(problem.format().split("\n"))
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


ALL_CASES = [
    pytest.param(*case.values, id=f"{path.stem}: {case.id}")
    for path in sorted(CASES_DIR.glob("*.txt"))
    for case in read_cases(path.name)
]


@pytest.mark.parametrize(("text", "expected"), read_cases("phase_headings.txt"))
def test_phase_heading_variants(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("tasks.txt"))
def test_task_variants(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("code_and_html.txt"))
def test_code_and_html_blocks_declare_nothing(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("execution_notes.txt"))
def test_execution_note_forms(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("dependencies.txt"))
def test_dependency_forms(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("files.txt"))
def test_file_paths(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("complexity.txt"))
def test_complexity_words(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), read_cases("problems.txt"))
def test_parse_problems(text: str, expected: str) -> None:
    assert summarize(text) == expected


def test_every_fixture_file_is_run() -> None:
    tested = {"phase_headings", "tasks", "code_and_html", "execution_notes", "dependencies", "files",
              "complexity", "problems"}
    assert {path.stem for path in CASES_DIR.glob("*.txt")} == tested


@pytest.mark.parametrize(("text", "expected"), ALL_CASES)
def test_crlf_line_endings_read_like_lf(text: str, expected: str) -> None:
    assert summarize(text.replace("\n", "\r\n")) == expected


@pytest.mark.parametrize(("text", "expected"), ALL_CASES)
def test_utf8_bom_is_ignored(text: str, expected: str) -> None:
    assert summarize("\ufeff" + text) == expected


# -- positions -------------------------------------------------------------


def test_dependency_reference_points_at_its_id() -> None:
    plan, _ = parse_plan("## Phase 1: A\n- [ ] 1.1 Base\n- [ ] 1.2 Next\n  **Depends on:** Task 1.1\n")
    ref = plan.task_by_id["1.2"].depends_on[0]
    assert (ref.id, ref.line, ref.column) == ("1.1", 4, 24)


def test_every_id_of_an_expanded_range_points_at_the_range() -> None:
    text = "## Phase 1: A\n- [ ] 1.1 a\n- [ ] 1.2 b\n\n**Execution Note:** Tasks 1.1-1.2 are [SEQUENTIAL] - x\n"
    plan, _ = parse_plan(text)
    assert [(ref.id, ref.line, ref.column) for ref in plan.notes[0].tasks] == [("1.1", 5, 27), ("1.2", 5, 27)]


def test_task_without_complexity_word_weighs_one() -> None:
    plan, _ = parse_plan("## Phase 1: A\n- [ ] 1.1 Write the parser\n")
    assert (plan.tasks[0].complexity, plan.tasks[0].weight) == (None, 1)


# -- reading files ---------------------------------------------------------


def test_plan_file_with_bom_and_crlf_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"\xef\xbb\xbf# Plan\r\n\r\n## Phase 1: A\r\n- [ ] 1.1 a\r\n- [ ] 1.2 b (depends on 1.4-1.1)\r\n")
    text, problems = read_plan_text(str(path))
    assert problems == [] and text is not None
    plan, problems = parse_plan(text, str(path))
    assert [(task.id, task.line, task.column) for task in plan.tasks] == [("1.1", 4, 7), ("1.2", 5, 7)]
    assert [str(problem.location) for problem in problems] == [f"{path}:5:25"]


def test_not_utf8_plan_is_reported_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"# Plan\r\n\r\n## Phase 1: Caf\xe9\r\n")
    text, problems = read_plan_text(str(path))
    assert text is None
    assert [problem.format() for problem in problems] == [
        f"{path}:3:16: error: plan is not valid UTF-8 (byte 0xe9)\n"
        "  hint: save the plan as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
    ]


def test_not_utf8_column_counts_characters_not_bytes(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes("# Plan\n- naïve café ".encode() + b"caf\xe9\n")
    _, problems = read_plan_text(str(path))
    assert [problem.location for problem in problems] == [Location(str(path), 2, 17)]


def test_not_utf8_column_does_not_count_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"\xef\xbb\xbf# Caf\xe9\n")
    _, problems = read_plan_text(str(path))
    assert [problem.location for problem in problems] == [Location(str(path), 1, 6)]


def test_missing_plan_file_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.md"
    text, problems = read_plan_text(str(path))
    assert text is None
    assert [problem.format() for problem in problems] == [
        f"{path}:1:1: error: cannot read plan: No such file or directory\n  hint: check the path"
    ]


def test_directory_given_as_plan_is_reported_unreadable(tmp_path: Path) -> None:
    text, problems = read_plan_text(str(tmp_path))
    assert text is None
    assert [problem.format() for problem in problems] == [
        f"{tmp_path}:1:1: error: cannot read plan: Is a directory\n  hint: check that it is a readable file"
    ]


def test_load_plan_raises_plan_invalid_for_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.md"
    with pytest.raises(PlanInvalid) as raised:
        load_plan(str(path))
    assert str(raised.value) == f"{path}:1:1: error: cannot read plan: No such file or directory\n  hint: check the path"
