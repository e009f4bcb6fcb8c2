"""`next N --policy seed` is the seed's ``cmdNext``, exactly, quirks included.

The seed's rules (``status-cli.js`` ``cmdNext`` and ``plan-status.js``
``parseExecutionNotes``/``expandTaskRange``):

* in-progress tasks, when any, are the whole answer, cut to N;
* else every failed task (no limit), then pending tasks phase by phase while
  fewer than N are chosen; a phase is skipped while an earlier-numbered phase
  has pending or in-progress tasks and not every earlier-numbered phase has
  80% of its tasks completed or skipped;
* phases are grouped by ``task.phase || 'Unknown Phase'`` and ordered (stably)
  by ``parseInt`` of ``/Phase\\s+(\\d+)/``, 0 without one;
* ``sequential`` metadata comes from the first execution note naming the id.

Expected answers are data: ``fixtures/seed_next/*.json`` (computed by hand),
the tables below, and, for the property tests, an independent re-statement
of the rules written plainly here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_tasks.select.seed import expand_task_range, parse_execution_notes, select_next_seed

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "seed_next"
PLAN_WITHOUT_NOTES = "# Plan\n\n## Phase 1: Setup\n\n- [ ] 1.1 Something\n"

IN_PROGRESS = "in_progress - should be completed first"
FAILED = "failed - needs retry or manual intervention"
PENDING = "pending - ready to implement"


def load_cases(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["cases"]


CASES = load_cases("selection") + load_cases("constraints")
CASE_IDS = [case["title"] for case in CASES]


def plan_of(case: dict[str, Any]) -> str | None:
    return case.get("plan", PLAN_WITHOUT_NOTES)


def as_json_text(data: Any) -> str:
    """``JSON.stringify(data, null, 2)``: the comparison that also checks key order."""
    return json.dumps(data, indent=2, ensure_ascii=False)


# -- the seed's answers, case by case (library) --------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_select_next_seed_gives_the_seed_answer_with_its_key_order(case: dict[str, Any]) -> None:
    arguments = () if case["count"] is None else (case["count"],)
    answer = select_next_seed({"tasks": case["tasks"]}, plan_of(case), *arguments)
    assert as_json_text(answer) == as_json_text(case["expected"])


# -- the seed's answers, case by case (the command line) -----------------------


def seed_status_document(plan_ref: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """status.json as the seed's ``plan-status.js`` writes it: no ``planTasks`` key."""
    counts = {"totalTasks": len(tasks), "completed": 0, "pending": 0, "in_progress": 0, "failed": 0, "skipped": 0}
    for task in tasks:
        if task.get("status") in counts:
            counts[task["status"]] += 1
    unfinished = [task for task in tasks if task.get("status") not in ("completed", "skipped")]
    return {
        "_comment": "This file is the authoritative source of truth for task execution state. "
                    "The markdown plan file is read-only reference documentation. Use status-cli.js to update task status.",
        "planPath": plan_ref,
        "planName": "Seed next",
        "createdAt": "2025-12-25T10:00:00.000Z",
        "lastUpdatedAt": "2025-12-25T11:30:00.000Z",
        "currentPhase": (unfinished or tasks or [{}])[0].get("phase"),
        "tasks": tasks,
        "runs": [],
        "summary": counts,
    }


def write_seed_project(root: Path, tasks: list[dict[str, Any]], plan: str | bytes | None) -> str:
    """A project as the seed leaves it; returns the plan's path relative to ``root``."""
    plan_ref = "docs/plans/seed-next.md"
    if plan is not None:
        (root / "docs" / "plans").mkdir(parents=True)
        (root / plan_ref).write_bytes(plan if isinstance(plan, bytes) else plan.encode("utf-8"))
    status_file = root / "docs" / "plan-outputs" / "seed-next" / "status.json"
    status_file.parent.mkdir(parents=True)
    # JSON.stringify writes a lone surrogate as the escape \udXXX; backslashreplace spells it the same.
    status_file.write_bytes(as_json_text(seed_status_document(plan_ref, tasks)).encode("utf-8", "backslashreplace"))
    return plan_ref


