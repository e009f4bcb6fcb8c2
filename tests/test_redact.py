"""Secrets: values of secret-named environment variables (and `redact = [...]`) become
``***`` in everything a run stores or sends.

The end-to-end test plants a token in the environment, has tasks print it
(one succeeds, one fails, an agent gets it in its argv) and reads every sink
back: status.json, findings, logs, ``--events-jsonl``, the terminal, and from
the real Prefect server the flow run's parameters, task-run state messages,
artifacts, events and logs.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.redact import Redactor, hide_argv, reveal_argv, secrets_in_environment
from plan_tasks.run.settings import configured_redactions

TOKEN = "sk-test-5f0c2a9e81d4b7c3"  # a value no other test prints


@pytest.mark.parametrize(("name", "value", "secret"), [
    ("ANTHROPIC_API_KEY", "sk-ant-123456", True),
    ("GITHUB_TOKEN", "ghp_abcdef", True),
    ("db_password", "hunter22", True),  # any case
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", True),
    ("GOOGLE_APPLICATION_CREDENTIALS", "/keys/sa.json", True),
    ("HOME", "/root/home", False),  # name says nothing
    ("FEATURE_KEY", "1", False),  # too short to be a secret: would star out every "1"
])
def test_secret_named_variables_are_found_by_name_and_length(name: str, value: str, secret: bool) -> None:
    assert (value in secrets_in_environment({name: value})) is secret


def test_redactor_replaces_every_occurrence_longest_secret_first() -> None:
    redactor = Redactor(["abcdef", "abcdefgh"])
    assert redactor.text("x abcdefgh y abcdef z") == "x *** y *** z"
    assert redactor.value({"a": ["abcdef", ("abcdefgh", 3)], "n": 1}) == {"a": ["***", ("***", 3)], "n": 1}


def test_a_hidden_agent_command_is_revealed_only_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tasks import redact

    monkeypatch.setenv("MY_API_TOKEN", TOKEN)
    redact.configure()
    hidden = hide_argv(["agent", "--key", TOKEN])
    assert hidden == ["agent", "--key", "***"]
    assert reveal_argv(hidden) == ("agent", "--key", TOKEN)
    assert reveal_argv(["agent", "--key", "***", "other"]) == ("agent", "--key", "***", "other")


@pytest.mark.parametrize(("toml", "expected"), [
    ('redact = ["internal.example.com"]', ["internal.example.com"]),
    ('redact = ["$DATABASE_URL"]', ["postgres://u:p@db/x"]),
    ("", []),
])
def test_redact_setting_lists_values_and_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str,
                                                   expected: list[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/x")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(f"[tool.plan-tasks]\n{toml}\n", encoding="utf-8")
    assert configured_redactions(tmp_path) == expected


def test_a_redact_setting_that_is_not_a_list_of_strings_is_a_located_error(tmp_path: Path) -> None:
    from plan_tasks.errors import PlanError

    (tmp_path / "pyproject.toml").write_text("[tool.plan-tasks]\nredact = 3\n", encoding="utf-8")
    with pytest.raises(PlanError, match="`redact` in \\[tool.plan-tasks\\] must be a list of strings"):
        configured_redactions(tmp_path)


# -- a run that prints the token, read back from every sink ------------------------------

LEAKY_PLAN = """\
# Plan: Leaky

## Phase 1: Work

- [ ] 1.1 Print the token and succeed
  Run: `echo "the key is $LEAKY_API_TOKEN on internal.example.com"`
- [ ] 1.2 Print the token and fail
  Run: `echo "denied for $LEAKY_API_TOKEN" >&2; exit 1`
- [ ] 1.3 Ask the agent, which gets the token in its argv
"""

AGENT = """\
import os, sys
sys.stdin.read()
if sys.argv[1] != os.environ["LEAKY_API_TOKEN"]:
    sys.exit(3)  # the agent must get the real token, not the starred one
print("the agent used " + sys.argv[1])
"""


def server_json(api_url: str, path: str, body: dict[str, Any]) -> Any:
    from server_helpers import api_request

    return api_request(api_url, path, body)


def all_events_since(since: datetime, until_seen: str) -> list[dict[str, Any]]:
    """Every event the server stored since ``since``, once one named ``until_seen`` is there (or 20 s)."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventOccurredFilter

    deadline = time.monotonic() + 20.0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(filter=EventFilter(occurred=EventOccurredFilter(since=since)), limit=50)
            events = list(page.events)
            while page.next_page is not None:
                page = client.read_events_page(page.next_page)
                events.extend(page.events)
            dumped = [json.loads(event.model_dump_json()) for event in events]
            if any(event["event"] == until_seen for event in dumped) or time.monotonic() > deadline:
                return dumped
            time.sleep(0.3)


