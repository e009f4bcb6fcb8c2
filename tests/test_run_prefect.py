"""`plan-tasks run` on a real Prefect server (``prefect_server``, one per session).

Plans from ``fixtures/plans_run`` run in-process in temporary projects, with
the offline fake agent (``examples/fake_agent.py``) doing the work; its markers
(``[fake-agent: sleep 1]``, ``fail``, ``flaky N``, ``escape``, ``count``) in a
task's text make the workload. What a run did is read back from status.json
(which the run writes) and from the Prefect API (flow, subflow and task runs,
artifacts), never from mocks. A run is shared by the tests of one behaviour
each, since every flow run costs seconds.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.load import load_plan

FIXTURES = Path(__file__).parent / "fixtures" / "plans_run"
FAKE_AGENT = Path(__file__).resolve().parents[1] / "examples" / "fake_agent.py"
AGENT = [sys.executable, str(FAKE_AGENT)]


@pytest.fixture(scope="module", autouse=True)
def _plan_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The parse cache of every run here lives in a temporary directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path_factory.mktemp("plan-cache")))
        yield


# -- running a plan and reading back what it did ---------------------------------


@dataclass
class PlanRun:
    name: str  # the plan's file name without .md
    root: Path  # the project
    state: Any  # final state of the plan's flow run

    @property
    def status(self) -> dict[str, Any]:
        path = self.root / "docs" / "plan-outputs" / self.name / "status.json"
        return json.loads(path.read_text(encoding="utf-8"))

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return {task["id"]: task for task in self.status["tasks"]}

    @property
    def flow_run_id(self) -> Any:
        return self.state.state_details.flow_run_id

    def runs_counted(self, task_id: str, counter: str = "runs") -> int:
        """How often the fake agent ran the task (``count``) or attempted it (``flaky``)."""
        path = self.root / ".fake-agent" / f"{task_id}.{counter}"
        return int(path.read_text()) if path.exists() else 0


def copy_plan(name: str, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIXTURES / f"{name}.md", root / f"{name}.md"))


def run_fixture_plan(name: str, root: Path, **options: Any) -> PlanRun:
    from plan_tasks.prefect.flow import run_plan
    from plan_tasks.run.settings import RunSettings

    copy_plan(name, root)
    options = {"agent_command": AGENT, "retry_delay_seconds": 0.1, **options}
    state = run_plan(settings=RunSettings(plan=f"{name}.md", root=str(root), **options), return_state=True)
    return PlanRun(name, root, state)


def interval(task: dict[str, Any]) -> tuple[datetime, datetime]:
    return parse_time(task["startedAt"]), parse_time(task["completedAt"])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def overlap(first: tuple[datetime, datetime], second: tuple[datetime, datetime]) -> bool:
    return first[0] < second[1] and second[0] < first[1]


def phase_subflow_runs(flow_run_id: Any) -> dict[str, Any]:
    """The plan flow run's child flow runs (its phases), by name."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
    return {child.name: child for child in children}


def plan_task_runs(flow_run_id: Any) -> dict[str, Any]:
    """The task run of each plan task's last attempt (in the phase subflows), by plan task id."""
    return {task_id: runs[-1] for task_id, runs in attempt_task_runs(flow_run_id).items()}


def attempt_task_runs(flow_run_id: Any) -> dict[str, list[Any]]:
    """Every attempt's task run, by plan task id, first attempt first: a retry is a task run of its own."""
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

    subflows = phase_subflow_runs(flow_run_id)
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(
            flow_run_id=TaskRunFilterFlowRunId(any_=[subflow.id for subflow in subflows.values()])))
    names = [run.name for run in runs]
    assert len(set(names)) == len(names), f"two task runs of one attempt: {names}"
    by_id: dict[str, list[Any]] = {}
    for run in sorted(runs, key=lambda run: (len(run.name), run.name)):  # "(attempt 2)" after the first
        by_id.setdefault(run.name.split(" ", 1)[0], []).append(run)
    return by_id


