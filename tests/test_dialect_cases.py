"""Every plan dialect, table-driven from ``tests/fixtures/dialect_cases/``.

The fixture files use markdown-it-py's ``title / input / expected`` layout (see
tests/test_parse_seed.py). Each plan is parsed with detection, so a case also
checks which dialect reads it; the summary lists the phases, the tasks with
their state (``[ ]`` pending, ``[x]`` done, ``[s]`` skipped by the plan), the
dependencies the plan states (``depends``) and those its dialect implies
(``after``: a spec-kit or cc-sdd task without a parallel mark), files, body,
execution notes and every problem.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plan_tasks.parse import parse_plan
from test_parse_seed import read_cases  # the same fixture-file layout

CASES_DIR = Path(__file__).resolve().parent / "fixtures" / "dialect_cases"
PLAN_PATH = "plan.md"


def summarize(text: str) -> str:
    plan, problems = parse_plan(text, PLAN_PATH)
    out = [f"dialect {plan.dialect}"]
    for phase in plan.phases:
        number = "" if phase.label == str(phase.number) else f" number={phase.number}"
        flags = (" sequential" if phase.sequential else "") + (" parallel" if phase.parallel else "")
        out.append(f"phase {phase.label}{number} {json.dumps(phase.title, ensure_ascii=False)} @{phase.line}{flags}")
        for task in plan.tasks_of(phase):
            mark = "s" if task.skipped else "x" if task.checked else " "
            out.append(f"  task {task.id} [{mark}] {json.dumps(task.title, ensure_ascii=False)} @{task.line}:{task.column}")
            for kind, word in (("depends", "depends"), ("sequential", "after")):
                ids = [ref.id for ref in task.depends_on if ref.kind == kind]
                if ids:
                    out.append(f"    {word} {' '.join(ids)}")
            if task.files:
                out.append("    files " + " ".join(task.files))
            out.extend(f"    | {line}".rstrip() for line in task.body.split("\n") if task.body)
    for note in plan.notes:
        reason = json.dumps(note.reason, ensure_ascii=False)
        out.append(f"note {note.kind} {' '.join(note.task_ids)} {reason} @{note.line}:{note.column}")
    for problem in problems:
        out.extend(problem.format().split("\n"))
    return "\n".join(out) + "\n"


CASES = [
    pytest.param(*case.values, id=f"{path.stem}: {case.id}")
    for path in sorted(CASES_DIR.glob("*.txt"))
    for case in read_cases(f"../dialect_cases/{path.name}")
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_dialect_reads_the_case_as_expected(text: str, expected: str) -> None:
    assert summarize(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_dialect_case_reads_the_same_with_crlf_line_endings(text: str, expected: str) -> None:
    assert summarize(text.replace("\n", "\r\n")) == expected


def test_every_dialect_has_a_case_file() -> None:
    assert {path.stem for path in CASES_DIR.glob("*.txt")} == {"seed_marks", "speckit", "kiro", "checklist", "openspec"}