def run_next_seed(root: Path, plan_ref: str, count: int | None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PLAN_TASKS_CACHE_DIR": str(root / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    arguments = [] if count is None else [str(count)]
    return subprocess.run(
        [sys.executable, "-m", "plan_tasks", "next", *arguments, "--policy", "seed", "--plan", plan_ref,
         "--root", str(root)],
        capture_output=True, encoding="utf-8", cwd=root, env=env, timeout=120,
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cli_prints_exactly_the_seed_json_text(case: dict[str, Any], tmp_path: Path) -> None:
    plan_ref = write_seed_project(tmp_path, case["tasks"], plan_of(case))
    result = run_next_seed(tmp_path, plan_ref, case["count"])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == as_json_text(case["expected"]) + "\n"


def test_cli_leaves_the_seed_status_file_untouched(tmp_path: Path) -> None:
    tasks = [{"id": "1.1", "phase": "Phase 1: A", "description": "a", "status": "pending"}]
    plan_ref = write_seed_project(tmp_path, tasks, PLAN_WITHOUT_NOTES)
    status_file = tmp_path / "docs" / "plan-outputs" / "seed-next" / "status.json"
    before = status_file.read_bytes()
    assert run_next_seed(tmp_path, plan_ref, 3).returncode == 0
    assert status_file.read_bytes() == before


def test_cli_reads_notes_from_a_plan_that_is_not_valid_utf8_as_node_does(tmp_path: Path) -> None:
    """Node's ``readFileSync(path, 'utf8')`` turns bad bytes into U+FFFD (one per maximal
    invalid subpart) and reads on; the note is still read."""
    tasks = [{"id": "1.1", "phase": "Phase 1: A", "description": "a", "status": "pending"}]
    plan = b"**Execution Note:** Task 1.1 is [SEQUENTIAL] - caf\xe9 \xed\xa0\x80 \xf0\x9f\x98 end\n"
    plan_ref = write_seed_project(tmp_path, tasks, plan)
    expected = {"count": 1, "tasks": [
        {"id": "1.1", "description": "a", "phase": 1, "status": "pending", "reason": PENDING, "sequential": True,
         "sequentialGroup": "1.1", "sequentialReason": "caf\ufffd \ufffd\ufffd\ufffd \ufffd end"},
    ]}
    result = run_next_seed(tmp_path, plan_ref, 3)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == as_json_text(expected) + "\n"


def test_cli_refuses_a_lone_surrogate_in_status_json_at_its_place(tmp_path: Path) -> None:
    """Valid JSON, but not text: no command can write it back as UTF-8 or print it, so
    every command reports it, `next --policy seed` too (issue 12), and writes nothing."""
    tasks = [{"id": "1.1", "phase": "Phase 1: A", "description": "x\ud800", "status": "pending"}]
    plan_ref = write_seed_project(tmp_path, tasks, PLAN_WITHOUT_NOTES)
    status_file = tmp_path / "docs" / "plan-outputs" / "seed-next" / "status.json"
    before = status_file.read_bytes()
    line = before.decode("utf-8").count("\n", 0, before.decode("utf-8").index("x\\ud800")) + 1
    result = run_next_seed(tmp_path, plan_ref, 3)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"docs/plan-outputs/seed-next/status.json:{line}:")
    assert "task 1.1: `description` holds a lone surrogate (\\ud800), which is not text" in result.stderr
    assert status_file.read_bytes() == before


# -- parse_execution_notes and expand_task_range -------------------------------

NOTE = "**Execution Note:** "
PARSE_CASES = [
    # (behaviour, plan text, [(taskRange, taskIds, reason), ...])
    ("the seed's example note", NOTE + "Tasks 3.1-3.4 are [SEQUENTIAL] - all modify same file\n",
     [("3.1-3.4", ["3.1", "3.2", "3.3", "3.4"], "all modify same file")]),
    ("a single task with `is`", NOTE + "Task 2.1 is [SEQUENTIAL] - runs alone\n", [("2.1", ["2.1"], "runs alone")]),
    ("a comma list gives one constraint per item", NOTE + "Tasks 2.1, 2.3 are [SEQUENTIAL] - index\n",
     [("2.1", ["2.1"], "index"), ("2.3", ["2.3"], "index")]),
    ("a comma list without spaces too", NOTE + "Tasks 2.1,2.3-2.4 are [SEQUENTIAL] - index\n",
     [("2.1", ["2.1"], "index"), ("2.3-2.4", ["2.3", "2.4"], "index")]),
    ("a list may wrap onto the next line", NOTE + "Tasks 1.1,\n1.2 are [SEQUENTIAL] - wrapped\n",
     [("1.1", ["1.1"], "wrapped"), ("1.2", ["1.2"], "wrapped")]),
    ("`and` between ranges is not matched at all", NOTE + "Tasks 2.1-2.3 and 3.1-3.4 are [SEQUENTIAL] - x\n", []),
    ("an en dash inside a range is not matched", NOTE + "Tasks 2.1–2.5 are [SEQUENTIAL] - x\n", []),
    ("a spaced dash matches but the range is dropped", NOTE + "Tasks 2.1 - 2.5 are [SEQUENTIAL] - x\n", []),
    ("a three-level range is dropped", NOTE + "Tasks 3.1.1-3.1.3 are [SEQUENTIAL] - x\n", []),
    ("a three-level range is dropped, a later item kept", NOTE + "Tasks 3.1.1-3.1.3, 3.2 are [SEQUENTIAL] - x\n",
     [("3.2", ["3.2"], "x")]),
    ("a cross-phase range keeps both ends", NOTE + "Tasks 1.3-2.2 are [SEQUENTIAL] - x\n",
     [("1.3-2.2", ["1.3", "2.2"], "x")]),
    ("a backwards range keeps both ends", NOTE + "Tasks 2.4-2.2 are [SEQUENTIAL] - x\n",
     [("2.4-2.2", ["2.4", "2.2"], "x")]),
    ("a zero-padded range expands to plain ids", NOTE + "Tasks 03.1-03.4 are [SEQUENTIAL] - x\n",
     [("03.1-03.4", ["3.1", "3.2", "3.3", "3.4"], "x")]),
    ("a note in fenced code is read", "```markdown\n" + NOTE + "Tasks 1.1-1.2 are [SEQUENTIAL] - example\n```\n",
     [("1.1-1.2", ["1.1", "1.2"], "example")]),
    ("a line ending at [SEQUENTIAL] takes the next text line as reason",
     NOTE + "Tasks 1.1-1.2 are [SEQUENTIAL]\n\n**Tasks:**\n", [("1.1-1.2", ["1.1", "1.2"], "**Tasks:**")]),
    ("a note ending at [SEQUENTIAL] at the end of the file is not read", NOTE + "Task 1.1 is [SEQUENTIAL]", []),
    ("a note ending in one space and a newline at the end of the file has an empty reason",
     NOTE + "Task 1.1 is [SEQUENTIAL] \n", [("1.1", ["1.1"], "")]),
    ("a CRLF plan yields no notes", "# P\r\n\r\n" + NOTE + "Tasks 1.1-1.2 are [SEQUENTIAL] - same file\r\n\r\n", []),
    ("a CRLF plan's last line, without a newline, is still read",
     "# P\r\n\r\n" + NOTE + "Tasks 1.1-1.2 are [SEQUENTIAL] - same file", [("1.1-1.2", ["1.1", "1.2"], "same file")]),
    ("a line separator inside the reason stops the note", NOTE + "Task 1.1 is [SEQUENTIAL] - a\u2028b\n", []),
    ("an en dash or em dash before the reason is dropped",
     NOTE + "Task 1.1 is [SEQUENTIAL] – en\n" + NOTE + "Task 1.2 is [SEQUENTIAL] — em\n",
     [("1.1", ["1.1"], "en"), ("1.2", ["1.2"], "em")]),
    ("only one dash is dropped", NOTE + "Task 1.1 is [SEQUENTIAL] -- two\n", [("1.1", ["1.1"], "- two")]),
    ("without a dash the reason starts at the first non-space", NOTE + "Task 1.1 is [SEQUENTIAL]: colon\n",
     [("1.1", ["1.1"], ": colon")]),
    ("the reason is trimmed", NOTE + "Task 1.1 is [SEQUENTIAL] -   padded   \n", [("1.1", ["1.1"], "padded")]),
    ("letter case does not matter", "**execution note:** TASK 1.1 IS [sequential] - loud\n",
     [("1.1", ["1.1"], "loud")]),
    ("a colon after Tasks is not matched", NOTE + "Tasks: 1.1-1.2 are [SEQUENTIAL] - x\n", []),
    ("a colon outside the bold is not matched", "**Execution Note**: Tasks 1.1-1.2 are [SEQUENTIAL] - x\n", []),
    ("notes come in file order and overlap freely",
     NOTE + "Tasks 1.1-1.3 are [SEQUENTIAL] - first\n" + NOTE + "Tasks 1.3-1.4 are [SEQUENTIAL] - second\n",
     [("1.1-1.3", ["1.1", "1.2", "1.3"], "first"), ("1.3-1.4", ["1.3", "1.4"], "second")]),
    ("two notes on one line: the first swallows the second",
     NOTE + "Task 1.1 is [SEQUENTIAL] - one " + NOTE + "Task 1.2 is [SEQUENTIAL] - two\n",
     [("1.1", ["1.1"], "one " + NOTE + "Task 1.2 is [SEQUENTIAL] - two")]),
    # JavaScript's \s, \d, `.` and /i, not Python's:
    ("a no-break space and a byte order mark are JavaScript whitespace",
     "**Execution Note:**\ufeffTask\u00a01.1 is\u3000[SEQUENTIAL] - js space\n", [("1.1", ["1.1"], "js space")]),
    ("NEL is not JavaScript whitespace", "**Execution Note:**\x85Task 1.1 is [SEQUENTIAL] - x\n", []),
    ("a unit separator is not JavaScript whitespace", NOTE + "Task\x1f1.1 is [SEQUENTIAL] - x\n", []),
    ("non-ASCII digits are not JavaScript digits", NOTE + "Task \u0661.\u0661 is [SEQUENTIAL] - x\n", []),
    ("the long s does not match s case-insensitively", NOTE + "Ta\u017fk 1.1 is [SEQUENTIAL] - x\n", []),
    ("the Kelvin sign does not match k case-insensitively", NOTE + "Tas\u212a 1.1 is [SEQUENTIAL] - x\n", []),
    ("the dotless i does not match i case-insensitively", NOTE + "Task 1.1 \u0131s [SEQUENTIAL] - x\n", []),
    ("no notes, no constraints", "# Plan\n\n- [ ] 1.1 a\n", []),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in PARSE_CASES], ids=[case[0] for case in PARSE_CASES])