def flow_run_artifacts(flow_run_id: Any) -> dict[str, Any]:
    """The artifacts of a flow run, by key; a table's rows decoded."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    for artifact in artifacts:
        if artifact.type == "table" and isinstance(artifact.data, str):
            artifact.data = json.loads(artifact.data)
    return {artifact.key: artifact for artifact in artifacts}


def read_flow_run(flow_run_id: Any) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def plan_events(plan_name: str, expected: int) -> list[Any]:
    """The ``plan.task.*`` events the server stored for a plan (it stores them in
    batches, so wait until ``expected`` are there, or 20 s)."""
    import time

    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    event_filter = EventFilter(event=EventNameFilter(prefix=["plan.task."]),
                               resource=EventResourceFilter(id_prefix=[f"plan-tasks.task.{plan_name}."]))
    deadline = time.monotonic() + 20.0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(filter=event_filter, limit=50)
            events = list(page.events)
            while page.next_page is not None:
                page = client.read_events_page(page.next_page)
                events.extend(page.events)
            if len(events) >= expected or time.monotonic() > deadline:
                return events
            time.sleep(0.2)


# -- a clean run: parallel, sequential, same-file and cross-phase edges ------------


@pytest.fixture(scope="module")
def shapes(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> PlanRun:
    """shapes.md with every kind of edge, phases free to overlap (gate 0), four slots."""
    root = tmp_path_factory.mktemp("shapes")
    return run_fixture_plan("shapes", root, phase_gate=0.0, max_parallel=4, update_plan=True,
                            events_jsonl=str(root / "events.jsonl"))


def test_clean_run_completes_every_task_and_the_flow_run(shapes: PlanRun) -> None:
    assert shapes.state.is_completed(), shapes.state
    assert {task_id: task["status"] for task_id, task in shapes.tasks.items()} == dict.fromkeys(
        ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3"], "completed")
    assert read_flow_run(shapes.flow_run_id).state.is_completed()


def test_independent_tasks_run_at_the_same_time(shapes: PlanRun) -> None:
    tasks = shapes.tasks
    for first, second in [("1.1", "1.4"), ("1.1", "1.5"), ("1.4", "1.5")]:
        assert overlap(interval(tasks[first]), interval(tasks[second])), (first, second, tasks[first], tasks[second])


def test_sequential_execution_note_runs_its_tasks_one_by_one_in_document_order(shapes: PlanRun) -> None:
    tasks = shapes.tasks
    for earlier, later in [("1.1", "1.2"), ("1.2", "1.3")]:
        assert interval(tasks[earlier])[1] <= interval(tasks[later])[0], (earlier, later)


def test_tasks_of_a_phase_naming_the_same_file_never_overlap(shapes: PlanRun) -> None:
    tasks = shapes.tasks
    assert not overlap(interval(tasks["2.1"]), interval(tasks["2.2"])), (tasks["2.1"], tasks["2.2"])
    assert interval(tasks["2.1"])[1] <= interval(tasks["2.2"])[0]  # in document order


def test_every_graph_edge_is_a_wait_for_of_the_downstream_task_run(shapes: PlanRun) -> None:
    graph = load_plan(str(shapes.root / "shapes.md")).graph
    assert {edge.kind for edge in graph.edges} == {"depends", "sequential", "file"}
    task_runs = plan_task_runs(shapes.flow_run_id)
    for task_id, task_run in task_runs.items():
        waits_for = {upstream.id for upstream in task_run.task_inputs.get("wait_for", [])}
        expected = {task_runs[upstream].id for upstream in graph.predecessors[task_id]}
        assert waits_for == expected, (task_id, graph.predecessors[task_id])
    edges = {(edge.source, edge.target) for edge in graph.edges}
    assert edges == {("1.1", "1.2"), ("1.2", "1.3"), ("2.1", "2.2"), ("1.4", "2.3")}  # 1.4 -> 2.3 crosses subflows


def test_task_runs_are_named_after_tasks_inside_phase_subflows_of_the_plan_flow_run(shapes: PlanRun) -> None:
    plan = load_plan(str(shapes.root / "shapes.md")).plan
    assert read_flow_run(shapes.flow_run_id).name == "shapes"
    subflows = phase_subflow_runs(shapes.flow_run_id)
    assert sorted(subflows) == ["Phase 1: Chain and parallel work", "Phase 2: One shared file"]
    task_runs = plan_task_runs(shapes.flow_run_id)
    assert sorted(task_runs) == sorted(plan.task_by_id)
    for task_id, task_run in task_runs.items():
        task = plan.task_by_id[task_id]
        assert task_run.name == f"{task.id} {task.title}"
        assert task_run.flow_run_id == subflows[plan.phase_of(task).name].id
        assert task_run.state.is_completed()
    assert all(len(runs) == 1 for runs in attempt_task_runs(shapes.flow_run_id).values())


def test_update_plan_ticks_the_checkbox_of_every_completed_task(shapes: PlanRun) -> None:
    text = (shapes.root / "shapes.md").read_text(encoding="utf-8")
    ticked = [line.split()[2] for line in text.splitlines() if line.startswith("- [x] ")]
    assert ticked == ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3"]
    assert "- [ ]" not in text


def test_events_jsonl_has_a_started_and_a_completed_line_per_task(shapes: PlanRun) -> None:
    lines = [json.loads(line) for line in (shapes.root / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    events: dict[str, list[str]] = {}
    for line in lines:
        assert line["plan"] == "shapes"
        events.setdefault(line["task"], []).append(line["event"])
    assert events == dict.fromkeys(shapes.tasks, ["plan.task.started", "plan.task.completed"])


def test_prefect_events_name_the_task_as_resource_and_its_task_run_and_phase_run_as_related(
    shapes: PlanRun,
) -> None:
    task_runs = plan_task_runs(shapes.flow_run_id)
    events = plan_events("shapes", 2 * len(shapes.tasks))
    seen: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda event: event.occurred):
        task_id = event.resource.id.removeprefix("plan-tasks.task.shapes.")
        seen.setdefault(task_id, []).append(event.event)
        assert event.resource.get("plan-tasks.plan") == "shapes"
        assert event.payload["task"] == task_id
        related = {resource.role: resource.id for resource in event.related}
        task_run = task_runs[task_id]
        assert related == {"task-run": f"prefect.task-run.{task_run.id}",
                           "flow-run": f"prefect.flow-run.{task_run.flow_run_id}"}  # the phase's subflow run
    assert seen == dict.fromkeys(shapes.tasks, ["plan.task.started", "plan.task.completed"])


def test_flow_run_has_graph_progress_and_outcome_artifacts(shapes: PlanRun) -> None:
    by_key = flow_run_artifacts(shapes.flow_run_id)
    assert {key: artifact.type for key, artifact in by_key.items()} == {
        "shapes-graph": "markdown", "shapes-progress": "progress", "shapes-outcomes": "table"}
    assert "```mermaid" in by_key["shapes-graph"].data
    assert float(by_key["shapes-progress"].data) == 100.0
    assert [(row["task"], row["outcome"], row["attempts"]) for row in by_key["shapes-outcomes"].data] == [
        (task_id, "completed", 1) for task_id in ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3"]]


# -- the phase gate ----------------------------------------------------------------


def run_gates(phase_gate: float, root: Path) -> tuple[dict[str, dict[str, Any]], Any, Any]:
    """gates.md at ``phase_gate``: status.json's tasks and the two phase subflow runs."""
    run = run_fixture_plan("gates", root, phase_gate=phase_gate, max_parallel=3)
    assert run.state.is_completed(), run.state
    subflows = {name.split(":")[0]: subflow for name, subflow in phase_subflow_runs(run.flow_run_id).items()}
    return run.tasks, subflows["Phase 1"], subflows["Phase 2"]


