"""Settings of a run (``plan_tasks.run.settings``) and the agent rate limit
(``plan_tasks.run.rate_limit``): rates as written on the command line, where the
agent command comes from, and calls spaced in real time."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from plan_tasks.errors import PlanError
from plan_tasks.run.rate_limit import RateLimiter
from plan_tasks.run.settings import (
    RunSettings,
    build_settings,
    parse_rate,
    parse_size,
    resolve_agent_command,
    resolve_output_limit,
    resolve_protect,
    setting_options,
)

# -- rates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "per_second"), [
    ("20/min", 20 / 60),
    ("1/s", 1.0),
    ("60/h", 60 / 3600),
    ("2/sec", 2.0),
    ("3/second", 3.0),
    ("30/m", 0.5),
    ("30/minute", 0.5),
    ("7200/hour", 2.0),
    ("1.5/s", 1.5),
    (" 10 / min ", 10 / 60),
])
def test_parse_rate_reads_calls_per_unit_as_calls_per_second(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["", "20", "20/day", "0/min", "-1/min", "abc/min", "20 per min", "/min", "1/s/s"])
def test_parse_rate_rejects_other_text_with_a_hint(text: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_rate(text)
    assert caught.value.message == f"cannot read rate limit {text!r}"
    assert caught.value.hint == "write it as N/min (or N/s, N/h), e.g. 20/min"


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({"executor": "docker"}, "`--executor`: should be 'agent', 'shell' or 'python', not 'docker'"),
    ({"phase_gate": 1.5}, "`--phase-gate`: should be less than or equal to 1, not 1.5"),
    ({"phase_gate": -0.1}, "`--phase-gate`: should be greater than or equal to 0, not -0.1"),
    ({"max_parallel": 0}, "`--max-parallel`: should be greater than or equal to 1, not 0"),
    ({"timeout_seconds": float("inf")}, "`--timeout`: should be a finite number, not inf"),
    ({"task_runner": "ray"}, "`--task-runner`: should be 'threads' or 'dask', not 'ray'"),
    ({"rate_limit_per_second": "lots/min"}, "`--rate-limit`: cannot read rate limit 'lots/min'"),
    ({"output_limit": "0MB"}, "`--output-limit`: cannot read size '0MB'"),
    ({"colour": "blue"}, "`colour` is not a setting of a run"),
])
def test_an_impossible_setting_is_a_plan_error_naming_its_option(
        places: tuple[Path, Path], options: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError) as caught:
        build_settings({"plan": "plan.md", **options})
    assert caught.value.message == message
    assert caught.value.hint  # the setting's description, or the list of settings


def test_run_settings_defaults_are_the_seeds() -> None:
    settings = RunSettings(plan="plan.md")
    assert (settings.phase_gate, settings.retries, settings.executor, settings.max_parallel) == (0.8, 2, "agent", None)
    assert (settings.task_runner, settings.dask_address) == ("threads", None)


def test_run_settings_are_frozen_and_refuse_unknown_fields() -> None:
    from pydantic import ValidationError

    settings = RunSettings(plan="plan.md")
    with pytest.raises(ValidationError):
        settings.retries = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        RunSettings(plan="plan.md", colour="blue")  # type: ignore[call-arg]


def test_the_executor_choices_are_the_registered_executors() -> None:
    import typing

    from plan_tasks.executors import EXECUTORS

    assert sorted(typing.get_args(RunSettings.model_fields["executor"].annotation)) == sorted(EXECUTORS)


# One option set, written the three ways a run gets its settings.
SAME_OPTIONS_CLI = ["--phase-gate", "0.5", "--max-parallel", "3", "--executor", "shell", "--retries", "4",
                    "--retry-delay", "0.5", "--timeout", "60", "--output-limit", "2MB", "--update-plan",
                    "--rate-limit", "30/min", "--events-jsonl", "events.jsonl", "--task-runner", "dask",
                    "--dask-address", "tcp://scheduler:8786"]
SAME_OPTIONS_PYPROJECT = """[tool.plan-tasks]
phase-gate = 0.5
max-parallel = 3
executor = "shell"
retries = 4
retry-delay = 0.5
timeout = 60
output-limit = "2MB"
update-plan = true
rate-limit = "30/min"
events-jsonl = "events.jsonl"
task-runner = "dask"
dask-address = "tcp://scheduler:8786"
"""
SAME_OPTIONS_PARAMETER = {"phase_gate": 0.5, "max_parallel": 3, "executor": "shell", "retries": 4,
                          "retry_delay_seconds": 0.5, "timeout_seconds": 60, "output_limit": 2_000_000,
                          "update_plan": True, "rate_limit_per_second": 0.5, "events_jsonl": "events.jsonl",
                          "task_runner": "dask", "dask_address": "tcp://scheduler:8786"}


def settings_from_command_line(argv: list[str]) -> RunSettings:
    """What `plan-tasks run ARGV` runs with (its settings, built as the command builds them)."""
    from plan_tasks.cli.main import parse_arguments
    from plan_tasks.cli.run import given_settings

    return build_settings(given_settings(parse_arguments(["run", *argv])))


@pytest.mark.parametrize("source", ["command line", "pyproject.toml", "flow parameter"])
def test_the_same_options_from_the_command_line_pyproject_or_the_flow_parameter_are_the_same_settings(
        places: tuple[Path, Path], source: str) -> None:
    root, _ = places
    expected = RunSettings(plan="plan.md", root=str(root), selection=("1.1", "phase:2"), **SAME_OPTIONS_PARAMETER)
    if source == "command line":
        settings = settings_from_command_line(["plan.md", "1.1", "phase:2", "--root", str(root), *SAME_OPTIONS_CLI])
    elif source == "pyproject.toml":
        (root / "pyproject.toml").write_text(SAME_OPTIONS_PYPROJECT, encoding="utf-8")
        settings = settings_from_command_line(["plan.md", "1.1", "phase:2", "--root", str(root)])
    else:
        from plan_tasks.prefect.flow import run_plan  # Prefect checks the parameter as it does for a deployment

        parameter = {"plan": "plan.md", "root": str(root), "selection": ["1.1", "phase:2"], **SAME_OPTIONS_PARAMETER}
        settings = run_plan.validate_parameters({"settings": parameter})["settings"]
    assert settings == expected


def test_the_command_line_wins_over_pyproject_and_pyproject_over_the_defaults(places: tuple[Path, Path]) -> None:
    root, _ = places
    (root / "pyproject.toml").write_text('[tool.plan-tasks]\nretries = 5\ntask-runner = "dask"\n', encoding="utf-8")
    settings = settings_from_command_line(["plan.md", "--root", str(root), "--retries", "1"])
    assert (settings.retries, settings.task_runner, settings.phase_gate) == (1, "dask", 0.8)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--agent-command", ""], ()),  # as good as none: the environment, then pyproject.toml, decide
    (["--agent-command", "claude -p 'the task'"], ("claude", "-p", "the task")),
], ids=["empty", "split like a shell"])
def test_the_agent_command_option_is_split_into_the_settings_argv(places: tuple[Path, Path], argv: list[str],
                                                                  expected: tuple[str, ...]) -> None:
    root, _ = places
    assert settings_from_command_line(["plan.md", "--root", str(root), *argv]).agent_command == expected


def test_the_working_directorys_pyproject_fills_what_the_projects_does_not(places: tuple[Path, Path]) -> None:
    root, cwd = places
    (root / "pyproject.toml").write_text("[tool.plan-tasks]\nretries = 5\n", encoding="utf-8")
    (cwd / "pyproject.toml").write_text("[tool.plan-tasks]\nretries = 7\nmax-parallel = 2\n", encoding="utf-8")
    settings = settings_from_command_line(["plan.md", "--root", str(root)])
    assert (settings.retries, settings.max_parallel) == (5, 2)


@pytest.mark.parametrize(("toml", "message", "hint"), [
    ('task-runner = "ray"', "`task-runner` in [tool.plan-tasks]: should be 'threads' or 'dask', not 'ray'",
     "where Prefect runs the tasks: threads of this process, or a Dask cluster"),
    ("phase-gate = 2", "`phase-gate` in [tool.plan-tasks]: should be less than or equal to 1, not 2", None),
    ('output-limit = "lots"', "`output-limit` in [tool.plan-tasks]: cannot read size 'lots'",
     "write it as a number of bytes or with a unit: 50MB, 500kB, 1GB"),
    ("task_runner = \"dask\"", "unknown setting `task_runner` in [tool.plan-tasks]", "did you mean `task-runner`?"),
    ("format = \"kiro\"", "unknown setting `format` in [tool.plan-tasks]", None),
], ids=["a bad choice", "out of range", "a bad size", "a misspelt key", "a per-run option"])
def test_a_bad_pyproject_setting_is_an_error_located_in_that_file(
        places: tuple[Path, Path], toml: str, message: str, hint: str | None) -> None:
    root, _ = places
    (root / "pyproject.toml").write_text(f"[tool.plan-tasks]\n{toml}\n", encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        settings_from_command_line(["plan.md", "--root", str(root)])
    assert caught.value.message == message
    assert caught.value.location == str(root / "pyproject.toml")
    if hint is not None:
        assert caught.value.hint == hint


def test_the_run_options_take_their_help_and_defaults_from_the_settings() -> None:
    from plan_tasks.cli.main import build_parser

    run = build_parser("run")._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    by_dest = {action.dest: action for action in run._actions}
    for name, option in setting_options().items():
        field = RunSettings.model_fields[name]
        action = by_dest[name]
        assert option.flag in action.option_strings
        assert action.default is None  # unset: [tool.plan-tasks], then the model's default, fill it
        if name != "dialect":
            assert action.help.startswith(field.description), name
        if field.default not in (None, (), False):
            assert f"(default: {field.default:g})" in action.help if isinstance(field.default, float) \
                else f"(default: {field.default})" in action.help


def test_the_flows_parameter_schema_lists_every_setting_with_its_description() -> None:
    from prefect.utilities.callables import parameter_schema

    from plan_tasks.prefect.flow import run_plan

    schema = parameter_schema(run_plan).model_dump()
    assert list(schema["properties"]) == ["settings"] and schema["required"] == ["settings"]
    fields = schema["definitions"]["RunSettings"]["properties"]
    assert list(fields) == list(RunSettings.model_fields)
    assert all(fields[name]["description"] == field.description for name, field in RunSettings.model_fields.items())
    assert fields["task_runner"]["enum"] == ["threads", "dask"]
    assert (fields["phase_gate"]["minimum"], fields["phase_gate"]["maximum"]) == (0.0, 1.0)


# -- the agent command ---------------------------------------------------------------------------


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A project root and a different working directory, with no agent command configured anywhere."""
    monkeypatch.delenv("PLAN_TASKS_AGENT_COMMAND", raising=False)
    root, cwd = tmp_path / "project", tmp_path / "cwd"
    root.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return root, cwd