def test_parse_execution_notes_reads_what_the_seed_regex_reads(text: str, expected: list[tuple[str, list[str], str]]) -> None:
    wanted = [{"taskRange": task_range, "taskIds": ids, "reason": reason} for task_range, ids, reason in expected]
    assert parse_execution_notes(text) == wanted


EXPAND_CASES = [
    ("3.1-3.4", ["3.1", "3.2", "3.3", "3.4"]),
    ("3.2-3.2", ["3.2"]),
    ("3.1", ["3.1"]),
    ("3.1,3.3", ["3.1", "3.3"]),  # the seed plan's own example of a non-contiguous list
    ("03.1-03.4", ["3.1", "3.2", "3.3", "3.4"]),  # `${parseInt(phase)}.${i}`
    ("3.01-3.03", ["3.1", "3.2", "3.3"]),
    ("03.1-3.4", ["03.1", "3.4"]),  # phase strings differ: both ends as written
    ("1.3-2.2", ["1.3", "2.2"]),
    ("2.4-2.2", ["2.4", "2.2"]),
    ("03.1", ["03.1"]),
    ("3.1.1-3.1.3", []),
    ("3.1.1", []),
    ("3.1 - 3.4", []),
    ("3.1–3.4", []),
    ("3", []),
    ("3.1-", []),
    ("-3.1", []),
    ("", []),
    ("\u0663.\u0661", []),
]