def test_phase_gate_0_starts_phase_2_work_while_a_slow_phase_1_task_runs(prefect_server: str, tmp_path: Path) -> None:
    # 2.1 waits only for the quick 1.2, which starts with the slow 1.1 (four seconds).
    tasks, phase_1, phase_2 = run_gates(0.0, tmp_path / "project")
    slow = interval(tasks["1.1"])
    assert slow[0] < parse_time(tasks["2.1"]["startedAt"]) < slow[1], tasks
    assert phase_1.start_time < phase_2.start_time < phase_1.end_time, (phase_1, phase_2)


def test_below_gate_1_the_next_phase_subflow_is_started_ahead_but_its_tasks_wait_for_the_gate(
    prefect_server: str, tmp_path: Path,
) -> None:
    # At 0.8 both of phase 1's tasks must settle before 2.1 (ceil(0.8 * 2) = 2); phase 2's
    # subflow is started as soon as phase 1 is open, so it is up when the gate opens.
    tasks, phase_1, phase_2 = run_gates(0.8, tmp_path / "project")
    slow = interval(tasks["1.1"])
    assert parse_time(tasks["2.1"]["startedAt"]) >= max(interval(tasks[t])[1] for t in ("1.1", "1.2")), tasks
    assert phase_2.start_time < slow[1], (phase_2, tasks["1.1"])
    assert phase_1.start_time < phase_2.start_time, (phase_1, phase_2)