@pytest.fixture
def leaky_run(prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, str]:
    """The leaky plan run through ``main`` with the token in the environment; (root, terminal, API URL)."""
    from plan_tasks.cli.main import main

    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_SERVER_LOGGING_LEVEL", "PREFECT_LOGGING_SERVER_LEVEL"):
        monkeypatch.setenv(name, "ERROR")
    monkeypatch.setenv("LEAKY_API_TOKEN", TOKEN)
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "plan-cache"))
    root = tmp_path / "project"
    root.mkdir()
    (root / "leaky.md").write_text(LEAKY_PLAN, encoding="utf-8")
    (root / "agent.py").write_text(AGENT, encoding="utf-8")
    (root / "pyproject.toml").write_text('[tool.plan-tasks]\nredact = ["internal.example.com"]\n', encoding="utf-8")
    code = main(["run", str(root / "leaky.md"), "--root", str(root), "--retries", "0",
                 "--agent-command", shlex.join([sys.executable, str(root / "agent.py"), TOKEN]),
                 "--events-jsonl", str(root / "events.jsonl")])
    assert code == 1  # 1.2 failed
    captured = capsys.readouterr()
    return root, captured.out + captured.err, prefect_server


@pytest.mark.slow
def test_a_token_a_task_prints_reaches_no_sink(leaky_run: tuple[Path, str, str]) -> None:
    root, terminal, api_url = leaky_run
    since = datetime.now(timezone.utc) - timedelta(minutes=30)  # the run was a moment ago
    outputs = root / "docs" / "plan-outputs" / "leaky"
    status = json.loads((outputs / "status.json").read_text(encoding="utf-8"))
    tasks = {task["id"]: task for task in status["tasks"]}
    assert tasks["1.3"]["status"] == "completed"  # the agent ran with the real token
    assert "denied for ***" in tasks["1.2"]["error"] and "denied for ***" in tasks["1.2"]["lastError"]
    on_disk = {path: path.read_text(encoding="utf-8") for path in outputs.rglob("*") if path.is_file()}
    on_disk[root / "events.jsonl"] = (root / "events.jsonl").read_text(encoding="utf-8")
    assert "the key is *** on ***" in on_disk[outputs / "findings" / "1-1.md"]
    assert "the agent used ***" in on_disk[outputs / "findings" / "1-3.md"]
    assert "denied for ***" in on_disk[outputs / "logs" / "1.2.log"]
    sinks: dict[str, str] = {str(path): text for path, text in on_disk.items()}
    sinks["terminal"] = terminal

    flow_runs = server_json(api_url, "/flow_runs/filter", {"flow_runs": {"name": {"any_": ["leaky"]}}})
    assert len(flow_runs) == 1 and flow_runs[0]["parameters"]["settings"]["agent_command"][-1] == "***"
    flow_run_id = flow_runs[0]["id"]
    children = server_json(api_url, "/flow_runs/filter",
                           {"flow_runs": {"parent_flow_run_id": {"operator": "or_", "any_": [flow_run_id]}}})
    run_ids = [flow_run_id, *(child["id"] for child in children)]
    task_runs = server_json(api_url, "/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": run_ids}}})
    failed = [task_run for task_run in task_runs if task_run["name"].startswith("1.2 ")]
    assert "denied for ***" in failed[0]["state"]["message"]
    artifacts = server_json(api_url, "/artifacts/filter", {"artifacts": {"key": {"any_": ["leaky-outcomes"]}}})
    assert "denied for ***" in json.dumps(artifacts)
    logs = server_json(api_url, "/logs/filter", {"logs": {"flow_run_id": {"any_": run_ids}}, "limit": 200})
    events = all_events_since(since, "plan.task.failed")
    assert any(event["event"] == "plan.task.failed" and "denied for ***" in event["payload"]["error"]
               for event in events)
    for name, found in (("flow runs", flow_runs + children), ("task runs", task_runs), ("artifacts", artifacts),
                        ("logs", logs), ("events", events)):
        sinks[f"Prefect {name}"] = json.dumps(found)
    leaks = {name: text.count(TOKEN) for name, text in sinks.items() if TOKEN in text or "internal.example" in text}
    assert leaks == {}, leaks


def test_marking_commands_store_no_secret_of_the_environment(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import json as json_module

    from plan_tasks.cli.main import main as cli_main

    (tmp_path / "plan.md").write_text("# Plan: P\n\n## Phase 1: One\n\n- [ ] 1.1 Do it\n- [ ] 1.2 Then this\n",
                                      encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEPLOY_API_KEY", "sk-live-abcdef123456")
    assert cli_main(["init", "--plan", "plan.md"]) == 0
    assert cli_main(["mark-failed", "1.1", "--plan", "plan.md", "--error", "auth sk-live-abcdef123456 refused"]) == 0
    assert cli_main(["increment-retry", "1.2", "--plan", "plan.md", "--error", "sk-live-abcdef123456"]) == 0
    assert cli_main(["write-findings", "1.1", "--plan", "plan.md", "--content", "key sk-live-abcdef123456"]) == 0
    stored = (tmp_path / "docs/plan-outputs/plan/status.json").read_text(encoding="utf-8")
    findings = (tmp_path / "docs/plan-outputs/plan/findings/1-1.md").read_text(encoding="utf-8")
    assert "sk-live-abcdef123456" not in stored + findings
    tasks = {task["id"]: task for task in json_module.loads(stored)["tasks"]}
    assert tasks["1.1"]["error"] == "auth *** refused" and findings == "key ***"