@pytest.mark.parametrize(("range_text", "expected"), EXPAND_CASES, ids=[case[0] or "empty" for case in EXPAND_CASES])
def test_expand_task_range_follows_the_seed(range_text: str, expected: list[str]) -> None:
    assert expand_task_range(range_text) == expected


# -- properties over generated documents and plans ------------------------------

MISSING = "<missing>"  # the task has no such key at all
PHASE_POOL = [  # (phase value in status.json, the seed's number for it)
    ("Phase 1: Setup", 1), ("Phase 2: Build", 2), ("Phase 2.5: Extra", 2), ("Phase 3", 3),
    ("Phase  3: Spaced", 3), ("Phase 10: Release", 10), ("Phase 0: Prep", 0), ("Cleanup", 0),
    ("Unknown Phase", 0), ("", 0), (None, 0), (MISSING, 0),
]
STATUS_POOL = ["pending", "pending", "pending", "completed", "completed", "completed", "completed", "failed",
               "skipped", "in_progress", "blocked", MISSING]
ID_PHASES = [1, 2, 3, 10]


def task_ids() -> st.SearchStrategy[str]:
    two_level = st.builds("{}.{}".format, st.sampled_from(ID_PHASES), st.integers(1, 4))
    return st.one_of(two_level, st.sampled_from(["3.1.1", "03.1", "x"]))