def test_phase_gate_1_starts_phase_2_after_all_of_phase_1(prefect_server: str, tmp_path: Path) -> None:
    tasks, phase_1, phase_2 = run_gates(1.0, tmp_path / "project")
    assert parse_time(tasks["2.1"]["startedAt"]) >= max(interval(tasks[t])[1] for t in ("1.1", "1.2")), tasks
    # Phase 2's subflow is created when phase 1's last task settles, while phase 1's
    # subflow only records its end; the creation's API calls take longer (~0.1 s here).
    assert phase_2.start_time >= phase_1.end_time, (phase_1, phase_2)


# -- failures, retries, refused writes ---------------------------------------------


@pytest.fixture(scope="module")
def failures(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> PlanRun:
    """failures.md in ``<tmp>/project``, so that ``<tmp>`` shows what an agent wrote outside it."""
    return run_fixture_plan("failures", tmp_path_factory.mktemp("failures") / "project", max_parallel=4)


def test_permanent_failure_fails_the_task_once_without_retry(failures: PlanRun) -> None:
    task = failures.tasks["1.1"]
    assert (task["status"], task["planTasks"]["failureCategory"], task["retryCount"]) == ("failed", "permanent", 0)
    assert "cannot be done" in task["error"]
    assert failures.runs_counted("1.1") == 1
    assert len(attempt_task_runs(failures.flow_run_id)["1.1"]) == 1


def test_dependants_of_a_failed_task_are_skipped_transitively_and_never_run(failures: PlanRun) -> None:
    tasks = failures.tasks
    for task_id in ("1.2", "1.3", "2.1"):  # 1.3 through 1.2, 2.1 through 1.3
        assert (tasks[task_id]["status"], tasks[task_id]["skipReason"]) == ("skipped", "depends on failed task 1.1")
    assert not {"1.2", "1.3", "2.1"} & set(plan_task_runs(failures.flow_run_id))


def test_prefect_events_report_failed_and_skipped_tasks(failures: PlanRun) -> None:
    events = plan_events("failures", 2 + 3 + 2 * 3 + 2)  # 2 failed, 3 skipped, 3 completed, 2 started+failed
    kinds = {}
    for event in events:
        kinds.setdefault(event.event, set()).add(event.resource.id.removeprefix("plan-tasks.task.failures."))
    assert kinds["plan.task.failed"] == {"1.1", "1.5"}
    assert kinds["plan.task.skipped"] == {"1.2", "1.3", "2.1"}
    assert kinds["plan.task.completed"] == {"1.4", "1.6", "2.2"}
    skipped = next(event for event in events if event.event == "plan.task.skipped")
    assert skipped.payload["reason"].startswith("depends on failed task")


def test_independent_tasks_complete_despite_failures(failures: PlanRun) -> None:
    tasks = failures.tasks
    assert [tasks[task_id]["status"] for task_id in ("1.4", "1.6", "2.2")] == ["completed"] * 3
    assert (failures.runs_counted("1.4"), failures.runs_counted("2.2")) == (1, 1)


def test_plan_flow_run_ends_failed_when_a_task_failed(failures: PlanRun) -> None:
    from plan_tasks.prefect.flow import PlanRunFailed

    assert failures.state.is_failed(), failures.state
    assert read_flow_run(failures.flow_run_id).state.is_failed()
    error = failures.state.result(raise_on_failure=False)
    assert isinstance(error, PlanRunFailed)
    assert str(error).startswith("2 of 8 tasks failed (3 skipped because of them)")


def test_file_block_outside_the_project_is_refused_permanently(failures: PlanRun) -> None:
    task = failures.tasks["1.5"]
    assert (task["status"], task["planTasks"]["failureCategory"]) == ("failed", "permanent")
    assert "refused to write `../outside.txt`" in task["error"]
    assert list(failures.root.parent.iterdir()) == [failures.root]  # nothing written next to the project
    assert failures.runs_counted("1.5") == 1
    assert len(attempt_task_runs(failures.flow_run_id)["1.5"]) == 1


def test_outcome_table_and_progress_of_a_failed_run_cover_every_task(failures: PlanRun) -> None:
    artifacts = flow_run_artifacts(failures.flow_run_id)
    assert float(artifacts["failures-progress"].data) == 100.0  # failed and skipped tasks are settled too
    rows = {row["task"]: row for row in artifacts["failures-outcomes"].data}
    assert {task_id: (row["outcome"], row["attempts"]) for task_id, row in rows.items()} == {
        "1.1": ("failed", 1), "1.2": ("skipped", 0), "1.3": ("skipped", 0), "1.4": ("completed", 1),
        "1.5": ("failed", 1), "1.6": ("completed", 2), "2.1": ("skipped", 0), "2.2": ("completed", 1)}
    assert rows["2.1"]["detail"] == "depends on failed task 1.1"
    assert "cannot be done" in rows["1.1"]["detail"]


def test_flaky_task_succeeds_on_its_retry(failures: PlanRun) -> None:
    task = failures.tasks["1.6"]
    assert (task["status"], task["retryCount"]) == ("completed", 1)
    assert failures.runs_counted("1.6", "attempts") == 2
    first, retry = attempt_task_runs(failures.flow_run_id)["1.6"]  # the driver retries: one task run per attempt
    assert first.state.is_failed() and "transient" in first.state.message
    assert retry.state.is_completed() and retry.name.endswith("(attempt 2)")


# -- selections, through the command line in this process --------------------------


@pytest.fixture
def run_command(prefect_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``plan-tasks run ...`` through ``main``, on the session's server."""
    from plan_tasks.cli.main import main

    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_SERVER_LOGGING_LEVEL", "PREFECT_LOGGING_SERVER_LEVEL"):
        monkeypatch.setenv(name, "ERROR")  # `run` sets them when unset; keep them from leaking
    monkeypatch.delenv("PLAN_TASKS_AGENT_COMMAND", raising=False)

    def run(plan: Path, *args: str) -> int:
        return main(["run", str(plan), *args, "--root", str(plan.parent), "--agent-command", shlex.join(AGENT),
                     "--retry-delay", "0.1"])

    return run


@pytest.mark.parametrize(("selection", "expected"), [
    (["1.1", "1.3"], ["1.1", "1.3"]),
    (["phase:2"], ["2.1", "2.2"]),
], ids=["task ids", "a phase"])
def test_run_of_a_selection_runs_only_the_selected_tasks(
    run_command: Any, tmp_path: Path, selection: list[str], expected: list[str],
) -> None:
    plan = copy_plan("selection", tmp_path / "project")
    assert run_command(plan, *selection) == 0
    run = PlanRun("selection", plan.parent, state=None)
    assert {task_id: task["status"] for task_id, task in run.tasks.items()} == {
        task_id: "completed" if task_id in expected else "pending" for task_id in ["1.1", "1.2", "1.3", "2.1", "2.2"]}
    assert sorted(path.name for path in (plan.parent / ".fake-agent").iterdir()) == [f"{t}.runs" for t in expected]
    assert all(run.runs_counted(task_id) == 1 for task_id in expected)


def test_phase_subflow_with_a_failed_task_ends_failed_and_a_clean_one_completed(
        failures: PlanRun, shapes: PlanRun) -> None:
    failed_run_phases = phase_subflow_runs(failures.flow_run_id)
    assert failed_run_phases["Phase 1: Mixed outcomes"].state.is_failed()
    clean_run_phases = phase_subflow_runs(shapes.flow_run_id)
    assert all(run.state.is_completed() for run in clean_run_phases.values())
