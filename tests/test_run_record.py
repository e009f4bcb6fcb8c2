"""What a run writes (``plan_tasks.run.record``) and reports (``plan_tasks.run.report``).

A run's record is status.json (exactly as the marking commands write it),
findings files and, with ``--update-plan``, ticked checkboxes in the plan.
Every test works on a real project directory holding a copy of
``fixtures/run/record/demo.md``; ``tasks_to_run`` is checked on the same plan.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.cli.main import main
from plan_tasks.errors import PlanError
from plan_tasks.graph import build_graph
from plan_tasks.load import load_plan, load_text
from plan_tasks.model import Plan
from plan_tasks.run.record import RunRecord, tasks_to_run
from plan_tasks.run.report import RunReporter
from plan_tasks.run.scheduler import Progress
from plan_tasks.status.paths import resolve_plan

DEMO = Path(__file__).parent / "fixtures" / "run" / "record" / "demo.md"
PLAN_REF = "docs/plans/demo.md"
ISO_MILLISECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(DEMO, root / PLAN_REF)
    return root


def record_for(root: Path, *, update_plan: bool = False) -> RunRecord:
    paths = resolve_plan(PLAN_REF, str(root))
    return RunRecord(paths, load_plan(str(paths.plan)).plan, update_plan=update_plan)


def begun(root: Path, *, update_plan: bool = False) -> RunRecord:
    record = record_for(root, update_plan=update_plan)
    record.begin()
    return record


def status_of(record: RunRecord) -> dict[str, Any]:
    return json.loads(record.paths.status_file.read_text(encoding="utf-8"))


def entry(record: RunRecord, task_id: str) -> dict[str, Any]:
    return next(task for task in status_of(record)["tasks"] if task["id"] == task_id)


# -- begin and end ---------------------------------------------------------------------------


def test_begin_creates_status_json_and_records_a_run(project: Path) -> None:
    record = record_for(project)
    snapshot = record.begin()
    document = status_of(record)
    assert record.paths.status_file == project / "docs" / "plan-outputs" / "demo" / "status.json"
    assert [(task["id"], task["status"]) for task in document["tasks"]] == [
        ("1.1", "pending"), ("1.2", "pending"), ("1.3", "completed"), ("2.1", "pending"), ("2.2", "pending"),
        ("3.1", "pending"), ("3.1.1", "pending")]
    assert snapshot == {"tasks": document["tasks"]}
    [run] = document["runs"]
    assert run["runId"] == record.run_id and ISO_MILLISECONDS.match(run["startedAt"])
    assert "completedAt" not in run
    assert document["planTasks"]["planHash"] == hashlib.sha256((project / PLAN_REF).read_bytes()).hexdigest()
    assert record.paths.findings_dir.is_dir() and record.paths.timestamps_dir.is_dir()


def test_begin_resyncs_an_existing_status_json_and_keeps_statuses(project: Path) -> None:
    first = begun(project)
    first.completed("1.1", None)
    plan = project / PLAN_REF
    plan.write_text(plan.read_text() + "- [ ] 3.1.2 Announce the patch\n")
    second = record_for(project)
    snapshot = second.begin()
    statuses = {task["id"]: task["status"] for task in snapshot["tasks"]}
    assert (statuses["1.1"], statuses["3.1.2"]) == ("completed", "pending")
    document = status_of(second)
    assert [run["runId"] for run in document["runs"]] == [first.run_id, second.run_id]
    assert document["planTasks"]["planHash"] == hashlib.sha256(plan.read_bytes()).hexdigest()


def test_end_completes_the_run_with_its_counts(project: Path) -> None:
    record = begun(project)
    record.end(completed=4, failed=1)
    [run] = status_of(record)["runs"]
    assert (run["completed"], run["failed"], run["tasksCompleted"], run["tasksFailed"]) == (4, 1, 4, 1)
    assert ISO_MILLISECONDS.match(run["completedAt"])


def test_end_before_begin_writes_nothing(project: Path) -> None:
    record = record_for(project)
    record.end(completed=1, failed=0)
    assert not record.paths.status_file.exists()


# -- task events -----------------------------------------------------------------------------


def test_started_marks_the_task_in_progress_without_a_retry_count(project: Path) -> None:
    record = begun(project)
    record.started("1.1")
    task = entry(record, "1.1")
    assert task["status"] == "in_progress" and ISO_MILLISECONDS.match(task["startedAt"])
    assert "retryCount" not in task
    assert status_of(record)["summary"]["in_progress"] == 1


def test_a_runs_start_mark_is_on_disk_before_started_returns(project: Path) -> None:
    import threading

    from plan_tasks.status.store import locked

    paths = resolve_plan(PLAN_REF, str(project))
    record = RunRecord(paths, load_plan(str(paths.plan)).plan, deferred=True)
    record.begin()
    returned = threading.Event()
    starter = threading.Thread(target=lambda: (record.started("1.1"), returned.set()))
    try:
        with locked(paths):  # the writer cannot write: started() must not return yet
            starter.start()
            assert not returned.wait(0.5)
            assert entry(record, "1.1")["status"] == "pending"
        assert returned.wait(30)
        assert entry(record, "1.1")["status"] == "in_progress"
        record.completed("1.2", None)  # ends are written behind: no wait
    finally:
        starter.join(30)
        record.close()
    assert entry(record, "1.2")["status"] == "completed"


@pytest.mark.parametrize(("attempt", "retries"), [(2, 1), (3, 2)])
def test_started_again_counts_the_retries(project: Path, attempt: int, retries: int) -> None:
    record = begun(project)
    record.started("1.1", attempt=1)
    record.started("1.1", attempt=attempt)
    assert entry(record, "1.1")["retryCount"] == retries


def test_failed_stores_the_error_and_its_category(project: Path) -> None:
    record = begun(project)
    record.started("1.2", attempt=1)
    record.failed("1.2", "exit code 1\nboom", "permanent", attempt=1)
    task = entry(record, "1.2")
    assert (task["status"], task["error"], task["lastError"]) == ("failed", "exit code 1\nboom", "exit code 1\nboom")
    assert task["planTasks"] == {"failureCategory": "permanent"}
    assert task["retryCount"] == 0 and ISO_MILLISECONDS.match(task["lastErrorAt"])
    assert status_of(record)["summary"]["failed"] == 1


def test_failed_after_retries_keeps_the_retry_count_and_the_last_category(project: Path) -> None:
    record = begun(project)
    record.started("1.2", attempt=1)
    record.failed("1.2", "overloaded", "transient", attempt=1)
    record.started("1.2", attempt=3)
    record.failed("1.2", "x" * 5000 + "the end", "permanent", attempt=3)
    task = entry(record, "1.2")
    assert task["retryCount"] == 2 and task["planTasks"]["failureCategory"] == "permanent"
    assert len(task["error"]) == 4000 and task["error"].endswith("the end") and task["lastError"] == task["error"]


def test_completed_writes_the_findings_file_and_clears_the_error(project: Path) -> None:
    record = begun(project)
    record.started("2.1")
    record.failed("2.1", "flaky", "transient", attempt=1)
    record.started("2.1", attempt=2)
    record.completed("2.1", "Wired `plan-tasks run`.\n")
    findings = project / "docs" / "plan-outputs" / "demo" / "findings" / "2-1.md"
    assert findings.read_text() == "Wired `plan-tasks run`.\n"
    task = entry(record, "2.1")
    assert task["status"] == "completed" and task["findingsPath"] == "docs/plan-outputs/demo/findings/2-1.md"
    assert "error" not in task and isinstance(task["duration"], int)
    assert record.findings_of(["1.1", "2.1"]) == {"2.1": "Wired `plan-tasks run`.\n"}


def test_completed_without_findings_writes_no_findings_file(project: Path) -> None:
    record = begun(project)
    record.completed("3.1.1", None)
    assert "findingsPath" not in entry(record, "3.1.1")
    assert list(record.paths.findings_dir.iterdir()) == []


def test_skipped_sets_each_reason_and_its_failed_cause(project: Path) -> None:
    record = begun(project)
    record.skipped(["1.2", "2.1"], {"1.2": "depends on failed task 1.1", "2.1": "depends on failed task 1.1"},
                   {"1.2": "1.1", "2.1": "1.1"})
    for task_id in ("1.2", "2.1"):
        task = entry(record, task_id)
        assert (task["status"], task["skipReason"]) == ("skipped", "depends on failed task 1.1")
        assert task["planTasks"] == {"skipCause": "failure", "skippedBecauseOf": "1.1"}
    assert status_of(record)["summary"]["skipped"] == 2


def test_a_skipped_task_that_starts_again_loses_its_skip_fields(project: Path) -> None:
    record = begun(project)
    record.skipped(["1.2"], {"1.2": "depends on failed task 1.1"}, {"1.2": "1.1"})
    record.started("1.2")
    task = entry(record, "1.2")
    assert task["status"] == "in_progress"
    assert "skipReason" not in task and "planTasks" not in task


def test_interrupted_puts_a_task_back_to_pending_with_a_note(project: Path) -> None:
    record = begun(project)
    record.started("1.1")
    record.interrupted("1.1", "interrupted by Ctrl-C")
    task = entry(record, "1.1")
    assert (task["status"], task["notes"]) == ("pending", "interrupted by Ctrl-C")
    assert record.was_started("1.1") and not record.was_started("1.2")


def test_log_attempt_appends_every_attempt_under_a_heading(project: Path) -> None:
    record = begun(project)
    first = record.log_attempt("2.1", 1, "failed, transient: exit code 75", "compiler error: missing semicolon\n")
    second = record.log_attempt("2.1", 2, "completed", "ok")
    assert first == second == record.paths.output_dir / "logs" / "2.1.log"
    text = first.read_text(encoding="utf-8")
    assert text.count("===== ") == 2
    assert "task 2.1 attempt 1\ncompiler error: missing semicolon\n----- " in text
    assert "task 2.1 attempt 1: failed, transient: exit code 75\n" in text
    assert text.endswith("task 2.1 attempt 2: completed\n")
    assert "task 2.1 attempt 2\nok\n----- " in text


def test_streamed_output_is_kept_and_not_written_again(project: Path) -> None:
    record = begun(project)
    log = record.begin_attempt_log("2.1", 1)
    with open(log.path, "ab") as file:  # what executors.process does while the task runs
        file.write(b"line one\nno newline at the end")
    record.end_attempt_log(log, "completed", "the tail, already in the file")
    text = log.path.read_text(encoding="utf-8")
    assert "attempt 1\nline one\nno newline at the end\n----- " in text
    assert "already in the file" not in text


def test_skipped_with_no_tasks_writes_nothing(project: Path) -> None:
    record = record_for(project)
    record.skipped([], {}, {})
    assert not record.paths.status_file.exists()


# -- ticking the plan (--update-plan) ------------------------------------------------------------


def ticked(text: str, line: str) -> str:
    assert text.count(line) == 1, line
    return text.replace(line, line.replace("[ ]", "[x]", 1))


@pytest.mark.parametrize(("task_id", "line"), [
    ("1.2", "- [ ] 1.2 Add the parser"),
    ("2.1", "- [ ] **2.1** Wire the CLI"),
    ("2.2", "- [ ] 2.2: Document it"),
    ("3.1", "- [ ] 3.1 Release"),
], ids=["plain id", "bold id", "id with a colon", "id that prefixes a later one"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_update_plan_ticks_exactly_that_task_line(project: Path, task_id: str, line: str, newline: str) -> None:
    plan = project / PLAN_REF
    original = DEMO.read_text().replace("\n", newline)
    plan.write_bytes(original.encode())
    record = begun(project, update_plan=True)
    record.completed(task_id, None)
    assert plan.read_bytes() == ticked(original, line).encode()


def test_update_plan_keeps_status_json_in_sync_with_the_ticked_plan(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = begun(project, update_plan=True)
    record.completed("1.1", None)
    plan_bytes = (project / PLAN_REF).read_bytes()
    assert b"- [x] 1.1 Create the package" in plan_bytes
    assert status_of(record)["planTasks"]["planHash"] == hashlib.sha256(plan_bytes).hexdigest()
    assert main(["next", "--plan", PLAN_REF, "--root", str(project)]) == 0
    assert "changed since" not in capsys.readouterr().err


def test_update_plan_keeps_a_plan_edited_by_someone_else_out_of_sync(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = begun(project, update_plan=True)
    plan = project / PLAN_REF
    plan.write_text(plan.read_text() + "- [ ] 3.1.2 Added during the run\n")
    record.completed("1.1", None)
    assert b"- [x] 1.1 Create the package" in plan.read_bytes()
    assert status_of(record)["planTasks"]["planHash"] != hashlib.sha256(plan.read_bytes()).hexdigest()
    assert main(["next", "--plan", PLAN_REF, "--root", str(project)]) == 0
    assert "changed since status.json was synced" in capsys.readouterr().err


@pytest.mark.parametrize("replacement", [
    "- [ ] 1.4 Follow up on 1.2",
    "- [ ] 1.20 A later task",
    "- [ ] 1.2.1 A step of it",
    "- [x] 1.2 Add the parser",
    "Some prose that mentions 1.2",
], ids=["another task mentioning the id", "a longer id", "a step id", "already ticked", "not a task"])
def test_update_plan_leaves_a_line_that_no_longer_holds_the_task(project: Path, replacement: str) -> None:
    record = begun(project, update_plan=True)
    plan = project / PLAN_REF
    edited = plan.read_text().replace("- [ ] 1.2 Add the parser", replacement)
    plan.write_text(edited)
    record.completed("1.2", None)
    assert plan.read_text() == edited
    assert entry(record, "1.2")["status"] == "completed"


def test_update_plan_leaves_the_plan_alone_when_its_lines_moved(project: Path) -> None:
    record = begun(project, update_plan=True)
    plan = project / PLAN_REF
    edited = "<!-- a line added on top -->\n" + plan.read_text()
    plan.write_text(edited)
    record.completed("1.2", None)
    assert plan.read_text() == edited


def test_without_update_plan_the_plan_is_never_touched(project: Path) -> None:
    record = begun(project)
    record.completed("1.1", "done")
    assert (project / PLAN_REF).read_bytes() == DEMO.read_bytes()


# -- which tasks a run executes ------------------------------------------------------------------

STATUSES = {"1.1": "completed", "1.2": "in_progress", "1.3": "skipped", "2.1": "failed"}


@pytest.fixture(scope="module")
def demo_plan() -> Plan:
    return load_plan(str(DEMO)).plan


def snapshot_with(plan: Plan, statuses: dict[str, str]) -> dict[str, Any]:
    return {"tasks": [{"id": task.id, "status": statuses.get(task.id, "pending")} for task in plan.tasks]}


@pytest.mark.parametrize(("selection", "expected"), [
    ((), ["1.2", "2.1", "2.2", "3.1", "3.1.1"]),
    (("all",), ["1.2", "2.1", "2.2", "3.1", "3.1.1"]),
    (("2.2", "1.2"), ["2.2", "1.2"]),
    (("1.1", "1.3", "3.1"), ["1.1", "1.3", "3.1"]),  # a task named by id runs whatever its status
    (("phase:2",), ["2.1", "2.2"]),
    (("p:2",), ["2.1", "2.2"]),
    (("Phase:2",), ["2.1", "2.2"]),
    (("phase:3.1",), ["3.1.1"]),
    (("phase:3",), ["3.1"]),  # the phase labelled 3; `Phase 3.1` is selected by `phase:3.1`
    (("phase:1",), ["1.2"]),
    (("2.2", "phase:2", "2.2"), ["2.2", "2.1"]),
], ids=lambda value: " ".join(value) if isinstance(value, tuple) else None)
def test_tasks_to_run_selects_unfinished_tasks(demo_plan: Plan, selection: tuple[str, ...],
                                               expected: list[str]) -> None:
    assert tasks_to_run(demo_plan, snapshot_with(demo_plan, STATUSES), selection) == expected


def skipped_entry(task_id: str, cause: str | None, reason: str = "why") -> dict[str, Any]:
    entry: dict[str, Any] = {"id": task_id, "status": "skipped", "skipReason": reason}
    if cause is not None:
        entry["planTasks"] = {"skipCause": cause}
    return entry


@pytest.mark.parametrize(("entries", "expected"), [
    # 2.1 failed, its dependants 2.2 and 3.1 were skipped for it: all three run again.
    ({"2.1": {"status": "failed"}, "2.2": skipped_entry("2.2", "failure"), "3.1": skipped_entry("3.1", "failure")},
     ["1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.1.1"]),
    # skipped on purpose (mark-skipped, the plan): stays skipped.
    ({"2.2": skipped_entry("2.2", "manual"), "3.1": skipped_entry("3.1", "plan")},
     ["1.1", "1.2", "1.3", "2.1", "3.1.1"]),
    # written before skipCause existed: the run's own reason says it was a failure.
    ({"2.1": {"status": "completed"}, "2.2": skipped_entry("2.2", None, "depends on failed task 2.1")},
     ["1.1", "1.2", "1.3", "2.2", "3.1", "3.1.1"]),
    ({"2.2": skipped_entry("2.2", None, "not needed")}, ["1.1", "1.2", "1.3", "2.1", "3.1", "3.1.1"]),
], ids=["failure-skipped run again", "skipped on purpose stay", "legacy failure reason", "legacy manual reason"])
def test_tasks_to_run_reruns_tasks_skipped_because_of_a_failure(demo_plan: Plan, entries: dict[str, Any],
                                                               expected: list[str]) -> None:
    snapshot = {"tasks": [{"id": task.id, "status": "pending", **entries.get(task.id, {})}
                          for task in demo_plan.tasks]}
    graph = build_graph(demo_plan)
    assert tasks_to_run(demo_plan, snapshot, (), graph.predecessors) == expected


CHAIN = """# Plan: Chain

