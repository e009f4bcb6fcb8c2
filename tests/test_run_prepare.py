"""A run prepared once (``plan_tasks.run.prepare``): the plan read, checked and
selected before Prefect starts, nothing written, and the flow that the command
line starts using that preparation instead of reading the plan again.

Real files, a real parse cache, and for the flow a real Prefect server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AUTH_PLAN

from plan_tasks.errors import PlanError
from plan_tasks.run.prepare import hand_over, handed_over, prepare_run
from plan_tasks.run.settings import RunSettings

ROOT = Path(__file__).resolve().parents[1]
SHELL_PLAN = """\
# Implementation Plan: Shell

## Phase 1: Work

- [ ] 1.1 Write a file
  - Run: `echo one > one.txt`
- [ ] 1.2 Write another
  - Run: `echo two > two.txt`
"""


@pytest.fixture(autouse=True)
def _no_agent_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAN_TASKS_AGENT_COMMAND", raising=False)


def settings(root: Path, **options: object) -> RunSettings:
    return RunSettings(plan=AUTH_PLAN, root=str(root), agent_command=("agent",), **options)  # type: ignore[arg-type]


def cli(root: Path, *args: str) -> int:
    from plan_tasks.cli.main import main

    return main([*args, "--root", str(root), "--plan", AUTH_PLAN])


def test_a_prepared_run_selects_every_unfinished_task(auth_project: Path) -> None:
    prepared = prepare_run(settings(auth_project))
    assert prepared.selected == ("1.2", "1.3", "1.4", "2.1", "2.2", "2.3")  # 1.1 is ticked in the plan
    assert prepared.paths.plan == auth_project / AUTH_PLAN
    assert [task.id for task in prepared.loaded.plan.tasks] == [task.id for task in prepared.indexed.index.tasks]


def test_a_prepared_run_selects_from_status_json_as_the_run_will_resync_it(auth_project: Path) -> None:
    assert cli(auth_project, "init") == 0
    assert cli(auth_project, "mark-complete", "1.2") == 0
    plan = auth_project / AUTH_PLAN
    plan.write_text(plan.read_text(encoding="utf-8") + "- [ ] 2.4 Add rate limiting\n", encoding="utf-8")
    status_file = auth_project / "docs" / "plan-outputs" / "auth" / "status.json"
    before = status_file.read_bytes()
    prepared = prepare_run(settings(auth_project))
    assert prepared.selected == ("1.3", "1.4", "2.1", "2.2", "2.3", "2.4")  # 1.2 done; 2.4 new, pending
    assert {task["id"]: task["status"] for task in prepared.snapshot["tasks"]}["2.4"] == "pending"
    assert status_file.read_bytes() == before  # read, not written: the run writes it


def test_preparing_a_run_writes_nothing_in_the_project(auth_project: Path) -> None:
    before = sorted(path for path in auth_project.rglob("*"))
    prepare_run(settings(auth_project, selection=("phase:2",)))
    assert sorted(path for path in auth_project.rglob("*")) == before


def test_a_prepared_run_leaves_the_plans_index_in_the_parse_cache(auth_project: Path) -> None:
    from plan_tasks.plan_cache import cache_dir, load_index

    prepared = prepare_run(settings(auth_project))
    assert len(list(cache_dir().glob("*.json"))) == 1  # `next` after the run does not parse again
    cached = load_index(prepared.paths.plan, prepared.paths.plan_ref)
    assert cached == prepared.indexed


@pytest.mark.parametrize(("selection", "message"), [
    (("9.9",), "no task 9.9 in"),
    (("phase:7",), "no phase"),
])
def test_a_bad_selection_is_refused_while_preparing(auth_project: Path, selection: tuple[str, ...],
                                                    message: str) -> None:
    with pytest.raises(PlanError, match=message):
        prepare_run(settings(auth_project, selection=selection))


def test_tasks_that_need_an_agent_are_refused_without_an_agent_command_except_in_a_dry_run(
        auth_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(auth_project)  # no pyproject.toml with an agent command here either
    no_agent = RunSettings(plan=AUTH_PLAN, root=str(auth_project))
    with pytest.raises(PlanError, match=r"6 task\(s\) need an agent \(e.g. 1.2\) but no agent command is set"):
        prepare_run(no_agent)
    assert prepare_run(no_agent, need_agent=False).agent_command == ()
    assert prepare_run(RunSettings(plan=AUTH_PLAN, root=str(auth_project), executor="shell")).selected


def test_the_agent_command_starred_in_the_settings_is_the_real_one_in_the_prepared_run(
        auth_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tasks.redact import configure, hide_argv

    monkeypatch.setenv("PREPARE_TEST_TOKEN", "sk-prepare-0123456789")
    configure([])
    starred = tuple(hide_argv(["agent", "--key", "sk-prepare-0123456789"]))
    assert starred == ("agent", "--key", "***")
    prepared = prepare_run(RunSettings(plan=AUTH_PLAN, root=str(auth_project), agent_command=starred))
    assert prepared.settings.agent_command == starred  # what the flow run's parameter stores
    assert prepared.agent_command == ("agent", "--key", "sk-prepare-0123456789")


@pytest.mark.parametrize(("max_parallel", "slots"), [(None, 3), (7, 7)])  # 7 tasks: the seed's table says 3
def test_the_slots_are_the_setting_else_the_seeds_batch_table(auth_project: Path, max_parallel: int | None,
                                                              slots: int) -> None:
    assert prepare_run(settings(auth_project, max_parallel=max_parallel)).max_parallel == slots


def test_a_run_is_handed_over_only_to_a_flow_with_the_same_settings(auth_project: Path) -> None:
    prepared = prepare_run(settings(auth_project))
    assert handed_over(prepared.settings) is None
    with hand_over(prepared):
        assert handed_over(settings(auth_project)) is prepared  # equal settings, not the same object
        assert handed_over(settings(auth_project, retries=0)) is None
    assert handed_over(prepared.settings) is None


def test_a_flow_started_with_a_prepared_run_does_not_read_the_plan_again(
        prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tasks.prefect.flow import run_plan

    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    root.mkdir()
    (root / "shell.md").write_text(SHELL_PLAN, encoding="utf-8")
    prepared = prepare_run(RunSettings(plan="shell.md", root=str(root), executor="shell"))
    (root / "shell.md").unlink()  # a flow that read the plan again would fail: "cannot read plan"
    with hand_over(prepared):
        state = run_plan(settings=prepared.settings, return_state=True)
    assert state.is_completed(), state
    assert (root / "one.txt").read_text() == "one\n" and (root / "two.txt").read_text() == "two\n"
    status = json.loads((root / "docs" / "plan-outputs" / "shell" / "status.json").read_text(encoding="utf-8"))
    assert [task["status"] for task in status["tasks"]] == ["completed", "completed"]
    # Without a prepared run (a deployment's flow run), the flow reads the plan itself.
    state = run_plan(settings=prepared.settings, return_state=True)
    assert state.is_failed() and "cannot read plan" in str(state.result(raise_on_failure=False))


def test_a_bad_setting_in_pyproject_stops_the_run_command_with_exit_2_and_a_hint(tmp_path: Path) -> None:
    (tmp_path / "shell.md").write_text(SHELL_PLAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool.plan-tasks]\ntask-runner = "ray"\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "run", "shell.md"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "pyproject.toml: error: `task-runner` in [tool.plan-tasks]: should be 'threads' or 'dask', "
        "not 'ray'",
        "  hint: where Prefect runs the tasks: threads of this process, or a Dask cluster"]
    assert not (tmp_path / "docs").exists()
