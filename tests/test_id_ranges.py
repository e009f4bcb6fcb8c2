"""Id ranges are bounded: a range naming more than MAX_RANGE_TASKS tasks is a located
problem, found without building the list (``1.1-1.1000000`` took 33 s and 1.4 GiB), and
the seed policy's ranges answer membership by arithmetic, whatever their length."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.parse.ids import MAX_RANGE_TASKS, expand_range
from plan_tasks.parse.sections import expand_any_range
from plan_tasks.select.seed import IdRange, expand_task_range, parse_execution_notes, select_next_seed

HUGE = "9" * 5000  # past int()'s 4,300-digit limit: int(HUGE) raises ValueError

BOUND_CASES = [
    # (behaviour, start, end, (count, first id, last id) when expanded, else a part of the message)
    ("a range of exactly the maximum expands", "1.1", "1.1000", (1000, "1.1", "1.1000")),
    ("one more than the maximum is refused", "1.1", "1.1001", "names more than 1,000 tasks"),
    ("a zero-padded start counts by value", "1.0002", "1.1001", (1000, "1.2", "1.1001")),
    ("a million is refused", "1.1", "1.1000000", "names more than 1,000 tasks"),
    ("a three-level range is bounded too", "3.1.1", "3.1.5000", "names more than 1,000 tasks"),
    ("an end of 5,000 digits is refused, not a ValueError", "1.1", f"1.{HUGE}", "names more than 1,000 tasks"),
    ("a start of 5,000 digits before a small end is reversed", f"1.{HUGE}", "1.2", "is reversed"),
    ("two ends of 5,000 digits, the second lower, are reversed", f"1.{HUGE}", f"1.{'8' * 5000}", "is reversed"),
]


@pytest.mark.parametrize(("start", "end", "expected"), [case[1:] for case in BOUND_CASES],
                         ids=[case[0] for case in BOUND_CASES])
def test_range_expansion_is_bounded(start: str, end: str, expected: tuple[int, str, str] | str) -> None:
    assert MAX_RANGE_TASKS == 1000  # the cases are written for it
    ids, problem = expand_range(start, end)
    if isinstance(expected, str):
        assert problem is not None and expected in problem.message and ids == [start, end]
    else:
        assert problem is None and (len(ids), ids[0], ids[-1]) == expected


PREFIXED_CASES = [
    # (behaviour, start, end, (count, first id, last id) when expanded, else a part of the message)
    ("zero-padded ids up to the maximum expand", "T0001", "T1000", (1000, "T0001", "T1000")),
    ("a million prefixed ids are refused", "T001", "T1000000", "names more than 1,000 tasks"),
    ("a prefixed end of 5,000 digits is refused", "DEV-1", f"DEV-{HUGE}", "names more than 1,000 tasks"),
    ("a reversed prefixed range stays reversed", "T011", "T004", "is reversed"),
]


@pytest.mark.parametrize(("start", "end", "expected"), [case[1:] for case in PREFIXED_CASES],
                         ids=[case[0] for case in PREFIXED_CASES])
def test_prefixed_id_ranges_of_other_dialects_are_bounded_too(start: str, end: str,
                                                              expected: tuple[int, str, str] | str) -> None:
    ids, problem = expand_any_range(start, end)
    if isinstance(expected, str):
        assert problem is not None and expected in problem[0] and ids == [start, end]
    else:
        assert problem is None and (len(ids), ids[0], ids[-1]) == expected


def test_validate_reports_a_million_task_range_at_its_place_and_exits_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("# Plan\n\n## Phase 1: A\n- [ ] 1.1 a\n- [ ] 1.2 b (depends on 1.1-1.1000000)\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "validate", str(plan)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{plan}:5:25: error: range 1.1-1.1000000 names more than 1,000 tasks" in result.stderr
    assert "Traceback" not in result.stderr


SEED_MEMBERSHIP_CASES = [
    # (behaviour, range text, id, member)
    ("the first id", "1.1-1.1000000", "1.1", True),
    ("the last id", "1.1-1.1000000", "1.1000000", True),
    ("one past the end", "1.1-1.1000000", "1.1000001", False),
    ("another phase", "1.1-1.1000000", "2.5", False),
    ("a zero-padded id is not what the seed's loop writes", "1.1-1.10", "1.05", False),
    ("a zero-padded phase is read as a number", "03.1-03.4", "3.2", True),
    ("an id written with a padded phase is not", "03.1-03.4", "03.2", False),
    ("a three-part id", "1.1-1.10", "1.2.1", False),
    ("a number, not a string", "1.1-1.10", 1.2, False),
    ("a very long number is compared without int()", "1.1-1.10", "1." + "1" * 5000, False),
]


@pytest.mark.parametrize(("range_text", "task_id", "member"), [case[1:] for case in SEED_MEMBERSHIP_CASES],
                         ids=[case[0] for case in SEED_MEMBERSHIP_CASES])
def test_seed_range_membership_is_arithmetic(range_text: str, task_id: object, member: bool) -> None:
    ids = expand_task_range(range_text)
    assert isinstance(ids, IdRange)
    assert (task_id in ids) is member
    if len(ids) <= 100:
        assert (task_id in list(ids)) is member  # the list the seed builds gives the same answer


def test_seed_range_compares_equal_to_the_list_it_stands_for() -> None:
    ids = expand_task_range("2.3-2.6")
    assert ids == ["2.3", "2.4", "2.5", "2.6"] and ["2.3", "2.4", "2.5", "2.6"] == ids
    assert ids != ["2.3", "2.4", "2.5"] and list(ids[1:3]) == ["2.4", "2.5"] and ids[-1] == "2.6"
    assert ids != [1, 2, 3, 4] and ids != "2.3"  # a list of other things, or a string, is not it


def test_seed_range_of_5000_digits_is_left_unexpanded_as_javascript_cannot_expand_it() -> None:
    assert expand_task_range(f"1.1-1.{HUGE}") == ["1.1", f"1.{HUGE}"]


def test_seed_next_with_a_million_task_note_marks_the_tasks_it_names() -> None:
    plan_text = "**Execution Note:** Tasks 1.1-1.1000000 are [SEQUENTIAL] - same file\n"
    document = {"tasks": [{"id": "1.2", "phase": "Phase 1: A", "description": "b", "status": "pending"}]}
    assert len(parse_execution_notes(plan_text)[0]["taskIds"]) == 1_000_000
    answer = select_next_seed(document, plan_text, 3)
    assert answer["tasks"][0]["sequential"] is True and answer["tasks"][0]["sequentialGroup"] == "1.1-1.1000000"