## Phase 1: One

- [ ] 1.1 Build the base
- [ ] 1.2 Build the rest (depends on 1.1)

## Phase 2: Two

- [ ] 2.1 Use the base (depends on 1.1)
- [ ] 2.2 Use it more (depends on 2.1)
"""


def test_a_failure_skipped_task_stays_skipped_while_its_cause_is_outside_the_run() -> None:
    loaded = load_text(CHAIN, "chain.md")
    snapshot = {"tasks": [{"id": "1.1", "status": "failed"}, {"id": "1.2", "status": "pending"},
                          skipped_entry("2.1", "failure"), skipped_entry("2.2", "failure")]}
    predecessors = loaded.graph.predecessors
    # 1.1 is not run by `phase:2`: what 2.1 and 2.2 were skipped for remains.
    assert tasks_to_run(loaded.plan, snapshot, ("phase:2",), predecessors) == []
    assert tasks_to_run(loaded.plan, snapshot, (), predecessors) == ["1.1", "1.2", "2.1", "2.2"]
    # Named by id, a task runs whatever its status and whatever it waits for.
    assert tasks_to_run(loaded.plan, snapshot, ("2.2",), predecessors) == ["2.2"]


@pytest.mark.parametrize(("selector", "message", "hint"), [
    ("3.1.2", "no task 3.1.2 in", "did you mean 3.1.1?"),
    ("deploy", "no task deploy in", "select tasks by id, `phase:N` or `p:N`"),
    ("phase:7", "no phase 7 in", "phases are: 1, 2, 3, 3.1"),
    ("p:3.2", "no phase 3.2 in", "phases are: 1, 2, 3, 3.1"),
])
def test_tasks_to_run_names_the_fix_for_an_unknown_selector(demo_plan: Plan, selector: str, message: str,
                                                            hint: str) -> None:
    with pytest.raises(PlanError) as caught:
        tasks_to_run(demo_plan, snapshot_with(demo_plan, {}), ("1.1", selector))
    assert caught.value.message.startswith(message) and caught.value.hint == hint


# -- the reporter --------------------------------------------------------------------------------------


def test_reporter_writes_terminal_lines_json_lines_and_events(tmp_path: Path) -> None:
    events_file = tmp_path / "events.jsonl"
    events_file.write_text('{"event": "from an earlier run"}\n')
    progress = Progress(total=3)
    stream = io.StringIO()
    emitted: list[tuple[str, dict[str, Any]]] = []
    reporter = RunReporter("demo", progress, 2, events_jsonl=str(events_file),
                           emit=lambda kind, record: emitted.append((kind, record)), stream=stream)

    progress.running = 1
    reporter.task_event("started", "1.1", "Create the package", attempt=1)
    reporter.task_event("retrying", "1.1", "Create the package", attempt=2, error="overloaded", category="transient")
    progress.running, progress.completed, progress.durations = 0, 1, [3.0]
    reporter.task_event("completed", "1.1", "Create the package", duration_seconds=3.04)
    progress.failed = 1
    reporter.task_event("failed", "1.2", "Add the parser", error="exit code 1\ntrace", category="permanent")
    progress.skipped = 1
    reporter.task_event("skipped", "2.1", "Wire the CLI", reason="depends on failed task 1.2")
    reporter.close()

    assert stream.getvalue().splitlines() == [
        f"{'[0/3] 1 running, 0 failed':<40} ▶ 1.1 Create the package",
        f"{'[0/3] 1 running, 0 failed':<40} ↻ 1.1 Create the package  transient: overloaded",
        f"{'[1/3] 0 running, 0 failed, ETA 3 s':<40} ✓ 1.1 Create the package  3.0 s",
        f"{'[2/3] 0 running, 1 failed, ETA 2 s':<40} ✗ 1.2 Add the parser  permanent: exit code 1",
        f"{'[3/3] 0 running, 1 failed':<40} ⊘ 2.1 Wire the CLI  (depends on failed task 1.2)",
    ]
    lines = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert lines[0] == {"event": "from an earlier run"}
    records = lines[1:]
    assert [kind for kind, _ in emitted] == ["started", "completed", "failed", "skipped"]
    assert [record for _, record in emitted] == [records[0], records[2], records[3], records[4]]
    assert [record["event"] for record in records] == [
        "plan.task.started", "plan.task.retrying", "plan.task.completed", "plan.task.failed", "plan.task.skipped"]
    for record in records:
        assert ISO_MILLISECONDS.match(record.pop("occurred"))
        assert record["plan"] == "demo"
    assert records[3] == {"event": "plan.task.failed", "plan": "demo", "task": "1.2", "title": "Add the parser",
                          "error": "exit code 1\ntrace", "category": "permanent"}


def test_reporter_without_a_json_lines_file_or_callback_writes_the_terminal_only(tmp_path: Path) -> None:
    stream = io.StringIO()
    reporter = RunReporter("demo", Progress(total=1), 1, stream=stream)
    reporter.task_event("started", "1.1", "A title longer than seventy characters " * 3)
    reporter.close()
    [line] = stream.getvalue().splitlines()
    assert line.endswith("▶ 1.1 " + ("A title longer than seventy characters " * 3)[:70])
    assert list(tmp_path.iterdir()) == []


def test_phase_selector_falls_back_to_the_seeds_phase_number_when_no_label_matches(tmp_path: Path) -> None:
    from plan_tasks.load import load_text
    from plan_tasks.run.record import tasks_to_run

    plan = load_text("# P\n## Phase 3.1: A\n- [ ] 3.1.1 a\n## Phase 3.2: B\n- [ ] 3.2.1 b\n", "p.md").plan
    snapshot = {"tasks": [{"id": "3.1.1", "status": "pending"}, {"id": "3.2.1", "status": "pending"}]}
    assert tasks_to_run(plan, snapshot, ("phase:3",)) == ["3.1.1", "3.2.1"]


def test_a_deferred_record_writes_changes_in_order_with_the_times_they_happened(project: Path) -> None:
    paths = resolve_plan(PLAN_REF, str(project))
    record = RunRecord(paths, load_plan(str(paths.plan)).plan, deferred=True)
    record.begin()
    record.started("1.1")
    record.completed("1.1", "done")
    record.started("1.2")
    record.failed("1.2", "boom", "permanent", 1)
    record.skipped(["2.1"], {"2.1": "depends on failed task 1.2"}, {"2.1": "1.2"})
    assert record.end(1, 1) == []
    record.close()
    tasks = {task["id"]: task for task in status_of(record)["tasks"]}
    assert [tasks[t]["status"] for t in ("1.1", "1.2", "2.1")] == ["completed", "failed", "skipped"]
    assert tasks["1.1"]["startedAt"] <= tasks["1.1"]["completedAt"] <= tasks["1.2"]["startedAt"]
    assert tasks["2.1"]["skipReason"] == "depends on failed task 1.2"
    assert status_of(record)["runs"][-1]["completed"] == 1


def test_a_deferred_record_reports_a_change_it_could_not_apply_and_keeps_the_others(project: Path) -> None:
    paths = resolve_plan(PLAN_REF, str(project))
    record = RunRecord(paths, load_plan(str(paths.plan)).plan, deferred=True)
    record.begin()
    record.started("9.9")  # not in status.json
    record.started("1.1")
    errors = record.end(0, 0)
    record.close()
    assert errors == ["task 9.9 is not in status.json"]
    assert {task["id"]: task["status"] for task in status_of(record)["tasks"]}["1.1"] == "in_progress"


class CountingLookups(dict):  # type: ignore[type-arg]
    """The graph's predecessor lists, counting how often they are looked up."""

    lookups = 0

    def get(self, key: Any, default: Any = None) -> Any:
        CountingLookups.lookups += 1
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        CountingLookups.lookups += 1
        return super().__getitem__(key)


