"""The agent presets against fake CLIs that take the real ones' arguments and print their output shapes.

Each attempt here is a real process (``tests/fake_agents/<cli>`` first on PATH,
``fake_agent_bin``) run by the agent executor as a run runs it: the argv the
preset builds must pass the fake's argument parser (it exits 2 on a flag the
real CLI does not have), the prompt must arrive the way the CLI reads it, and
what the executor makes of the output (FILE blocks, findings, cost, tokens,
turns, the category of a failure) is checked against what the fake printed.
Whole runs through `plan-tasks run` are in ``test_agent_runs.py``.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.errors import PlanError
from plan_tasks.executors.agent import ask_agent, build_prompt
from plan_tasks.executors.agent_output import json_objects, parse_aider, parse_claude, parse_gemini
from plan_tasks.executors.agent_presets import PRESETS, PROMPT_FILE, AgentName
from plan_tasks.executors.outcome import AgentUsage, TaskFailure, TaskRequest
from plan_tasks.load import load_text
from plan_tasks.run.settings import RunSettings, build_settings, resolve_agent_argv

CLIS = ("claude", "codex", "gemini", "aider", "opencode")
# What each fake reports for an answer at its default cost ($0.0125), as the executor must read it.
EXPECTED_USAGE = {
    "claude": AgentUsage(cost_usd=0.0125, input_tokens=1200, output_tokens=300, turns=3),  # cache tokens counted in
    "codex": AgentUsage(input_tokens=2400, output_tokens=420),  # no cost, no turns
    "gemini": AgentUsage(input_tokens=3000, output_tokens=600, turns=2),  # thoughts are output; requests are turns
    "aider": AgentUsage(cost_usd=0.0125, input_tokens=2400, output_tokens=350, turns=1),  # "2.4k sent"
    "opencode": AgentUsage(cost_usd=0.0125, input_tokens=2000, output_tokens=300, turns=2),  # summed over steps
}
# How each CLI takes its prompt, as its documentation says.
PROMPT_ARGUMENTS = {
    "claude": ["-p", "--output-format", "json"],  # prompt on stdin
    "codex": ["exec", "--json", "--skip-git-repo-check", "--sandbox", "read-only", "-"],  # "-": read stdin
    "gemini": ["--output-format", "json"],  # headless: stdin is the prompt
    "aider": ["--message-file", PROMPT_FILE, "--yes-always", "--no-stream", "--no-pretty", "--no-auto-commits",
              "--no-check-update", "--no-show-model-warnings", "--chat-mode", "ask"],
    "opencode": ["run", "--format", "json", "--agent", "plan"],  # stdin appended to the message
}

PLAN = """# Presets

## Phase 1: Work

- [ ] 1.1 Create `src/notes.txt` {marker}
"""


def request_for(root: Path, cli: str, marker: str = "", extra: tuple[str, ...] = (), edits: bool = False,
                attempt: int = 1) -> TaskRequest:
    plan = load_text(PLAN.format(marker=marker)).plan
    task = plan.task_by_id["1.1"]
    return TaskRequest(task=task, plan_title=plan.title, phase_name=plan.phase_of(task).name, root=root,
                       timeout=60.0, agent_command=PRESETS[cli].argv(extra, edits=edits), agent_preset=cli,
                       attempt=attempt, plan_path=str(root / "plan.md"))


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the fake CLIs record each call in (argv, prompt, working directory, PLAN_TASKS_*)."""
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_CLI_RECORD", str(record))
    return record