@st.composite
def status_tasks(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 20 tasks over a few phases (so phases are large enough for the 80% rule to bite)."""
    allow_in_progress = draw(st.booleans())
    palette = draw(st.lists(st.sampled_from(PHASE_POOL), min_size=1, max_size=4))
    tasks = []
    for index in range(draw(st.integers(0, 20))):
        phase, _ = draw(st.sampled_from(palette))
        status = draw(st.sampled_from(STATUS_POOL))
        if status == "in_progress" and not allow_in_progress:
            status = "pending"
        task: dict[str, Any] = {"id": draw(task_ids())}
        if phase != MISSING:
            task["phase"] = phase
        task["description"] = f"task {index}"  # unique: identifies the task in the answer
        if status != MISSING:
            task["status"] = status
        tasks.append(task)
    return tasks


def range_texts() -> st.SearchStrategy[str]:
    phase, task = st.sampled_from(ID_PHASES), st.integers(1, 4)
    return st.one_of(
        st.builds("{}.{}".format, phase, task),
        st.builds(lambda p, a, b: f"{p}.{a}-{p}.{b}", phase, task, task),
        st.builds(lambda p, a, q, b: f"{p}.{a}-{q}.{b}", phase, task, phase, task),
        st.builds(lambda p, a, b: f"0{p}.{a}-0{p}.{b}", phase, task, task),
        st.builds(lambda p, a: f"{p}.{a}.1-{p}.{a}.3", phase, task),
        st.builds(lambda p, a, b: f"{p}.{a} - {p}.{b}", phase, task, task),
    )


REASON_SEPARATORS = [(" - ", ""), (" — ", ""), (" – ", ""), (" ", ""), (": ", ": ")]  # (text, kept in reason)
FILLER = ["## Phase 1: Setup", "", "- [ ] 1.1 Do a thing", "```markdown", "```", "**Tasks:**"]


@st.composite
def plans_with_notes(draw: st.DrawFn) -> tuple[str, list[tuple[str, list[str], str]]]:
    """A plan text, and the constraints the seed reads from it, derived from how it was written."""
    lines: list[str] = []
    constraints: list[tuple[str, list[str], str]] = []
    for _ in range(draw(st.integers(0, 5))):
        lines.extend(draw(st.lists(st.sampled_from(FILLER), max_size=3)))
        kind = draw(st.sampled_from(["read", "read", "read", "joined with and", "en dash"]))
        ranges = draw(st.lists(range_texts(), min_size=2 if kind == "joined with and" else 1, max_size=3))
        reason = draw(st.from_regex(r"[a-z][a-z0-9 ]{0,15}", fullmatch=True))
        separator, kept = draw(st.sampled_from(REASON_SEPARATORS))
        verb = draw(st.sampled_from(["are", "is"]))
        word = draw(st.sampled_from(["Tasks", "Task"]))
        if kind == "joined with and":
            listed = " and ".join(ranges)
        elif kind == "en dash":
            listed = ", ".join(ranges) + ", 1.1–1.2"
        else:
            listed = draw(st.sampled_from([", ", ","])).join(ranges)
            for written in ranges:
                ids = expand_independently(written)
                if ids:
                    constraints.append((written.strip(), ids, (kept + reason).strip()))
        lines.append(f"**Execution Note:** {word} {listed} {verb} [SEQUENTIAL]{separator}{reason}")
        lines.append(draw(st.sampled_from(FILLER)))
    return "\n".join(lines) + "\n", constraints


def is_two_level_id(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 2 and all(part and part.isascii() and part.isdigit() for part in parts)


def expand_independently(range_text: str) -> list[str]:
    """The seed's expandTaskRange, restated from its rules."""
    text = range_text.strip()
    if not text:
        return []
    if "," in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    if text.count("-") == 1:
        start, end = text.split("-")
        if is_two_level_id(start) and is_two_level_id(end):
            start_phase, start_task = start.split(".")
            end_phase, end_task = end.split(".")
            if start_phase == end_phase and int(start_task) <= int(end_task):
                return [f"{int(start_phase)}.{number}" for number in range(int(start_task), int(end_task) + 1)]
            return [start, end]
    return [text] if is_two_level_id(text) else []


def metadata_independently(task_id: Any, constraints: list[tuple[str, list[str], str]]) -> dict[str, Any]:
    """The seed's getConstraintMetadata: the first constraint naming the id."""
    for task_range, ids, reason in constraints:
        if task_id in ids:
            return {"sequential": True, "sequentialGroup": task_range, "sequentialReason": reason}
    return {"sequential": False}


class SeedPhases:
    """The tasks grouped and ordered as the seed's rules say, computed without the module under test."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        numbers = {name: number for name, number in PHASE_POOL if name not in (None, "", MISSING)}
        self.members: dict[str, list[dict[str, Any]]] = {}
        for task in tasks:
            self.members.setdefault(task.get("phase") or "Unknown Phase", []).append(task)
        self.number = {name: numbers[name] for name in self.members}
        self.order = sorted(self.members, key=lambda name: self.number[name])  # stable: first appearance

    def tasks_in_order(self, status: str) -> list[dict[str, Any]]:
        return [task for name in self.order for task in self.members[name] if task.get("status") == status]

    def phase_of(self, task: dict[str, Any]) -> str:
        return task.get("phase") or "Unknown Phase"

    def is_open(self, name: str) -> bool:
        earlier = [other for other in self.order if self.number[other] < self.number[name]]
        unfinished = any(task.get("status") in ("pending", "in_progress") for other in earlier for task in self.members[other])
        mostly_done = all(
            len([task for task in self.members[other] if task.get("status") in ("completed", "skipped")])
            >= len(self.members[other]) * 0.8
            for other in earlier
        )
        return not unfinished or mostly_done


def descriptions(tasks: list[dict[str, Any]]) -> list[str]:
    return [task["description"] for task in tasks]


def test_a_later_phase_opens_exactly_at_80_percent_completed_or_skipped_of_an_unfinished_earlier_one() -> None:
    """Every mix of up to 12 completed, 4 skipped, 4 failed and 1-4 pending tasks in phase 1."""
    wrong = []
    for completed in range(13):
        for skipped in range(5):
            for failed in range(5):
                for pending in range(1, 5):
                    statuses = ["completed"] * completed + ["skipped"] * skipped + ["failed"] * failed + ["pending"] * pending
                    tasks = [{"id": f"1.{number}", "phase": "Phase 1: A", "description": "", "status": status}
                             for number, status in enumerate(statuses, 1)]
                    tasks.append({"id": "2.1", "phase": "Phase 2: B", "description": "", "status": "pending"})
                    answer = select_next_seed({"tasks": tasks}, None, 100)
                    opened = "2.1" in [entry["id"] for entry in answer["tasks"]]
                    if opened != (5 * (completed + skipped) >= 4 * len(statuses)):
                        wrong.append((completed, skipped, failed, pending, opened))
    assert wrong == []


PROPERTY_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(tasks=status_tasks(), plan=plans_with_notes(), count=st.integers(0, 8))
def test_seed_answer_obeys_every_rule_on_generated_documents(
    tasks: list[dict[str, Any]], plan: tuple[str, list[tuple[str, list[str], str]]], count: int
) -> None:
    plan_text, constraints = plan
    answer = select_next_seed({"tasks": tasks}, plan_text, count)
    phases = SeedPhases(tasks)
    chosen = answer["tasks"]
    by_description = {task["description"]: task for task in tasks}

    assert list(answer) == ["count", "tasks"]
    assert answer["count"] == len(chosen)  # (c)
    for entry in chosen:
        task = by_description[entry["description"]]
        metadata = metadata_independently(task["id"], constraints)  # (f)
        assert entry == {"id": task["id"], "description": task["description"],
                         "phase": phases.number[phases.phase_of(task)], "status": task["status"],
                         "reason": entry["reason"], **metadata}
        assert list(entry) == ["id", "description", "phase", "status", "reason", *metadata]

    in_progress = phases.tasks_in_order("in_progress")
    if in_progress:  # (a)
        assert descriptions(chosen) == descriptions(in_progress[:count])
        assert {entry["reason"] for entry in chosen} <= {IN_PROGRESS}
        return

    failed = phases.tasks_in_order("failed")  # (b)
    assert descriptions(chosen[:len(failed)]) == descriptions(failed)
    assert {entry["reason"] for entry in chosen[:len(failed)]} <= {FAILED}

    pending = chosen[len(failed):]
    assert {entry["reason"] for entry in pending} <= {PENDING}
    assert all(phases.is_open(phases.phase_of(by_description[entry["description"]])) for entry in pending)  # (d)
    room = max(0, count - len(failed))  # (e): never past N with the failed ones, unless those alone pass it
    open_pending = [task for name in phases.order if phases.is_open(name)
                    for task in phases.members[name] if task.get("status") == "pending"]
    assert descriptions(pending) == descriptions(open_pending[:room])  # phase then document order, and no gaps


@PROPERTY_SETTINGS
@given(plan=plans_with_notes())
def test_parse_execution_notes_matches_the_notes_as_written(plan: tuple[str, list[tuple[str, list[str], str]]]) -> None:
    plan_text, constraints = plan
    wanted = [{"taskRange": task_range, "taskIds": ids, "reason": reason} for task_range, ids, reason in constraints]
    assert parse_execution_notes(plan_text) == wanted


@PROPERTY_SETTINGS
@given(range_text=st.one_of(range_texts(), st.from_regex(r"[0-9.,\- ]{0,12}", fullmatch=True)))
def test_expand_task_range_matches_the_plain_restatement(range_text: str) -> None:
    assert expand_task_range(range_text) == expand_independently(range_text)