def test_dropping_failure_skipped_tasks_whose_cause_remains_is_linear() -> None:
    """A chain of failure-skipped tasks behind a failed task outside the run, each
    waiting for the next id up (2.399 for 2.400...): a loop of passes over the
    ids in sorted order until nothing changes drops one task per pass."""

    def lookups_for(length: int) -> int:
        lines = ["# Plan: Chain", "", "## Phase 1: Cause", "", "- [ ] 1.1 Fails", "", "## Phase 2: Chain", ""]
        ids = [f"2.{number:03d}" for number in range(length, 0, -1)]  # 2.400 first: each waits for the one before
        previous = "1.1"
        for task_id in ids:
            lines.append(f"- [ ] {task_id} Step (depends on {previous})")
            previous = task_id
        loaded = load_text("\n".join(lines) + "\n", "chain.md")
        snapshot = {"tasks": [{"id": "1.1", "status": "failed"}] + [skipped_entry(task_id, "failure")
                                                                       for task_id in ids]}
        predecessors = CountingLookups(loaded.graph.predecessors)
        CountingLookups.lookups = 0
        assert tasks_to_run(loaded.plan, snapshot, ("phase:2",), predecessors) == []
        return CountingLookups.lookups

    small, large = lookups_for(100), lookups_for(400)  # linear: about 4x; a pass per task: 16x
    assert large <= 6 * small, (small, large)
