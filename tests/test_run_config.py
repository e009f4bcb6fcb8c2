"""Settings of a run (``plan_tasks.run_config``) and the agent rate limit
(``plan_tasks.rate_limit``): rates as written on the command line, where the
agent command comes from, and calls spaced in real time."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from plan_tasks.errors import PlanError
from plan_tasks.rate_limit import RateLimiter
from plan_tasks.run_config import (
    RunSettings,
    parse_rate,
    parse_size,
    resolve_agent_command,
    resolve_output_limit,
    resolve_protect,
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
    ({"executor": "docker"}, "unknown executor 'docker'"),
    ({"phase_gate": 1.5}, "`--phase-gate` takes a number from 0 to 1, not 1.5"),
    ({"phase_gate": -0.1}, "`--phase-gate` takes a number from 0 to 1, not -0.1"),
    ({"max_parallel": 0}, "`--max-parallel` must be at least 1"),
])
def test_run_settings_reject_impossible_values(options: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError) as caught:
        RunSettings(plan="plan.md", **options)
    assert caught.value.message == message


def test_run_settings_defaults_are_the_seeds() -> None:
    settings = RunSettings(plan="plan.md")
    assert (settings.phase_gate, settings.retries, settings.executor, settings.max_parallel) == (0.8, 2, "agent", None)


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
    from plan_tasks.run_config import resolve_agent_command

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
