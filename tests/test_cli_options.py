"""Options checked when the command line is parsed, answered with the usage of the
command they concern; a plan that does not exist said so; the parser built for one
command (what `next` pays for) is the same as in the full parser.

Exit codes and output go through real ``python -m plan_tasks`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.cli.main import COMMAND_MODULES, build_parser

ROOT = Path(__file__).resolve().parents[1]
PLAN = Path(__file__).parent / "fixtures" / "ready" / "auth.md"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "plan_tasks", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


# (arguments, the usage line's start, what the error line says)
REFUSED = [
    (["run", str(PLAN), "--timeout", "0"], "usage: plan-tasks run",
     "plan-tasks run: error: argument --timeout: must be more than 0 seconds, not 0"),
    (["run", str(PLAN), "--timeout", "-5"], "usage: plan-tasks run",
     "plan-tasks run: error: argument --timeout: must be more than 0 seconds, not -5"),
    (["run", str(PLAN), "--timeout", "nan"], "usage: plan-tasks run",
     "plan-tasks run: error: argument --timeout: expected a finite number of seconds, not nan"),
    (["run", str(PLAN), "--timeout", "soon"], "usage: plan-tasks run",
     "plan-tasks run: error: argument --timeout: expected a number of seconds, not 'soon'"),
    (["run", str(PLAN), "--max-parallel", "0"], "usage: plan-tasks run",
     "plan-tasks run: error: argument --max-parallel: must be at least 1 (1 runs one task at a time), not 0"),
    (["run", str(PLAN), "--retry-delay", "-1"], "usage: plan-tasks run",
     "plan-tasks run: error: argument --retry-delay: must be 0 seconds or more, not -1"),
    (["run", str(PLAN), "--bogus"], "usage: plan-tasks run", "plan-tasks run: error: unrecognized arguments: --bogus"),
    (["next", "--bogus"], "usage: plan-tasks next", "plan-tasks next: error: unrecognized arguments: --bogus"),
    (["show", str(PLAN), "--bogus", "x"], "usage: plan-tasks show",
     "plan-tasks show: error: unrecognized arguments: --bogus x"),
    (["mark-complete", "1.1", "--bogus"], "usage: plan-tasks mark-complete",
     "plan-tasks mark-complete: error: unrecognized arguments: --bogus"),
    (["--bogus"], "usage: plan-tasks [-h]", "plan-tasks: error: unrecognized arguments: --bogus"),
    (["--bogus", "next"], "usage: plan-tasks [-h]", "plan-tasks: error: unrecognized arguments: --bogus"),
    (["nexxt"], "usage: plan-tasks [-h]", "plan-tasks: error: argument COMMAND: invalid choice: 'nexxt'"),
]


@pytest.mark.parametrize(("args", "usage", "message"), REFUSED, ids=[" ".join(case[0][:1] + case[0][2:])
                                                                     for case in REFUSED])
def test_a_bad_option_is_refused_at_parse_time_with_the_usage_of_its_command(
        args: list[str], usage: str, message: str) -> None:
    result = run_cli(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(usage), result.stderr
    assert message in result.stderr.splitlines()[-1], result.stderr
    assert "required" not in result.stderr


@pytest.mark.parametrize("options", [["--retry-delay", "0"], ["--timeout", "0.5", "--max-parallel", "1"]],
                         ids=["no retry delay", "short timeout, one slot"])
def test_the_smallest_accepted_values_pass(tmp_path: Path, options: list[str]) -> None:
    result = run_cli("run", str(PLAN), "--root", str(tmp_path), "--dry-run", *options)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert "task(s) to run" in result.stdout


@pytest.mark.parametrize("command", [["next"], ["mark-complete", "1.1"], ["status"], ["init"], ["reset", "--all"]],
                         ids=lambda command: command[0])
def test_a_plan_that_does_not_exist_is_said_to_not_exist(tmp_path: Path, command: list[str]) -> None:
    plan_option = ["missing.md"] if command[0] == "reset" else ["--plan", "missing.md"]
    if command[0] == "reset":
        command = [command[0], *plan_option, *command[1:]]
    else:
        command = [*command, *plan_option]
    result = run_cli(*command, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "missing.md: error: plan file does not exist",
        f"  hint: check the path; a relative one is read from the project root ({tmp_path.resolve()}), then from here"]
    assert not (tmp_path / "docs").exists()


def test_the_top_level_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line[:4] == "    " and line[4:5].strip()]
    assert [name for name in listed if name in COMMAND_MODULES] == list(COMMAND_MODULES)


def _subcommands(parser: object) -> dict[str, object]:
    (action,) = [action for action in parser._actions if action.dest == "command"]  # type: ignore[attr-defined]
    return action.choices  # type: ignore[no-any-return]


def test_the_command_table_names_exactly_what_the_modules_register() -> None:
    assert list(_subcommands(build_parser())) == list(COMMAND_MODULES)


@pytest.mark.parametrize("command", list(COMMAND_MODULES))
def test_the_parser_built_for_one_command_is_the_one_in_the_full_parser(command: str) -> None:
    alone = _subcommands(build_parser(command))
    assert list(alone) == [command]
    assert alone[command].format_help() == _subcommands(build_parser())[command].format_help()  # type: ignore[attr-defined]


def test_task_ids_may_follow_options_as_users_type_them() -> None:
    from plan_tasks.cli.main import parse_arguments

    args = parse_arguments(["run", "plan.md", "--executor", "shell", "2.3", "phase:4", "--dry-run"])
    assert (args.plan, args.selection, args.executor, args.dry_run) == ("plan.md", ["2.3", "phase:4"], "shell", True)


def test_an_unknown_option_after_positionals_still_gets_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    from plan_tasks.cli.main import parse_arguments

    with pytest.raises(SystemExit) as raised:
        parse_arguments(["run", "plan.md", "2.3", "--bogus"])
    assert raised.value.code == 2
    assert "usage: plan-tasks run" in capsys.readouterr().err