def recorded(record: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def test_the_agent_setting_offers_exactly_the_presets() -> None:
    assert typing.get_args(AgentName) == tuple(PRESETS)


@pytest.mark.parametrize("cli", CLIS)
def test_preset_passes_the_prompt_as_the_cli_documents_and_reads_answer_and_usage(
        cli: str, tmp_path: Path, fake_agent_bin: Path, calls: Path) -> None:
    request = request_for(tmp_path, cli, attempt=2)
    outcome = ask_agent(request)
    assert [(block.path, block.content) for block in outcome.blocks] == [
        ("src/notes.txt", f"Create `src/notes.txt` (task 1.1, by the fake {cli})\n")]
    assert outcome.findings is not None and outcome.findings.strip() == f"Task 1.1 done by the fake {cli}."
    assert outcome.usage == EXPECTED_USAGE[cli]
    [call] = recorded(calls)
    argv = call["argv"]
    if cli == "aider":  # a file outside the project, gone once the attempt is over
        prompt_file = Path(argv[argv.index("--message-file") + 1])
        assert not prompt_file.is_relative_to(tmp_path) and not prompt_file.exists()
        argv = [PROMPT_FILE if part == str(prompt_file) else part for part in argv]
    assert argv == PROMPT_ARGUMENTS[cli]
    assert call["prompt"].strip() == build_prompt(request).strip()
    assert call["cwd"] == str(tmp_path)
    assert call["env"] == {"PLAN_TASKS_TASK_ID": "1.1", "PLAN_TASKS_PLAN": str(tmp_path / "plan.md"),
                           "PLAN_TASKS_ROOT": str(tmp_path), "PLAN_TASKS_ATTEMPT": "2"}


@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize(("mode", "category"), [("rate-limit", "transient"), ("bad-request", "permanent")])
def test_a_rate_limit_is_transient_and_a_bad_request_permanent(
        cli: str, mode: str, category: str, tmp_path: Path, fake_agent_bin: Path) -> None:
    with pytest.raises(TaskFailure) as failed:
        ask_agent(request_for(tmp_path, cli, marker=f"[fake-cli: {mode}]"))
    assert failed.value.category == category, failed.value.message
    assert not (tmp_path / "src").exists()


@pytest.mark.parametrize("cli", CLIS)
def test_the_edit_mode_arguments_are_accepted_by_the_cli(cli: str, tmp_path: Path, fake_agent_bin: Path,
                                                        calls: Path) -> None:
    ask_agent(request_for(tmp_path, cli, edits=True))
    argv = recorded(calls)[0]["argv"]
    preset = PRESETS[cli]
    assert all(part in argv for part in preset.edit_args)
    assert not any(part in argv for part in preset.read_only_args if part not in preset.edit_args)


@pytest.mark.parametrize("cli", CLIS)
def test_agent_args_reach_the_cli_and_an_unknown_flag_fails_permanently(
        cli: str, tmp_path: Path, fake_agent_bin: Path, calls: Path) -> None:
    ask_agent(request_for(tmp_path, cli, extra=("--model", "big-model")))
    assert recorded(calls)[0]["argv"][-3 if cli == "codex" else -2:][:2] == ["--model", "big-model"]
    with pytest.raises(TaskFailure) as failed:
        ask_agent(request_for(tmp_path, cli, extra=("--no-such-flag",)))
    assert failed.value.category == "permanent"
    assert "exit code 2" in failed.value.message


def test_an_output_format_the_preset_cannot_read_fails_permanently_saying_so(tmp_path: Path,
                                                                           fake_agent_bin: Path) -> None:
    with pytest.raises(TaskFailure) as failed:  # a later --output-format wins: plain text, no JSON
        ask_agent(request_for(tmp_path, "claude", extra=("--output-format", "text")))
    assert failed.value.category == "permanent"
    assert "printed no final message" in failed.value.message


def test_a_failed_attempt_keeps_the_usage_it_reported(tmp_path: Path) -> None:
    reply = parse_claude('{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":30,'
                         '"total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":5}}')
    assert (reply.error, reply.category) == ("error_max_turns", "permanent")
    assert reply.usage == AgentUsage(cost_usd=0.5, input_tokens=10, output_tokens=5, turns=30)


@pytest.mark.parametrize(("text", "expected"), [
    ('warning: something\n{"type":"result","result":"hi","num_turns":1}\nmore noise\n', 1),
    ('{"a": 1}\n{\n  "nested": {"b": [1, 2]},\n  "c": "}"\n}\nnot json {"x": 1}\n', 2),
    ("", 0),
])
def test_json_objects_are_found_among_other_lines(text: str, expected: int) -> None:
    assert len(list(json_objects(text))) == expected


def test_gemini_indented_json_after_stderr_lines_is_read() -> None:
    text = 'Loaded cached credentials.\n{\n  "response": "done",\n  "stats": {"models": {"m": {"tokens": ' \
           '{"prompt": 5, "candidates": 2}, "api": {"totalRequests": 1}}}}\n}\n'
    reply = parse_gemini(text)
    assert (reply.message, reply.usage) == ("done", AgentUsage(input_tokens=5, output_tokens=2, turns=1))


@pytest.mark.parametrize(("line", "usage"), [
    ("Tokens: 12k sent, 133 received. Cost: $0.04 message, $0.10 session.",
     AgentUsage(cost_usd=0.04, input_tokens=12000, output_tokens=133, turns=1)),
    ("Tokens: 1,234 sent, 2.5k cache hit, 1.2M received.", AgentUsage(input_tokens=1234, output_tokens=1200000,
                                                                       turns=1)),
])
def test_aider_token_lines_are_read(line: str, usage: AgentUsage) -> None:
    reply = parse_aider(f"Aider v0.86.1\nMain model: x\n\nThe answer.\n\n{line}\n")
    assert (reply.message, reply.usage, reply.error) == ("The answer.", usage, None)


# -- settings ------------------------------------------------------------------------------------------


def test_a_preset_with_agent_args_gives_the_presets_argv_then_the_args(tmp_path: Path) -> None:
    settings = RunSettings(plan="plan.md", agent="codex", agent_args=("-m", "o3"))
    assert resolve_agent_argv(settings, (), tmp_path) == (
        "codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", "read-only", "-m", "o3", "-")


def test_agent_args_extend_the_agent_command_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAN_TASKS_AGENT_COMMAND", raising=False)
    settings = RunSettings(plan="plan.md", agent_args=("--fast",))
    assert resolve_agent_argv(settings, ("my-agent", "-q"), tmp_path) == ("my-agent", "-q", "--fast")


def test_agent_command_with_a_preset_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as refused:
        resolve_agent_argv(RunSettings(plan="plan.md", agent="claude"), ("my-agent",), tmp_path)
    assert "`--agent command`" in refused.value.message and "--agent-args" in (refused.value.hint or "")


def test_agent_and_agent_args_are_read_from_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.plan-tasks]\nagent = "gemini"\nagent-args = ["-m", "flash"]\n'
                                             "budget-usd = 2.5\n")
    settings = build_settings({"plan": "plan.md", "root": str(tmp_path)})
    assert (settings.agent, settings.agent_args, settings.budget_usd) == ("gemini", ("-m", "flash"), 2.5)


