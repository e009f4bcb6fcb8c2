"""status.json on disk (``plan_tasks.status.store`` and the commands using it):
the seed's schema and place, round trips of files the seed's own tools wrote,
re-sync after the plan changed, corrupt files reported and left alone, writes
that fail, and which plan a command means."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.cli.main import main
from plan_tasks.status.atomic import write_atomic
from plan_tasks.status.paths import output_dir_name, resolve_plan
from plan_tasks.status.store import load_status

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "status"
JS_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SEED_KEYS = ["_comment", "planPath", "planName", "createdAt", "lastUpdatedAt", "currentPhase", "tasks", "runs",
             "summary"]
PLAN = "docs/plans/plan.md"
STATUS = "docs/plan-outputs/plan/status.json"


class Project:
    """A project root in a temporary directory, with the CLI run in-process."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys

    def add_plan(self, fixture: str, relative: str = PLAN) -> Path:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, target)
        return target

    def run(self, *argv: str, plan: str | None = PLAN) -> tuple[int, str, str]:
        self.capsys.readouterr()
        args = [*argv, "--root", str(self.root)] + (["--plan", plan] if plan else [])
        code = main(args)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def init(self, plan: str = PLAN) -> dict:
        code, out, err = self.run("init", plan=plan)
        assert (code, err) == (0, ""), err
        return json.loads(out)

    def status(self, relative: str = STATUS) -> dict:
        return json.loads((self.root / relative).read_text(encoding="utf-8"))


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    root.mkdir()
    return Project(root, capsys)


def by_id(status: dict) -> dict[str, dict]:
    return {task["id"]: task for task in status["tasks"]}


# -- init: the seed's schema, in the seed's place ---------------------------------------


def test_init_creates_status_json_in_plan_outputs_under_the_plan_file_name(project: Project) -> None:
    project.add_plan("plans/two-phase.md", "docs/plans/my-plan.md")
    project.init("docs/plans/my-plan.md")
    output = project.root / "docs" / "plan-outputs" / "my-plan"
    assert (output / "status.json").is_file()
    assert (output / "findings").is_dir() and (output / "timestamps").is_dir()


