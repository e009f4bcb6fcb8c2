"""The status.json schema and its changes, as pure functions on dicts
(``plan_tasks.status.document``): the seed's ``updateTaskStatus``,
``startRun``/``completeRun``, ``incrementRetryCount``, ``getRetryableTasks``
and ``getExhaustedTasks``, with timestamps as JavaScript writes them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from plan_tasks.status import document as doc

JS_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PHASE_1 = "Phase 1: Foundations"
PHASE_2 = "Phase 2: Wiring"


def make_document() -> doc.Document:
    entries = [
        doc.PlanTaskEntry("1.1", PHASE_1, "Write the README", checked=True),
        doc.PlanTaskEntry("1.2", PHASE_1, "Create the schema"),
        doc.PlanTaskEntry("1.3", PHASE_1, "Add the loader"),
        doc.PlanTaskEntry("2.1", PHASE_2, "Wire the CLI"),
        doc.PlanTaskEntry("2.2", PHASE_2, "Document the CLI"),
    ]
    return doc.new_document("docs/plans/p.md", "P", entries, "hash-1")


def task(document: doc.Document, task_id: str) -> dict:
    return next(entry for entry in document["tasks"] if entry["id"] == task_id)


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def js_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- timestamps and new documents -----------------------------------------------


def test_now_iso_is_written_like_javascript_to_iso_string() -> None:
    stamp = doc.now_iso()
    assert JS_ISO.match(stamp), stamp
    assert abs(parse_iso(stamp) - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_new_document_starts_checked_tasks_completed_and_the_others_pending() -> None:
    statuses = {entry["id"]: entry["status"] for entry in make_document()["tasks"]}
    assert statuses == {"1.1": "completed", "1.2": "pending", "1.3": "pending", "2.1": "pending", "2.2": "pending"}


def test_new_document_counts_its_tasks_in_the_summary() -> None:
    assert make_document()["summary"] == {
        "totalTasks": 5, "completed": 1, "pending": 4, "in_progress": 0, "failed": 0, "skipped": 0,
    }


# -- set_status ---------------------------------------------------------------


def test_mark_started_sets_started_at_and_status_in_progress() -> None:
    document = make_document()
    doc.set_status(document, "1.2", "in_progress")
    record = task(document, "1.2")
    assert record["status"] == "in_progress"
    assert JS_ISO.match(record["startedAt"])
    assert "completedAt" not in record and "duration" not in record


def test_mark_started_twice_keeps_the_first_started_at() -> None:
    document = make_document()
    doc.set_status(document, "1.2", "in_progress")
    task(document, "1.2")["startedAt"] = "2020-01-01T00:00:00.000Z"
    doc.set_status(document, "1.2", "in_progress")
    assert task(document, "1.2")["startedAt"] == "2020-01-01T00:00:00.000Z"


@pytest.mark.parametrize("status", ["completed", "failed", "skipped"])
def test_finishing_a_started_task_sets_completed_at_and_an_integer_duration(status: str) -> None:
    document = make_document()
    doc.set_status(document, "1.2", "in_progress")
    doc.set_status(document, "1.2", status)
    record = task(document, "1.2")
    assert record["status"] == status
    assert JS_ISO.match(record["completedAt"])
    assert isinstance(record["duration"], int) and record["duration"] >= 0


def test_duration_is_the_milliseconds_from_started_at_to_completed_at() -> None:
    document = make_document()
    started_at = js_iso(datetime.now(timezone.utc) - timedelta(seconds=90, milliseconds=250))
    started = parse_iso(started_at)
    record = task(document, "1.3")
    record.update(status="in_progress", startedAt=started_at)
    doc.set_status(document, "1.3", "completed")
    expected = round((parse_iso(record["completedAt"]) - started).total_seconds() * 1000)
    assert record["duration"] == expected
    assert 90_250 <= record["duration"] < 100_000


def test_finishing_a_task_that_never_started_sets_completed_at_but_no_duration() -> None:
    # The seed's updateTaskStatus computes a duration only from a startedAt.
    document = make_document()
    doc.set_status(document, "1.2", "completed")
    record = task(document, "1.2")
    assert JS_ISO.match(record["completedAt"])
    assert "duration" not in record and "startedAt" not in record


def test_starting_a_failed_task_again_restarts_its_clock() -> None:
    document = make_document()
    record = task(document, "1.2")
    record.update(status="failed", startedAt="2020-01-01T00:00:00.000Z",
                  completedAt="2020-01-01T00:01:00.000Z", duration=60_000)
    doc.set_status(document, "1.2", "in_progress")
    assert record["startedAt"] != "2020-01-01T00:00:00.000Z"
    assert "completedAt" not in record and "duration" not in record


@pytest.mark.parametrize(("status", "key", "value"), [
    ("completed", "notes", "done with tests"),
    ("failed", "error", "pytest exited 1"),
    ("skipped", "skipReason", "covered by 1.1"),
])
def test_extras_are_stored_on_the_task(status: str, key: str, value: str) -> None:
    document = make_document()
    doc.set_status(document, "1.2", status, **{key: value})
    assert task(document, "1.2")[key] == value


def test_extras_given_as_none_are_not_stored() -> None:
    document = make_document()
    doc.set_status(document, "1.2", "completed", notes=None)
    assert "notes" not in task(document, "1.2")


def test_set_status_recomputes_the_summary() -> None:
    document = make_document()
    doc.set_status(document, "1.2", "in_progress")
    doc.set_status(document, "1.3", "failed")
    doc.set_status(document, "2.1", "skipped")
    assert document["summary"] == {
        "totalTasks": 5, "completed": 1, "pending": 1, "in_progress": 1, "failed": 1, "skipped": 1,
    }


def test_set_status_updates_last_updated_at() -> None:
    document = make_document()
    document["lastUpdatedAt"] = "2020-01-01T00:00:00.000Z"
    doc.set_status(document, "1.2", "in_progress")
    assert document["lastUpdatedAt"] != "2020-01-01T00:00:00.000Z"
    assert JS_ISO.match(document["lastUpdatedAt"])


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, PHASE_1),
    ({"1.2": "completed", "1.3": "skipped"}, PHASE_2),
    ({"1.2": "completed", "1.3": "failed"}, PHASE_1),  # a failed task is not finished
    ({"1.2": "completed", "1.3": "in_progress"}, PHASE_1),
    ({"1.2": "completed", "1.3": "completed", "2.1": "completed", "2.2": "skipped"}, PHASE_2),  # all done: last phase
])
def test_current_phase_is_the_phase_of_the_first_unfinished_task(changes: dict[str, str], expected: str) -> None:
    document = make_document()
    for task_id, status in changes.items():
        doc.set_status(document, task_id, status)
    assert document["currentPhase"] == expected


def test_set_status_of_an_unknown_task_suggests_the_closest_id() -> None:
    with pytest.raises(doc.TaskNotFound) as caught:
        doc.set_status(make_document(), "21", "completed")
    assert caught.value.hint == "did you mean 2.1?"


# -- runs -------------------------------------------------------------------------


def test_start_run_records_a_run_named_after_the_current_millisecond() -> None:
    document = make_document()
    before = int(datetime.now(timezone.utc).timestamp() * 1000)
    run_id = doc.start_run(document)
    after = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert re.fullmatch(r"run-\d+", run_id)
    assert before <= int(run_id.removeprefix("run-")) <= after
    run = document["runs"][-1]
    assert run["runId"] == run_id and JS_ISO.match(run["startedAt"])
    assert (run["completed"], run["failed"], run["tasksCompleted"], run["tasksFailed"]) == (0, 0, 0, 0)


def test_a_run_started_in_a_millisecond_already_taken_gets_a_free_id() -> None:
    document = make_document()
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    taken = {f"run-{stamp}" for stamp in range(now - 1000, now + 60_000)}  # covers the call's millisecond
    document["runs"] = [{"runId": run_id} for run_id in sorted(taken)]
    run_id = doc.start_run(document)
    assert run_id not in taken
    assert len({run["runId"] for run in document["runs"]}) == len(document["runs"])


def test_runs_started_back_to_back_all_get_distinct_ids() -> None:
    document = make_document()
    run_ids = [doc.start_run(document) for _ in range(50)]
    assert len(set(run_ids)) == 50


def test_complete_run_records_completion_under_both_key_pairs() -> None:
    document = make_document()
    run_id = doc.start_run(document)
    doc.complete_run(document, run_id, 3, 1)
    run = document["runs"][-1]
    assert JS_ISO.match(run["completedAt"])
    assert (run["completed"], run["failed"], run["tasksCompleted"], run["tasksFailed"]) == (3, 1, 3, 1)


def test_complete_run_of_an_unknown_run_raises_run_not_found() -> None:
    document = make_document()
    run_id = doc.start_run(document)
    with pytest.raises(doc.RunNotFound) as caught:
        doc.complete_run(document, "run-1", 1, 0)
    assert run_id in (caught.value.hint or "")


# -- retries ----------------------------------------------------------------------


def test_increment_retry_returns_the_seed_result_shape() -> None:
    result = doc.increment_retry(make_document(), "1.2", "boom")
    assert result == {"canRetry": True, "retryCount": 1, "maxRetries": 2, "taskId": "1.2", "lastError": "boom"}


def test_increment_retry_stores_count_error_and_error_time_on_the_task() -> None:
    document = make_document()
    doc.increment_retry(document, "1.2", "first")
    doc.increment_retry(document, "1.2", "second")
    record = task(document, "1.2")
    assert (record["retryCount"], record["lastError"]) == (2, "second")
    assert JS_ISO.match(record["lastErrorAt"])


def test_increment_retry_allows_a_retry_until_the_count_passes_two() -> None:
    document = make_document()
    allowed = [doc.increment_retry(document, "1.2", "x")["canRetry"] for _ in range(4)]
    assert allowed == [True, True, False, False]


def _failed(document: doc.Document, task_id: str, **fields: object) -> None:
    task(document, task_id).update(status="failed", **fields)


def test_retryable_lists_failed_tasks_with_retries_left() -> None:
    document = make_document()
    _failed(document, "1.2", retryCount=1, lastError="flaky", lastErrorAt="2026-01-02T03:04:05.678Z")
    _failed(document, "1.3", retryCount=2, lastError="broken", lastErrorAt="2026-01-02T03:04:05.678Z")
    assert doc.failed_tasks(document, exhausted=False) == [{
        "id": "1.2", "description": "Create the schema", "phase": PHASE_1, "retryCount": 1,
        "lastError": "flaky", "lastErrorAt": "2026-01-02T03:04:05.678Z",
    }]


def test_retryable_leaves_out_last_error_keys_never_set_as_json_stringify_does() -> None:
    document = make_document()
    _failed(document, "2.1")
    assert doc.failed_tasks(document, exhausted=False) == [
        {"id": "2.1", "description": "Wire the CLI", "phase": PHASE_2, "retryCount": 0},
    ]


def test_exhausted_lists_failed_tasks_that_used_up_their_retries() -> None:
    document = make_document()
    _failed(document, "1.2", retryCount=1, lastError="flaky")
    _failed(document, "1.3", retryCount=3, lastError="broken")
    task(document, "2.1").update(status="completed", retryCount=5)  # not failed: not listed
    assert doc.failed_tasks(document, exhausted=True) == [
        {"id": "1.3", "description": "Add the loader", "phase": PHASE_1, "retryCount": 3, "lastError": "broken"},
    ]


def test_failed_tasks_honour_a_custom_retry_limit() -> None:
    document = make_document()
    _failed(document, "1.2", retryCount=2)
    assert [entry["id"] for entry in doc.failed_tasks(document, max_retries=3, exhausted=False)] == ["1.2"]
    assert doc.failed_tasks(document, max_retries=3, exhausted=True) == []


# -- resync on a document -----------------------------------------------------------


def test_resync_keeps_the_order_of_the_plan() -> None:
    document = make_document()
    entries = [doc.PlanTaskEntry(task_id, PHASE_1, "x") for task_id in ("2.2", "1.1", "9.9")]
    doc.resync(document, entries, "hash-2")
    assert [entry["id"] for entry in document["tasks"]] == ["2.2", "1.1", "9.9"]


def test_resync_of_a_task_removed_twice_keeps_both_records() -> None:
    document = make_document()
    doc.resync(document, [], "hash-2")
    doc.resync(document, [doc.PlanTaskEntry("1.2", PHASE_1, "Create the schema")], "hash-3")
    doc.resync(document, [], "hash-4")
    removed = [entry["id"] for entry in document["planTasks"]["removedTasks"]]
    assert removed == ["1.1", "1.2", "1.3", "2.1", "2.2", "1.2"]