@pytest.mark.parametrize(("given", "message"), [
    ({"agent": "cursor"}, "`--agent`: should be 'command', 'claude', 'codex', 'gemini', 'aider' or 'opencode'"),
    ({"agent_args": "--model 'unclosed"}, "cannot split"),
    ({"budget_usd": "-1"}, "`--budget-usd`: should be greater than 0"),
])
def test_bad_agent_settings_name_the_option(given: dict[str, str], message: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError) as refused:
        build_settings({"plan": "plan.md", **given})
    assert message in refused.value.message


def test_a_preset_whose_cli_is_not_installed_is_refused_before_the_run(
        auth_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tasks.run.prepare import prepare_run

    monkeypatch.setenv("PATH", str(auth_project / "no-such-bin"))
    with pytest.raises(PlanError) as refused:
        prepare_run(RunSettings(plan="docs/plans/auth.md", root=str(auth_project), agent="aider"))
    assert "`aider` (`--agent aider`) is not on PATH" in refused.value.message
    assert not (auth_project / "docs" / "plan-outputs").exists()


def test_a_preset_whose_cli_is_installed_is_prepared_with_its_argv(
        auth_project: Path, fake_agent_bin: Path) -> None:
    from plan_tasks.run.prepare import prepare_run

    prepared = prepare_run(RunSettings(plan="docs/plans/auth.md", root=str(auth_project), agent="gemini",
                                       agent_args=("-m", "flash")))
    assert prepared.agent_command == ("gemini", "--output-format", "json", "-m", "flash")
