"""`plan-tasks run --agent NAME` end to end, on the fake CLIs of ``tests/fake_agents``.

A subprocess per run, on the Prefect server it starts for itself, as users run
it: each preset's run writes the FILE blocks of its answers, retries a rate
limit and not a bad request, stores what each task cost in status.json and
sums it in the summary line and the events, keeps the CLI's raw output in the
task's log, and gives the agent its PLAN_TASKS_* variables; ``--budget-usd``
stops handing out tasks once the run's cost reaches it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_agent_presets import CLIS, EXPECTED_USAGE
from test_run_cli import assert_quiet, cli_env, prefect_home, read_tasks, run_cli  # noqa: F401 - fixtures

from plan_tasks.executors.outcome import AgentUsage

PLAN = """# Agent Presets

## Phase 1: Work

- [ ] 1.1 Create `src/a.txt`
- [ ] 1.2 Create `src/b.txt` [fake-cli: rate-limit-once]
- [ ] 1.3 Check the service [fake-cli: bad-request]
"""
RAW_OUTPUT = {  # a piece of each CLI's own output format, as it must be in the task's log
    "claude": '"total_cost_usd": 0.0125', "codex": '"type": "turn.completed"', "gemini": '"totalRequests": 2',
    "aider": "Tokens: 2.4k sent", "opencode": '"type": "step_finish"',
}


def calls_of(record: Path, task_id: str) -> list[dict[str, Any]]:
    calls = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return [call for call in calls if call["env"]["PLAN_TASKS_TASK_ID"] == task_id]


@pytest.mark.parametrize("cli", CLIS)
def test_a_preset_run_writes_answers_retries_rate_limits_and_adds_up_the_cost(
        cli: str, cli_env: dict[str, str], tmp_path: Path, fake_agent_bin: Path) -> None:  # noqa: F811
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    plan = root / "docs" / "presets.md"
    plan.write_text(PLAN, encoding="utf-8")
    record, events = tmp_path / "calls.jsonl", tmp_path / "events.jsonl"
    env = {**cli_env, "PATH": f"{fake_agent_bin}:{cli_env['PATH']}", "FAKE_CLI_RECORD": str(record)}
    done = run_cli(env, "docs/presets.md", "--agent", cli, "--retry-delay", "0", "--max-parallel", "3",
                   "--events-jsonl", str(events), cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr  # 1.3's bad request fails the run
    assert_quiet(done.stdout + done.stderr)
    tasks = read_tasks(root, "presets")
    assert [tasks[task_id]["status"] for task_id in ("1.1", "1.2", "1.3")] == ["completed", "completed", "failed"]
    assert (root / "src" / "a.txt").read_text() == f"Create `src/a.txt` (task 1.1, by the fake {cli})\n"
    assert (root / "src" / "b.txt").is_file()
    assert [call["env"]["PLAN_TASKS_ATTEMPT"] for call in calls_of(record, "1.2")] == ["1", "2"]  # retried
    assert len(calls_of(record, "1.3")) == 1 and tasks["1.3"]["planTasks"]["failureCategory"] == "permanent"
    [call] = calls_of(record, "1.1")
    assert call["cwd"] == str(root)
    assert call["env"] == {"PLAN_TASKS_TASK_ID": "1.1", "PLAN_TASKS_PLAN": str(plan), "PLAN_TASKS_ROOT": str(root),
                           "PLAN_TASKS_ATTEMPT": "1"}
    # What each task cost is in status.json, the run's total in the summary line and the events.
    assert AgentUsage.from_json(tasks["1.1"]["planTasks"]["usage"]) == EXPECTED_USAGE[cli]
    stored = [AgentUsage.from_json(task.get("planTasks", {}).get("usage", {})) for task in tasks.values()]
    total = sum(stored, AgentUsage())
    assert f"agents: {total.describe()}; status:" in done.stdout
    if EXPECTED_USAGE[cli].cost_usd is not None:  # the task's line on the terminal says what it cost
        assert f" s, ${EXPECTED_USAGE[cli].cost_usd:.4f}" in done.stderr
    completed = [json.loads(line) for line in events.read_text().splitlines()
                 if json.loads(line)["event"] == "plan.task.completed"]
    assert {event["task"]: AgentUsage.from_json(event["usage"]) for event in completed}["1.1"] == EXPECTED_USAGE[cli]
    # The findings are the CLI's final message; the log keeps its whole raw output.
    findings = (root / "docs" / "plan-outputs" / "presets" / "findings" / "1-1.md").read_text()
    assert findings.strip() == f"Task 1.1 done by the fake {cli}."
    log = (root / "docs" / "plan-outputs" / "presets" / "logs" / "1.1.log").read_text()
    assert RAW_OUTPUT[cli] in log
    assert f"attempt 1: completed ({EXPECTED_USAGE[cli].describe()})" in log


BUDGET_PLAN = """# Budget