def test_init_prints_where_it_put_the_status(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    assert project.init() == {
        "success": True,
        "planPath": PLAN,
        "outputDir": "docs/plan-outputs/plan",
        "structure": {
            "statusJson": STATUS,
            "findingsDir": "docs/plan-outputs/plan/findings",
            "timestampsDir": "docs/plan-outputs/plan/timestamps",
        },
        "taskCount": 5,
        "initialized": True,
        "created": True,
    }


def test_init_writes_the_seed_keys_in_the_seed_order_and_ours_only_under_plan_tasks(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    status = project.status()
    assert list(status) == [*SEED_KEYS, "planTasks"]
    assert status["planPath"] == PLAN and status["planName"] == "Two-phase plan" and status["runs"] == []
    assert set(status["planTasks"]) == {"planHash", "syncedAt"}


def test_init_records_each_task_with_id_phase_description_and_status(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    assert project.status()["tasks"] == [
        {"id": "1.1", "phase": "Phase 1: Foundations", "description": "Write the README", "status": "completed"},
        {"id": "1.2", "phase": "Phase 1: Foundations", "description": "Create the schema in `src/schema.py`",
         "status": "pending"},
        {"id": "1.3", "phase": "Phase 1: Foundations", "description": "Add the loader in `src/load.py`",
         "status": "pending"},
        {"id": "2.1", "phase": "Phase 2: Wiring", "description": "Wire the CLI to the loader", "status": "pending"},
        {"id": "2.2", "phase": "Phase 2: Wiring", "description": "Document the CLI in `docs/cli.md`",
         "status": "completed"},
    ]


def test_init_counts_checked_boxes_as_completed_in_the_summary(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    status = project.status()
    assert status["summary"] == {
        "totalTasks": 5, "completed": 2, "pending": 3, "in_progress": 0, "failed": 0, "skipped": 0,
    }
    assert status["currentPhase"] == "Phase 1: Foundations"


def test_init_writes_timestamps_as_javascript_to_iso_string(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    status = project.status()
    for stamp in (status["createdAt"], status["lastUpdatedAt"], status["planTasks"]["syncedAt"]):
        assert JS_ISO.match(stamp), stamp


def test_status_json_is_written_as_json_stringify_with_two_spaces_writes_it(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    text = (project.root / STATUS).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_marks_through_the_cli_change_the_file(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    assert project.run("mark-started", "1.2")[0] == 0
    assert project.run("mark-complete", "1.2", "--notes", "schema done")[0] == 0
    assert project.run("mark-failed", "1.3", "--error", "loader broke")[0] == 0
    assert project.run("mark-skipped", "2.1", "--reason", "not needed")[0] == 0
    tasks = by_id(project.status())
    assert (tasks["1.2"]["status"], tasks["1.2"]["notes"]) == ("completed", "schema done")
    assert isinstance(tasks["1.2"]["duration"], int) and tasks["1.2"]["duration"] >= 0
    assert (tasks["1.3"]["status"], tasks["1.3"]["error"]) == ("failed", "loader broke")
    assert (tasks["2.1"]["status"], tasks["2.1"]["skipReason"]) == ("skipped", "not needed")
    assert project.status()["summary"]["completed"] == 3


def test_start_run_and_complete_run_through_the_cli_record_the_run(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    code, out, _ = project.run("start-run")
    run_id = json.loads(out)["runId"]
    assert code == 0 and re.fullmatch(r"run-\d+", run_id)
    code, out, _ = project.run("complete-run", run_id, "--completed", "2", "--failed", "1")
    assert json.loads(out) == {"success": True, "runId": run_id, "completed": 2, "failed": 1}
    (run,) = project.status()["runs"]
    assert (run["runId"], run["tasksCompleted"], run["tasksFailed"], run["completed"], run["failed"]) == (
        run_id, 2, 1, 2, 1)


def test_increment_retry_through_the_cli_prints_the_seed_result(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    outputs = [json.loads(project.run("increment-retry", "1.3", "--error", "boom")[1]) for _ in range(3)]
    assert outputs[-1] == {"canRetry": False, "retryCount": 3, "maxRetries": 2, "taskId": "1.3", "lastError": "boom"}
    assert [output["canRetry"] for output in outputs] == [True, True, False]


# -- a status.json written by the seed's own tools --------------------------------------


@pytest.fixture
def seed_project(project: Project) -> Project:
    shutil.copytree(FIXTURES / "seed-written", project.root, dirs_exist_ok=True)
    return project


SEED_PLAN = "docs/plans/seed-plan.md"
SEED_STATUS = "docs/plan-outputs/seed-plan/status.json"


def test_a_mark_on_a_seed_written_status_changes_only_the_task_and_what_derives_from_it(
        seed_project: Project) -> None:
    before = seed_project.status(SEED_STATUS)
    code, _, err = seed_project.run("mark-complete", "1.2", "--notes", "added phases", plan=SEED_PLAN)
    assert (code, err) == (0, "")
    after = seed_project.status(SEED_STATUS)
    marked = by_id(after)["1.2"]
    assert marked["duration"] >= 0 and JS_ISO.match(marked["completedAt"])
    expected = json.loads(json.dumps(before))
    by_id(expected)["1.2"].update(status="completed", notes="added phases",
                                  completedAt=marked["completedAt"], duration=marked["duration"])
    expected["summary"].update(completed=2, in_progress=0)
    expected["lastUpdatedAt"] = after["lastUpdatedAt"]
    assert after == expected  # every unknown key kept, nothing of ours added
    assert list(after) == list(before)
    assert list(by_id(after)["1.3"]) == list(by_id(before)["1.3"])


def test_init_on_a_seed_written_status_keeps_every_key_and_adds_only_plan_tasks(seed_project: Project) -> None:
    before = seed_project.status(SEED_STATUS)
    report = seed_project.init(SEED_PLAN)
    after = seed_project.status(SEED_STATUS)
    assert (report["created"], report["added"], report["removed"], report["updated"]) == (False, [], [], [])
    assert list(after) == [*before, "planTasks"]
    assert after["tasks"] == before["tasks"] and after["runs"] == before["runs"]
    assert after["sequentialGroups"] == before["sequentialGroups"] and after["_recovery"] == before["_recovery"]


def test_a_seed_written_status_with_runs_in_the_seed_shape_can_complete_its_open_run(seed_project: Project) -> None:
    code, _, _ = seed_project.run("complete-run", "run-1766223612000", "--completed", "1", plan=SEED_PLAN)
    assert code == 0
    first, second = seed_project.status(SEED_STATUS)["runs"]
    assert first == {"runId": "run-1766222043512", "startedAt": "2025-12-20T09:14:03.512Z",
                     "completedAt": "2025-12-20T09:36:00.000Z", "tasksCompleted": 1, "tasksFailed": 1}
    assert (second["tasksCompleted"], second["tasksFailed"]) == (1, 0)


# -- re-sync after the plan changed -------------------------------------------------------


@pytest.fixture
def resynced(project: Project) -> tuple[dict, dict, dict]:
    """Init from resync/before.md, mark tasks, switch to after.md, init again.

    after.md: 1.2 renamed, 1.3 moved to phase 2, 2.2 removed, 2.3 added.
    Returns (status before the re-sync, status after it, init's report).
    """
    project.add_plan("resync/before.md")
    project.init()
    project.run("mark-complete", "1.1")
    project.run("mark-started", "1.2")
    project.run("mark-failed", "2.2", "--error", "printer crashed")
    project.run("increment-retry", "2.1", "--error", "flaky")
    before = project.status()
    project.add_plan("resync/after.md")
    report = project.init()
    return before, project.status(), report


def test_resync_reports_added_removed_and_updated_tasks(resynced: tuple[dict, dict, dict]) -> None:
    _, _, report = resynced
    assert (report["created"], report["added"], report["removed"], report["updated"]) == (
        False, ["2.3"], ["2.2"], ["1.2", "1.3"])
    assert report["taskCount"] == 5


def test_resync_follows_the_plan_order_and_adds_new_tasks_as_pending(resynced: tuple[dict, dict, dict]) -> None:
    _, after, _ = resynced
    assert [task["id"] for task in after["tasks"]] == ["1.1", "1.2", "2.1", "1.3", "2.3"]
    assert by_id(after)["2.3"] == {"id": "2.3", "phase": "Phase 2: Build",
                                   "description": "Implement the formatter", "status": "pending"}


def test_resync_sets_removed_tasks_aside_under_plan_tasks_removed_tasks(resynced: tuple[dict, dict, dict]) -> None:
    before, after, _ = resynced
    assert "2.2" not in by_id(after)
    assert after["planTasks"]["removedTasks"] == [by_id(before)["2.2"]]


def test_resync_updates_a_changed_description_and_keeps_the_status(resynced: tuple[dict, dict, dict]) -> None:
    before, after, _ = resynced
    expected = {**by_id(before)["1.2"], "description": "Add the CI workflow on GitHub Actions"}
    assert by_id(after)["1.2"] == expected


def test_resync_updates_the_phase_of_a_task_moved_to_another_phase(resynced: tuple[dict, dict, dict]) -> None:
    before, after, _ = resynced
    assert by_id(after)["1.3"] == {**by_id(before)["1.3"], "phase": "Phase 2: Build"}


def test_resync_keeps_statuses_and_timestamps_of_unchanged_tasks(resynced: tuple[dict, dict, dict]) -> None:
    before, after, _ = resynced
    for task_id in ("1.1", "2.1"):
        assert by_id(after)[task_id] == by_id(before)[task_id]
    assert after["createdAt"] == before["createdAt"]


def test_resync_recomputes_the_summary(resynced: tuple[dict, dict, dict]) -> None:
    _, after, _ = resynced
    assert after["summary"] == {
        "totalTasks": 5, "completed": 1, "pending": 3, "in_progress": 1, "failed": 0, "skipped": 0,
    }


def test_resync_updates_the_plan_hash(resynced: tuple[dict, dict, dict], project: Project) -> None:
    before, after, _ = resynced
    plan_hash = hashlib.sha256((project.root / PLAN).read_bytes()).hexdigest()
    assert after["planTasks"]["planHash"] == plan_hash != before["planTasks"]["planHash"]


def test_init_of_an_unchanged_plan_reports_no_changes_and_changes_no_task(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    project.run("mark-started", "1.2")
    before = project.status()
    report = project.init()
    assert (report["added"], report["removed"], report["updated"]) == ([], [], [])
    assert project.status()["tasks"] == before["tasks"]


# -- corrupt, missing and mistaken ------------------------------------------------------------

# (fixture, line, column): where the error is reported: the offending value (1:1 for a document
# that is not an object at all)
CORRUPT = [
    ("truncated.json", 6, 17),
    ("top-level-list.json", 1, 1),
    ("tasks-not-a-list.json", 1, 11),
    ("task-without-id.json", 4, 5),
    ("invalid-utf8.json", 3, 38),
]
READERS = [("status",), ("next",), ("mark-complete", "1.1"), ("init",)]


@pytest.mark.parametrize("command", READERS, ids=lambda command: command[0])
@pytest.mark.parametrize(("fixture", "line", "column"), CORRUPT, ids=[case[0] for case in CORRUPT])
def test_a_corrupt_status_is_reported_with_its_location_and_a_recovery_hint_and_left_alone(
        project: Project, command: tuple[str, ...], fixture: str, line: int, column: int) -> None:
    project.add_plan("plans/two-phase.md")
    corrupt = (FIXTURES / "corrupt" / fixture).read_bytes()
    status_file = project.root / STATUS
    status_file.parent.mkdir(parents=True)
    status_file.write_bytes(corrupt)
    code, out, err = project.run(*command)
    assert (code, out) == (2, "")
    first, hint = err.splitlines()
    assert first.startswith(f"{STATUS}:{line}:{column}: error: "), err
    assert f"git checkout -- {STATUS}" in hint and f"move it aside and run `plan-tasks init --plan {PLAN}`" in hint
    assert status_file.read_bytes() == corrupt
    assert sorted(path.name for path in status_file.parent.iterdir()) in (
        ["status.json"], [".status.lock", "status.json"])  # no temp file, no replacement


def test_a_corrupt_status_makes_the_real_command_exit_2_without_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "plans" / "two-phase.md", root / PLAN)
    status_file = root / STATUS
    status_file.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "corrupt" / "truncated.json", status_file)
    env = {**os.environ, "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "mark-complete", "1.2", "--plan", PLAN],
                            cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"{STATUS}:6:17: error: status file is not valid JSON"), result.stderr
    assert "Traceback" not in result.stderr
    assert status_file.read_bytes() == (FIXTURES / "corrupt" / "truncated.json").read_bytes()


@pytest.mark.parametrize("command", [("next",), ("mark-complete", "1.1"), ("start-run",)], ids=lambda c: c[0])
def test_a_missing_status_is_reported_with_a_hint_to_run_init(project: Project, command: tuple[str, ...]) -> None:
    project.add_plan("plans/two-phase.md")
    code, out, err = project.run(*command)
    assert (code, out) == (2, "")
    assert err == (f"{STATUS}: error: no status for {PLAN} yet\n"
                   f"  hint: create it with `plan-tasks init --plan {PLAN}`\n")
    assert not (project.root / STATUS).exists()


def test_status_creates_a_missing_status_as_the_seed_does(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    code, out, _ = project.run("status")
    assert code == 0 and json.loads(out)["total"] == 5
    assert project.status()["summary"]["totalTasks"] == 5


def test_marking_an_unknown_task_exits_2_with_a_did_you_mean_and_leaves_the_file_alone(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    before = (project.root / STATUS).read_bytes()
    code, out, err = project.run("mark-complete", "21")
    assert (code, out) == (2, "")
    assert err == "plan-tasks: error: task 21 is not in status.json\n  hint: did you mean 2.1?\n"
    assert (project.root / STATUS).read_bytes() == before


def test_completing_an_unknown_run_exits_2_and_leaves_the_file_alone(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    run_id = json.loads(project.run("start-run")[1])["runId"]
    before = (project.root / STATUS).read_bytes()
    code, out, err = project.run("complete-run", "run-42", "--completed", "1")
    assert (code, out) == (2, "")
    assert err.startswith("plan-tasks: error: run run-42 is not in status.json\n") and run_id in err
    assert (project.root / STATUS).read_bytes() == before


def test_load_status_reads_back_what_init_wrote(project: Project) -> None:
    project.add_plan("plans/two-phase.md")
    project.init()
    assert load_status(resolve_plan(PLAN, str(project.root))) == project.status()


# -- writes that fail -------------------------------------------------------------------------

OLD = b'{"old": true}\n'


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".tmp"))


def test_a_write_that_runs_out_of_space_keeps_the_old_file_and_removes_its_temp_file(tmp_path: Path) -> None:
    # A real process whose file size limit (RLIMIT_FSIZE) stops the write halfway, as a full disk would.
    target = tmp_path / "status.json"
    target.write_bytes(OLD)
    child = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from plan_tasks.status.atomic import write_atomic\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "try:\n"
        "    write_atomic(Path(sys.argv[1]), b'x' * 1_000_000)\n"
        "except OSError as error:\n"
        "    print(error.errno)\n"
        "    sys.exit(0)\n"
        "sys.exit('the write did not fail')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", child, str(target)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 27  # EFBIG
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_a_replace_that_fails_removes_its_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.mkdir()  # os.replace cannot put a file over a directory
    (target / "keep").write_bytes(OLD)
    with pytest.raises(OSError):
        write_atomic(target, b"{}")
    assert (target / "keep").read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_a_write_into_a_read_only_directory_fails_and_keeps_the_old_file(tmp_path: Path) -> None:
    directory = tmp_path / "outputs"
    directory.mkdir()
    target = directory / "status.json"
    target.write_bytes(OLD)
    directory.chmod(0o555)
    try:
        try:
            (directory / "probe").touch()
        except PermissionError:
            pass
        else:
            pytest.skip("permissions are not enforced here (root with CAP_DAC_OVERRIDE)")
        with pytest.raises(PermissionError):
            write_atomic(target, b"{}")
    finally:
        directory.chmod(0o755)
    assert target.read_bytes() == OLD
    assert leftovers(directory) == []


def test_a_write_whose_parent_is_a_file_fails_and_leaves_the_file_alone(tmp_path: Path) -> None:
    parent = tmp_path / "plan-outputs"
    parent.write_bytes(OLD)
    with pytest.raises(OSError):
        write_atomic(parent / "status.json", b"{}")
    assert parent.read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_a_write_replaces_the_whole_file_and_ignores_stray_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.write_bytes(b"x" * 10_000)
    stray = tmp_path / ".status.json.abandoned.tmp"  # what a killed writer leaves behind
    stray.write_bytes(b"half")
    write_atomic(target, OLD)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == [stray.name]


def test_a_write_creates_missing_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "plan-outputs" / "plan" / "status.json"
    write_atomic(target, OLD)
    assert target.read_bytes() == OLD


# -- which plan, and where its status lives ------------------------------------------------------


@pytest.mark.parametrize(("plan_ref", "name"), [
    ("docs/plans/my-plan.md", "my-plan"),
    ("my-plan.md", "my-plan"),
    ("docs/plans/release.v2.md", "release.v2"),
    ("docs/plans/notes.md.md", "notes.md"),
    ("docs/plans/PLAN", "PLAN"),
    ("docs/plans/.md", ".md"),  # node's path.basename('.md', '.md') is '.md' too
    ("docs\\plans\\win-plan.md", "win-plan"),
    ("/abs/path/to/x.md", "x"),
])
def test_output_dir_name_is_the_plan_file_name_without_md(plan_ref: str, name: str) -> None:
    assert output_dir_name(plan_ref) == name


def test_plan_path_is_recorded_relative_to_the_root_in_posix_form(project: Project) -> None:
    absolute = project.add_plan("plans/two-phase.md", "docs/plans/nested/deep-plan.md")
    project.init(str(absolute))
    status = project.status("docs/plan-outputs/deep-plan/status.json")
    assert status["planPath"] == "docs/plans/nested/deep-plan.md"


def test_a_plan_outside_the_root_is_recorded_by_its_absolute_path(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "outside.md"
    outside.parent.mkdir()
    shutil.copyfile(FIXTURES / "plans" / "two-phase.md", outside)
    project.init(str(outside))
    status = project.status("docs/plan-outputs/outside/status.json")
    assert status["planPath"] == outside.resolve().as_posix()


def test_current_plan_txt_names_the_plan_when_plan_is_not_given(project: Project) -> None:
    project.add_plan("plans/two-phase.md", "docs/plans/pointed.md")
    pointer = project.root / ".claude" / "current-plan.txt"
    pointer.parent.mkdir()
    pointer.write_text("docs/plans/pointed.md\n", encoding="utf-8")
    assert project.run("init", plan=None)[0] == 0
    assert project.run("mark-complete", "1.2", plan=None)[0] == 0
    status = project.status("docs/plan-outputs/pointed/status.json")
    assert status["planPath"] == "docs/plans/pointed.md"
    assert by_id(status)["1.2"]["status"] == "completed"


def test_without_plan_or_current_plan_txt_a_command_exits_2_naming_both(project: Project) -> None:
    code, _, err = project.run("mark-complete", "1.2", plan=None)
    assert code == 2
    assert err.startswith("plan-tasks: error: no plan given\n") and "--plan PATH" in err
    assert ".claude/current-plan.txt" in err


def test_two_plans_keep_separate_status_side_by_side(project: Project) -> None:
    project.add_plan("plans/two-phase.md", "docs/plans/alpha.md")
    project.add_plan("resync/before.md", "docs/plans/beta.md")
    project.init("docs/plans/alpha.md")
    project.init("docs/plans/beta.md")
    beta_before = project.status("docs/plan-outputs/beta/status.json")
    assert project.run("mark-failed", "1.2", "--error", "alpha only", plan="docs/plans/alpha.md")[0] == 0
    alpha = project.status("docs/plan-outputs/alpha/status.json")
    assert by_id(alpha)["1.2"]["status"] == "failed"
    assert project.status("docs/plan-outputs/beta/status.json") == beta_before
    assert (alpha["planName"], beta_before["planName"]) == ("Two-phase plan", "Resync plan")


def test_a_killed_writers_old_temp_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    import os
    import time

    from plan_tasks.status.paths import resolve_plan
    from plan_tasks.status.store import STALE_TEMP_SECONDS, save_status

    plan = tmp_path / "plan.md"
    plan.write_text("## Phase 1: A\n- [ ] 1.1 a\n", encoding="utf-8")
    paths = resolve_plan(str(plan), str(tmp_path))
    paths.output_dir.mkdir(parents=True)
    old = paths.output_dir / ".status.json.killed.tmp"
    fresh = paths.output_dir / ".status.json.live.tmp"
    old.write_text("half a file")
    fresh.write_text("a write in progress")
    long_ago = time.time() - STALE_TEMP_SECONDS - 10
    os.utime(old, (long_ago, long_ago))
    save_status(paths, {"tasks": []})
    assert not old.exists()
    assert fresh.exists()  # it may belong to a live writer


# -- the JSON codec: orjson's speed, the standard library's output ----------------------


@pytest.mark.parametrize("document", [
    {"tasks": [{"id": "1.1", "title": "Ünïcode `x` \u2028 \x00", "duration": 1.25, "error": None,
                "retryCount": 0, "done": True, "nested": {"empty": {}, "list": []}}]},
    {"tasks": [], "floats": [0.1, 1e20, -0.0, 1.0, 3.14159]},
])
def test_dump_writes_what_the_standard_library_writes(document: dict) -> None:
    from plan_tasks.status.store import dump

    assert dump(document) == json.dumps(document, indent=2, ensure_ascii=False)


def test_dump_and_load_take_what_orjson_refuses(tmp_path: Path) -> None:
    from plan_tasks.status.store import _parse, dump

    huge = {"tasks": [{"id": "1.1", "count": 2**70}], "ratio": float("nan")}
    text = dump(huge)
    assert text == json.dumps(huge, indent=2, ensure_ascii=False)
    parsed = _parse(text)
    assert parsed["tasks"][0]["count"] == 2**70 and parsed["ratio"] != parsed["ratio"]
