"""The deployable flow works the way docs/deploy.md and prefect.yaml tell users to run it.

Nothing is mocked. The module starts ``prefect server start``, copies the
project (prefect.yaml, pyproject.toml, flows/, examples/) to a temporary
directory so the checkout stays clean, and there runs the documented commands:

    prefect work-pool create plan-tasks --type process
    PLAN_TASKS_HOME=$PWD prefect --no-prompt deploy --all
    prefect worker start --pool plan-tasks
    prefect deployment run 'plan-tasks/...' --watch

The worker runs in another directory: only the deployment's pull step takes
the flow run to the project. The tests read the outcome from the server's API,
the plan's status.json and the files the example's fake agent writes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from server_helpers import PREFECT, ROOT, api_request, background, log_tail, prefect_env, prefect_server, wait_until

from plan_tasks.load import load_plan

PROJECT_FILES = ("prefect.yaml", "pyproject.toml", "flows", "examples")
POOL = "plan-tasks"
RUN_TIMEOUT_SECONDS = 300.0  # the 16-task example: 25-30 s on 2 cores (SQLite 503 back-offs)
COMMAND_TIMEOUT_SECONDS = 120.0
FLOW_RUN_ID = re.compile(r"UUID: ([0-9a-f-]{36})")
DOCUMENTED_PARAMETERS = re.compile(r"Flow parameters are those of `plan-tasks run`:(.*?)\.\n", re.DOTALL)
FAILING_PLAN = """\
# Implementation Plan: Broken

## Phase 1: Work

- [ ] 1.1 A step that cannot succeed
  - Run: `exit 3`
