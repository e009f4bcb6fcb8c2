"""The run's status.json writer (``plan_tasks.run.status_writer``): batches, the
document it keeps between its own writes, and what others write meanwhile.

Every test works on a real status.json of ``fixtures/run/record/demo.md``,
written by ``plan-tasks status`` and changed by real marking commands.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.cli.main import main
from plan_tasks.run.status_writer import StatusWriter
from plan_tasks.status import document as doc
from plan_tasks.status.paths import resolve_plan
from plan_tasks.status.store import transaction

DEMO = Path(__file__).parent / "fixtures" / "run" / "record" / "demo.md"
PLAN_REF = "docs/plans/demo.md"


@pytest.fixture
def writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StatusWriter:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(DEMO, tmp_path / PLAN_REF)
    assert main(["status", "--plan", PLAN_REF]) == 0
    started = StatusWriter(resolve_plan(PLAN_REF, str(tmp_path)))
    yield started
    started.close()


def on_disk(writer: StatusWriter) -> dict[str, Any]:
    return json.loads(writer._paths.status_file.read_text(encoding="utf-8"))


def status_of(writer: StatusWriter, task_id: str) -> str:
    return next(task["status"] for task in on_disk(writer)["tasks"] if task["id"] == task_id)


def start(task_id: str) -> Any:
    return lambda document: doc.set_status(document, task_id, "in_progress", derived=False)


def test_a_waited_change_is_on_disk_when_submit_returns(writer: StatusWriter) -> None:
    writer.submit(start("1.1"), wait=True)
    assert status_of(writer, "1.1") == "in_progress"


def test_the_summary_is_refreshed_once_for_a_batch(writer: StatusWriter) -> None:
    def start_two(document: doc.Document) -> None:
        start("1.1")(document)
        start("1.2")(document)

    writer.submit(start_two, wait=True)
    status = on_disk(writer)
    assert status["summary"]["in_progress"] == 2
    assert status["summary"] == doc.recalculate_summary(status)


def test_a_mark_made_by_the_cli_between_two_writes_is_kept(writer: StatusWriter) -> None:
    writer.submit(start("1.1"), wait=True)
    assert main(["mark-complete", "1.2", "--plan", PLAN_REF]) == 0  # another process's transaction
    writer.submit(start("2.1"), wait=True)
    assert [status_of(writer, task_id) for task_id in ("1.1", "1.2", "2.1")] == \
        ["in_progress", "completed", "in_progress"]


def test_an_edit_in_place_of_the_same_size_is_seen(writer: StatusWriter) -> None:
    # Same inode, same size, possibly the same modification time: only the bytes differ.
    writer.submit(start("1.1"), wait=True)
    path = writer._paths.status_file
    text = path.read_text(encoding="utf-8")
    name_starts = text.index('"planName": "') + len('"planName": "')
    edited = text[:name_starts] + "X" + text[name_starts + 1:]  # one character for another: the size stays
    assert len(edited) == len(text) and edited != text
    with open(path, "r+", encoding="utf-8") as file:
        file.write(edited)
    writer.submit(start("1.2"), wait=True)
    assert on_disk(writer)["planName"].startswith("X")
    assert status_of(writer, "1.2") == "in_progress"


def test_a_failed_write_forgets_the_kept_document(writer: StatusWriter) -> None:
    def breaks(document: doc.Document) -> None:
        document["tasks"][0]["status"] = "in_progress"
        document["tasks"][0]["bad"] = object()  # cannot be written as JSON

    writer.submit(breaks, wait=True)
    assert writer.errors and "not updated" in writer.errors[-1]
    writer.submit(start("1.2"), wait=True)
    status = on_disk(writer)
    assert status["tasks"][0]["status"] == "pending"  # the broken change was never written
    assert status_of(writer, "1.2") == "in_progress"


def test_find_task_answers_right_after_the_task_list_is_edited(writer: StatusWriter) -> None:
    with transaction(writer._paths) as document:
        assert doc.find_task(document, "1.2")["id"] == "1.2"
        document["tasks"].insert(0, document["tasks"].pop())  # every position moves
        assert doc.find_task(document, "1.2")["id"] == "1.2"
        last = document["tasks"][0]["id"]
        assert doc.find_task(document, last) is document["tasks"][0]
        with pytest.raises(doc.TaskNotFound):
            doc.find_task(document, "9.9")