## Phase 1: Work

- [ ] 1.1 Create `src/one.txt`
- [ ] 1.2 Create `src/two.txt`
- [ ] 1.3 Create `src/three.txt`
- [ ] 1.4 Create `src/four.txt`
"""


def test_budget_stops_handing_out_tasks_once_the_cost_reaches_it(
        cli_env: dict[str, str], tmp_path: Path, fake_agent_bin: Path) -> None:  # noqa: F811
    root = tmp_path / "project"
    root.mkdir()
    (root / "budget.md").write_text(BUDGET_PLAN, encoding="utf-8")
    env = {**cli_env, "PATH": f"{fake_agent_bin}:{cli_env['PATH']}", "FAKE_CLI_COST": "0.04"}
    done = run_cli(env, "budget.md", "--agent", "claude", "--max-parallel", "1", "--budget-usd", "0.06", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert_quiet(done.stdout + done.stderr)
    tasks = read_tasks(root, "budget")
    assert [task["status"] for task in tasks.values()] == ["completed", "completed", "pending", "pending"]
    assert "stopped handing out tasks: the run's agents cost $0.0800, reaching its budget (--budget-usd 0.06); " \
           "2 task(s) not started stay pending" in done.stderr
    assert "2 completed, 0 failed, 0 skipped" in done.stdout and "agents: $0.0800" in done.stdout


def test_the_outcome_table_and_the_prefect_events_carry_each_tasks_cost(
        prefect_server: str, tmp_path: Path, fake_agent_bin: Path) -> None:
    from test_run_prefect import flow_run_artifacts, plan_events

    from plan_tasks.prefect.flow import run_plan
    from plan_tasks.run.settings import RunSettings

    root = tmp_path / "project"
    root.mkdir()
    (root / "costs.md").write_text(BUDGET_PLAN.replace("# Budget", "# Costs"), encoding="utf-8")
    state = run_plan(settings=RunSettings(plan="costs.md", root=str(root), agent="opencode"), return_state=True)
    assert state.is_completed()
    expected = EXPECTED_USAGE["opencode"].to_json()
    rows = flow_run_artifacts(state.state_details.flow_run_id)["costs-outcomes"].data
    assert [(row["task"], row["cost_usd"], row["input_tokens"], row["output_tokens"], row["turns"]) for row in rows] \
        == [(task_id, expected["costUsd"], expected["inputTokens"], expected["outputTokens"], expected["turns"])
            for task_id in ("1.1", "1.2", "1.3", "1.4")]
    completed = [event for event in plan_events("costs", 8) if event.event == "plan.task.completed"]
    assert sorted(event.payload["task"] for event in completed) == ["1.1", "1.2", "1.3", "1.4"]
    assert all(event.payload["usage"] == expected for event in completed)
    assert state.result()["usage"] == (EXPECTED_USAGE["opencode"] + EXPECTED_USAGE["opencode"]
                                       + EXPECTED_USAGE["opencode"] + EXPECTED_USAGE["opencode"]).to_json()