"""


@dataclass(frozen=True)
class Deployed:
    """The project as deployed: its directory, the server's API URL, and the CLI's environment."""

    project: Path
    api_url: str
    env: dict[str, str]

    def prefect(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``prefect ARGS`` in the project; fail the test with its output unless it exits 0."""
        done = subprocess.run([*PREFECT, *args], cwd=self.project, env=env or self.env,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS)
        assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A server, and the project deployed on it with the documented commands."""
    base = tmp_path_factory.mktemp("deploy")
    # No schedules fire: the nightly cron must not start a second run of the example meanwhile.
    env = prefect_env(base / "prefect-home", PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
                      PLAN_TASKS_CACHE_DIR=str(base / "cache"), COLUMNS="200")
    with prefect_server(env, base / "server.log") as api_url:
        project = base / "project"
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                project.mkdir(exist_ok=True)
                shutil.copy2(source, project / name)
        deployed = Deployed(project, api_url, {**env, "PREFECT_API_URL": api_url})
        deployed.prefect("work-pool", "create", POOL, "--type", "process")
        deployed.prefect("--no-prompt", "deploy", "--all", env={**deployed.env, "PLAN_TASKS_HOME": str(project)})
        yield deployed


@pytest.fixture(scope="module")
def worker(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``prefect worker start --pool plan-tasks``, started away from the project; yields its log.

    It polls every second instead of every 10 (a setting, for the test's time only).
    """
    elsewhere = tmp_path_factory.mktemp("worker-cwd")
    log = elsewhere / "worker.log"
    env = {**deployed.env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
    with background([*PREFECT, "worker", "start", "--pool", POOL], env, log, cwd=elsewhere) as process:
        wait_until(lambda: api_request(deployed.api_url, f"/work_pools/{POOL}")["status"] == "READY",
                   process, log, "`prefect worker start`", COMMAND_TIMEOUT_SECONDS)
        yield log


def run_deployment(deployed: Deployed, worker_log: Path, name: str, *params: str) -> tuple[int, str, dict[str, Any]]:
    """``prefect deployment run NAME --param ... --watch``: its exit code, its output, and the
    flow run as the API reports it once the command returned."""
    args = [*PREFECT, "deployment", "run", name, "--watch"]
    for param in params:
        args += ["--param", param]
    try:
        done = subprocess.run(args, cwd=deployed.project, env=deployed.env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as timeout:
        raise AssertionError(f"{name} did not finish within {RUN_TIMEOUT_SECONDS:.0f} s; the worker's log:\n"
                             f"{log_tail(worker_log)}") from timeout
    output = done.stdout + done.stderr
    found = FLOW_RUN_ID.search(output)
    assert found, f"no flow run id in the output of `prefect deployment run`:\n{output}"
    flow_run = api_request(deployed.api_url, f"/flow_runs/{found.group(1)}")
    return done.returncode, f"{output}\nthe worker's log:\n{log_tail(worker_log)}", flow_run


def read_status(status_file: Path) -> dict[str, str]:
    """Task id -> status, from a plan's status.json."""
    document = json.loads(status_file.read_text(encoding="utf-8"))
    return {task["id"]: task["status"] for task in document["tasks"]}


def test_deploy_registers_both_deployments_with_the_projects_working_directory(deployed: Deployed) -> None:
    nightly = api_request(deployed.api_url, "/deployments/name/plan-tasks/report-export-nightly")
    assert nightly["entrypoint"] == "flows/plan_flow.py:run_plan"
    assert nightly["work_pool_name"] == POOL
    assert nightly["parameters"] == {
        "settings": {"plan": "examples/report-export.md", "root": "demo-project", "phase_gate": 0.8}}
    assert [entry["schedule"]["cron"] for entry in nightly["schedules"]] == ["0 2 * * *"]
    # `{{ $PLAN_TASKS_HOME }}` is resolved when deploying: the worker goes to the project.
    assert nightly["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(deployed.project)}}]
    on_demand = api_request(deployed.api_url, "/deployments/name/plan-tasks/on-demand")
    assert on_demand["work_pool_name"] == POOL
    assert on_demand["pull_steps"] == nightly["pull_steps"]
    # The settings docs/deploy.md lists are the flow's one parameter's, as the server knows them.
    schema = on_demand["parameter_openapi_schema"]
    assert list(schema["properties"]) == ["settings"]
    listed = DOCUMENTED_PARAMETERS.search((ROOT / "docs" / "deploy.md").read_text(encoding="utf-8"))
    assert listed, "docs/deploy.md no longer lists the flow parameters"
    documented = re.findall(r"`(\w+)`", listed.group(1))
    assert sorted(documented) == sorted(schema["definitions"]["RunSettings"]["properties"])


def test_nightly_deployment_runs_the_example_plan_to_completion_on_a_process_worker(
        deployed: Deployed, worker: Path) -> None:
    code, output, flow_run = run_deployment(deployed, worker, "plan-tasks/report-export-nightly")
    assert code == 0, output
    assert flow_run["state"]["type"] == "COMPLETED", output
    assert flow_run["name"] == "report-export"  # the flow's run name: the plan's file name
    # `root: demo-project` is relative to the working directory the pull step set: the project.
    demo = deployed.project / "demo-project"
    plan = load_plan(str(deployed.project / "examples" / "report-export.md")).plan
    outputs = demo / "docs" / "plan-outputs" / "report-export"
    assert read_status(outputs / "status.json") == {task.id: "completed" for task in plan.tasks}, output
    for task in plan.tasks:
        assert (outputs / "findings" / f"{task.id.replace('.', '-')}.md").is_file(), task.id
        for name in task.files:  # the fake agent's FILE answers, written by plan-tasks
            assert f"task {task.id}" in (demo / name).read_text(encoding="utf-8"), name


def test_on_demand_deployment_of_a_plan_with_a_failing_task_ends_failed(deployed: Deployed, worker: Path) -> None:
    plan = deployed.project / "docs" / "plans" / "broken.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(FAILING_PLAN, encoding="utf-8")
    code, output, flow_run = run_deployment(deployed, worker, "plan-tasks/on-demand",
                                            'settings={"plan": "docs/plans/broken.md"}')
    # docs/deploy.md: "`--watch` makes the step fail when the flow run fails".
    assert code == 1, output
    assert flow_run["state"]["type"] == "FAILED", output
    # The on-demand deployment's root is the default ".": the project the pull step went to.
    statuses = read_status(deployed.project / "docs" / "plan-outputs" / "broken" / "status.json")
    assert statuses == {"1.1": "failed"}, output