def configure(directory: Path, command: str) -> None:
    text = f'[project]\nname = "x"\n\n[tool.plan-tasks]\nagent-command = {command}\n'
    (directory / "pyproject.toml").write_text(text)


def test_no_agent_command_anywhere_is_empty(places: tuple[Path, Path]) -> None:
    root, _ = places
    assert resolve_agent_command(None, root) == ()


def test_explicit_agent_command_comes_first(places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root, cwd = places
    monkeypatch.setenv("PLAN_TASKS_AGENT_COMMAND", "from-env")
    configure(root, '["from-root"]')
    configure(cwd, '["from-cwd"]')
    assert resolve_agent_command("claude -p 'do it'", root) == ("claude", "-p", "do it")
    assert resolve_agent_command(["claude", "-p"], root) == ("claude", "-p")
    assert resolve_agent_command(("claude",), root) == ("claude",)


def test_environment_comes_before_any_pyproject(places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root, cwd = places
    monkeypatch.setenv("PLAN_TASKS_AGENT_COMMAND", "agent --model 'big one'")
    configure(root, '["from-root"]')
    configure(cwd, '["from-cwd"]')
    for empty in (None, "", [], ()):
        assert resolve_agent_command(empty, root) == ("agent", "--model", "big one")


def test_project_pyproject_comes_before_the_working_directory(places: tuple[Path, Path]) -> None:
    root, cwd = places
    configure(root, '["from-root"]')
    configure(cwd, '["from-cwd"]')
    assert resolve_agent_command(None, root) == ("from-root",)


def test_working_directory_pyproject_is_the_last_resort(places: tuple[Path, Path]) -> None:
    root, cwd = places
    (root / "pyproject.toml").write_text('[project]\nname = "no plan-tasks table"\n')
    configure(cwd, '["from-cwd"]')
    assert resolve_agent_command(None, root) == ("from-cwd",)


@pytest.mark.parametrize("source", ["explicit", "environment", "pyproject"])
def test_python_placeholder_is_the_running_interpreter(places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                                       source: str) -> None:
    root, _ = places
    explicit = "{python} -m agent" if source == "explicit" else None
    if source == "environment":
        monkeypatch.setenv("PLAN_TASKS_AGENT_COMMAND", "{python} -m agent")
    configure(root, '["{python}", "-m", "agent"]')
    assert resolve_agent_command(explicit, root) == (sys.executable, "-m", "agent")


def test_files_in_a_pyproject_command_are_relative_to_that_pyproject(places: tuple[Path, Path]) -> None:
    root, cwd = places
    (cwd / "tools").mkdir()
    (cwd / "tools" / "agent.py").write_text("")
    (cwd / "--verbose").write_text("")  # an option stays an option, even if a file has its name
    configure(cwd, '["{python}", "tools/agent.py", "--verbose", "tools/missing.py", "claude"]')
    assert resolve_agent_command(None, root) == (
        sys.executable, str(cwd / "tools" / "agent.py"), "--verbose", "tools/missing.py", "claude")


def test_project_command_files_resolve_against_the_project_not_the_working_directory(
        places: tuple[Path, Path]) -> None:
    root, cwd = places
    (root / "agent.py").write_text("")
    (cwd / "agent.py").write_text("")
    configure(root, '["{python}", "agent.py"]')
    assert resolve_agent_command(None, root) == (sys.executable, str(root / "agent.py"))


def test_pyproject_command_may_be_one_string(places: tuple[Path, Path]) -> None:
    root, _ = places
    configure(root, "\"claude -p 'the task'\"")
    assert resolve_agent_command(None, root) == ("claude", "-p", "the task")


@pytest.mark.parametrize(("content", "message", "hint"), [
    ("[tool.plan-tasks]\nagent-command = 5\n", "`agent-command` in [tool.plan-tasks] must be a list of strings",
     'e.g. agent-command = ["{python}", "examples/fake_agent.py"]'),
    ('[tool.plan-tasks]\nagent-command = ["a", 1]\n', "`agent-command` in [tool.plan-tasks] must be a list of strings",
     'e.g. agent-command = ["{python}", "examples/fake_agent.py"]'),
    ("[tool.plan-tasks\nagent-command = []\n", "cannot read", "fix the TOML syntax"),
], ids=["a number", "a list with a number", "broken TOML"])
def test_invalid_pyproject_configuration_is_a_plan_error(places: tuple[Path, Path], content: str, message: str,
                                                          hint: str) -> None:
    root, _ = places
    (root / "pyproject.toml").write_text(content)
    with pytest.raises(PlanError) as caught:
        resolve_agent_command(None, root)
    assert caught.value.message.startswith(message) and caught.value.hint == hint
    assert caught.value.location == str(root / "pyproject.toml")


def test_invalid_pyproject_is_not_read_when_a_command_is_given(places: tuple[Path, Path]) -> None:
    root, _ = places
    (root / "pyproject.toml").write_text("[tool.plan-tasks\n")
    assert resolve_agent_command(["agent"], root) == ("agent",)


# -- the rate limiter ------------------------------------------------------------------------------


def test_rate_limiter_spaces_calls_evenly() -> None:
    limiter = RateLimiter(20.0)
    began = time.monotonic()
    waits = [limiter.acquire() for _ in range(5)]
    elapsed = time.monotonic() - began
    assert waits[0] == 0.0
    assert elapsed >= 0.2 - 0.01  # four gaps of 50 ms (sleep may wake a hair early on some clocks)
    assert all(wait > 0 for wait in waits[1:])


def test_rate_limiter_spaces_calls_from_many_threads() -> None:
    limiter = RateLimiter(20.0)
    times: list[float] = []
    guard = threading.Lock()

    def call() -> None:
        limiter.acquire()
        with guard:
            times.append(time.monotonic())

    threads = [threading.Thread(target=call) for _ in range(6)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(times) == 6
    assert max(times) - began >= 0.25 - 0.01  # five gaps of 50 ms, whichever thread got which slot


def test_rate_limiter_does_not_make_a_call_wait_after_a_quiet_spell() -> None:
    limiter = RateLimiter(1000.0)
    limiter.acquire()
    time.sleep(0.01)  # the thing tested: a gap longer than the interval
    assert limiter.acquire() == 0.0


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_rate_limiter_needs_a_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(rate)


def test_a_relative_file_in_an_explicit_agent_command_is_made_absolute_from_where_it_was_typed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tasks.run.settings import resolve_agent_command

    (tmp_path / "agent.py").write_text("print('hi')\n")
    monkeypatch.chdir(tmp_path)
    command = resolve_agent_command("python agent.py --flag", tmp_path / "elsewhere")
    assert command == ("python", str(tmp_path / "agent.py"), "--flag")


# -- output limit and protected paths --------------------------------------------------------------


@pytest.mark.parametrize(("text", "size"), [
    ("50MB", 50_000_000), ("10 MB", 10_000_000), ("500kB", 500_000), ("1GB", 10**9), ("1.5 mb", 1_500_000),
    ("4096", 4096), ("12 b", 12), (1234, 1234),
])
def test_parse_size_reads_bytes_and_decimal_units(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "0MB", "-1MB", "50 MiB", "fifty", "5TB", True, 0, 1.5])
def test_parse_size_rejects_other_values_with_a_hint(text: object) -> None:
    with pytest.raises(PlanError) as caught:
        parse_size(text)  # type: ignore[arg-type]
    assert caught.value.hint == "write it as a number of bytes or with a unit: 50MB, 500kB, 1GB"


def test_output_limit_comes_from_the_option_then_pyproject_then_the_default(places: tuple[Path, Path]) -> None:
    root, _ = places
    assert resolve_output_limit(None, root) == 50_000_000
    (root / "pyproject.toml").write_text('[tool.plan-tasks]\noutput-limit = "2MB"\n')
    assert resolve_output_limit(None, root) == 2_000_000
    assert resolve_output_limit(1000, root) == 1000


def test_a_bad_output_limit_in_pyproject_is_a_located_error(places: tuple[Path, Path]) -> None:
    root, _ = places
    (root / "pyproject.toml").write_text('[tool.plan-tasks]\noutput-limit = "lots"\n')
    with pytest.raises(PlanError) as caught:
        resolve_output_limit(None, root)
    assert caught.value.message == "`output-limit` in [tool.plan-tasks]: cannot read size 'lots'"
    assert caught.value.location == str(root / "pyproject.toml")


def test_protect_patterns_come_from_pyproject(places: tuple[Path, Path]) -> None:
    root, _ = places
    assert resolve_protect(root) == ()
    (root / "pyproject.toml").write_text('[tool.plan-tasks]\nprotect = ["secrets/", "*.pem"]\n')
    assert resolve_protect(root) == ("secrets/", "*.pem")


@pytest.mark.parametrize("value", ['"secrets/"', '[1]', '["/"]', '[""]'])
def test_protect_must_be_a_list_of_patterns(places: tuple[Path, Path], value: str) -> None:
    root, _ = places
    (root / "pyproject.toml").write_text(f"[tool.plan-tasks]\nprotect = {value}\n")
    with pytest.raises(PlanError, match="`protect` in \\[tool.plan-tasks\\] must be a list of path patterns"):
        resolve_protect(root)
