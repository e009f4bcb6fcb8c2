"""`show` and `next` read the plan's status.json when it exists: what it says is done
counts as done ("7 done" after every task completed, not the plan's checked boxes),
and groups and the critical path cover only what is left. Without a status.json,
the plan's checked boxes say what is done.

The project is ``fixtures/ready/auth.md`` (1.1 checked; 2.1 depends on 1.2 and 1.3;
2.1-2.2 sequential), driven through ``main``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plan_tasks.cli.main import main

READY = Path(__file__).parent / "fixtures" / "ready"
PLAN = "docs/plans/auth.md"
ALL_TASKS = ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3"]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "project"
    (project / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(READY / "auth.md", project / PLAN)
    return project


def status_command(root: Path, *args: str) -> None:
    assert main([*args, "--root", str(root), "--plan", PLAN]) == 0


def show(root: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    capsys.readouterr()
    assert main(["show", str(root / PLAN), "--root", str(root), *options]) == 0
    return capsys.readouterr().out


def test_show_counts_what_status_json_says_is_done_after_every_task_completed(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status_command(root, "init")
    for task_id in ALL_TASKS[1:]:
        status_command(root, "mark-complete", task_id)
    text = show(root, capsys)
    assert text.splitlines()[1] == f"{root / PLAN}: 7 tasks in 2 phases, 7 done, 0 groups (phases in order)"
    assert "statuses from docs/plan-outputs/auth/status.json" in text.splitlines()[2:4]
    assert text.splitlines()[-1] == "Critical path (weight 0): (nothing left to run)"
    data = json.loads(show(root, capsys, "--json"))
    assert [task["status"] for phase in data["phases"] for task in phase["tasks"]] == ["completed"] * 7
    assert (data["groups"], data["critical_path"]) == ([], {"tasks": [], "weight": 0})
    assert data["status_file"] == "docs/plan-outputs/auth/status.json"


def test_show_groups_and_critical_path_cover_only_what_is_left(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status_command(root, "init")
    for task_id in ("1.2", "1.3"):
        status_command(root, "mark-complete", task_id)
    status_command(root, "mark-failed", "1.4", "--error", "boom")
    status_command(root, "mark-skipped", "2.3")
    text = show(root, capsys)
    assert ", 4 done, 1 failed, " in text.splitlines()[1]
    data = json.loads(show(root, capsys, "--json"))
    assert data["groups"] == [["1.4"], ["2.1"], ["2.2"]]
    statuses = {task["id"]: task["status"] for phase in data["phases"] for task in phase["tasks"]}
    assert statuses == {"1.1": "completed", "1.2": "completed", "1.3": "completed", "1.4": "failed",
                        "2.1": "pending", "2.2": "pending", "2.3": "skipped"}
    assert data["critical_path"]["tasks"][0] == "1.4"


def test_without_a_status_json_show_counts_the_plans_checked_boxes(root: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    text = show(root, capsys)
    assert ", 1 done, " in text.splitlines()[1] and "statuses from" not in text
    assert json.loads(show(root, capsys, "--json"))["status_file"] is None


def test_next_offers_what_status_json_makes_ready(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status_command(root, "init")
    capsys.readouterr()

    def offered() -> list[str]:
        status_command(root, "next", "5")
        return [task["id"] for task in json.loads(capsys.readouterr().out)["tasks"]]

    assert offered() == ["1.2", "1.3", "1.4"]
    for task_id in ("1.2", "1.3", "1.4"):
        status_command(root, "mark-complete", task_id)
    capsys.readouterr()
    assert sorted(offered()) == ["2.1", "2.3"]  # 2.2 waits for 2.1 (sequential); phase 1 is all done
