"""Settings of one run, and where the agent command comes from. No Prefect here.

The agent command is an argv list, taken from (first found): the ``run``
option or flow parameter, ``$PLAN_TASKS_AGENT_COMMAND`` (split like a shell
would), or ``agent-command`` in ``[tool.plan-tasks]`` of the project's
``pyproject.toml``. The word ``{python}`` in it stands for the interpreter
running plan-tasks, so ``["{python}", "examples/fake_agent.py"]`` works in any
virtual environment.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from plan_tasks.errors import PlanError
from plan_tasks.executors import EXECUTORS

RATE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|sec|second|m|min|minute|h|hour)\s*$")
UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True)
class RunSettings:
    plan: str
    root: str = "."
    selection: tuple[str, ...] = ()  # task ids, or `phase:N` / `p:N`; empty: every unfinished task
    phase_gate: float = 0.8
    max_parallel: int | None = None  # None: the seed's batch table by plan size
    executor: str = "agent"  # for tasks with no executable content of their own
    agent_command: tuple[str, ...] = ()
    retries: int = 2  # the seed's MAX_RETRIES
    retry_delay_seconds: float = 2.0  # first backoff; doubles per retry, with jitter
    timeout_seconds: float | None = 1800.0
    update_plan: bool = False
    rate_limit_per_second: float | None = None
    events_jsonl: str | None = None
    dialect: str | None = None  # `--format`: the plan's dialect; None: detected
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise PlanError(f"unknown executor {self.executor!r}", f"choose one of {', '.join(EXECUTORS)}")
        if not 0.0 <= self.phase_gate <= 1.0:
            raise PlanError(f"`--phase-gate` takes a number from 0 to 1, not {self.phase_gate}")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise PlanError("`--max-parallel` must be at least 1")


def parse_rate(text: str) -> float:
    """``10/min`` -> calls per second."""
    match = RATE.match(text)
    if not match or float(match.group("count")) <= 0:
        raise PlanError(f"cannot read rate limit {text!r}", "write it as N/min (or N/s, N/h), e.g. 20/min")
    return float(match.group("count")) / UNIT_SECONDS[match.group("unit")]


def resolve_agent_command(explicit: str | list[str] | tuple[str, ...] | None, root: Path) -> tuple[str, ...]:
    """The agent argv from the option, the environment, or pyproject.toml (in that order)."""
    if explicit:
        argv = _absolute_files(shlex.split(explicit) if isinstance(explicit, str) else list(explicit), Path.cwd())
    elif os.environ.get("PLAN_TASKS_AGENT_COMMAND"):
        argv = _absolute_files(shlex.split(os.environ["PLAN_TASKS_AGENT_COMMAND"]), Path.cwd())
    else:
        # The project's own configuration, else that of the directory plan-tasks runs in.
        argv = _from_pyproject(root) or _from_pyproject(Path.cwd())
    return tuple(sys.executable if part == "{python}" else part for part in argv)


def _tool_table(root: Path) -> tuple[dict[str, object], Path]:
    """``[tool.plan-tasks]`` of ``root``'s pyproject.toml (empty when there is none) and the file's path."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}, path
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PlanError(f"cannot read {path}: {error}", "fix the TOML syntax", str(path)) from None
    table = config.get("tool", {}).get("plan-tasks", {})
    return (table if isinstance(table, dict) else {}), path


def configured_redactions(root: Path) -> list[str]:
    """``redact = [...]`` of ``[tool.plan-tasks]`` (the project's, else the current directory's):
    values to star out wherever a run stores or sends text, besides secret-named environment
    variables; an entry ``$NAME`` stands for the value of the variable NAME."""
    for base in (root, Path.cwd()):
        table, path = _tool_table(base)
        if "redact" in table:
            values = table["redact"]
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                raise PlanError("`redact` in [tool.plan-tasks] must be a list of strings",
                                'e.g. redact = ["internal.example.com", "$DATABASE_URL"] (`$NAME`: that '
                                "variable's value)",
                                str(path))
            return [os.environ.get(value[1:], "") if value.startswith("$") else value for value in values]
    return []


def _from_pyproject(root: Path) -> list[str]:
    table, path = _tool_table(root)
    if not path.is_file():
        return []
    command = table.get("agent-command", [])
    if isinstance(command, str):
        command = shlex.split(command)
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
        raise PlanError("`agent-command` in [tool.plan-tasks] must be a list of strings",
                        'e.g. agent-command = ["{python}", "examples/fake_agent.py"]', str(path))
    return _absolute_files(command, path.parent)


def _absolute_files(argv: list[str], base: Path) -> list[str]:
    """Files named in a command are relative to where they were written (the
    pyproject.toml's directory, or the directory the command was typed in),
    since the agent runs in the project root, which may be elsewhere."""
    return [str(base / part) if not part.startswith("-") and not Path(part).is_absolute()
            and (base / part).is_file() else part for part in argv]
