"""Settings of one run, and where the agent command comes from. No Prefect here.

The agent command is an argv list, taken from (first found): the ``run``
option or flow parameter, ``$PLAN_TASKS_AGENT_COMMAND`` (split like a shell
would), or ``agent-command`` in ``[tool.plan-tasks]`` of the project's
``pyproject.toml``. The word ``{python}`` in it stands for the interpreter
running plan-tasks, so ``["{python}", "examples/fake_agent.py"]`` works in any
virtual environment.

Two more settings of ``[tool.plan-tasks]`` bound what a task's output may do:
``output-limit`` (bytes a task may print, ``"50MB"`` by default; the ``run``
option ``--output-limit`` wins) and ``protect`` (path patterns inside the
project that FILE blocks may not write, besides the built-in ones: see
``executors.safe_paths``).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plan_tasks.errors import PlanError
from plan_tasks.executors import EXECUTORS
from plan_tasks.executors.outcome import OUTPUT_LIMIT

RATE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|sec|second|m|min|minute|h|hour)\s*$")
SIZE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*(?P<unit>b|kb|mb|gb)?\s*$", re.IGNORECASE)
SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
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
    output_limit: int | None = None  # bytes a task may print; None: `output-limit` in [tool.plan-tasks], else 50 MB
    tags: tuple[str, ...] = field(default_factory=tuple)
    task_runner: str = "threads"  # threads, or dask (task_runners)
    dask_address: str | None = None  # an existing Dask scheduler; None: a LocalCluster for the run

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise PlanError(f"unknown executor {self.executor!r}", f"choose one of {', '.join(EXECUTORS)}")
        if not 0.0 <= self.phase_gate <= 1.0:
            raise PlanError(f"`--phase-gate` takes a number from 0 to 1, not {self.phase_gate}")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise PlanError("`--max-parallel` must be at least 1")
        if self.output_limit is not None and self.output_limit < 1:
            raise PlanError("`--output-limit` must be at least 1 byte")


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


def _tool_config(root: Path) -> tuple[dict[str, Any], Path] | None:
    """``[tool.plan-tasks]`` of ``root``'s pyproject.toml and the file's path, if there is one."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PlanError(f"cannot read {path}: {error}", "fix the TOML syntax", str(path)) from None
    section = config.get("tool", {}).get("plan-tasks", {})
    return (section if isinstance(section, dict) else {}), path


def _setting(root: Path, name: str) -> tuple[Any, Path] | None:
    """A setting of the project's configuration, else of the directory plan-tasks runs in."""
    for directory in (root, Path.cwd()):
        found = _tool_config(directory)
        if found is not None and name in found[0]:
            return found[0][name], found[1]
    return None


def configured_redactions(root: Path) -> list[str]:
    """``redact = [...]`` of ``[tool.plan-tasks]`` (the project's, else the current directory's):
    values to star out wherever a run stores or sends text, besides secret-named environment
    variables; an entry ``$NAME`` stands for the value of the variable NAME."""
    found = _setting(root, "redact")
    if found is None:
        return []
    values, path = found
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise PlanError("`redact` in [tool.plan-tasks] must be a list of strings",
                        'e.g. redact = ["internal.example.com", "$DATABASE_URL"] (`$NAME`: that '
                        "variable's value)",
                        str(path))
    return [os.environ.get(value[1:], "") if value.startswith("$") else value for value in values]


def _from_pyproject(root: Path) -> list[str]:
    found = _tool_config(root)
    if found is None:
        return []
    command, path = found[0].get("agent-command", []), found[1]
    if isinstance(command, str):
        command = shlex.split(command)
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
        raise PlanError("`agent-command` in [tool.plan-tasks] must be a list of strings",
                        'e.g. agent-command = ["{python}", "examples/fake_agent.py"]', str(path))
    return _absolute_files(command, path.parent)


def parse_size(text: str | int) -> int:
    """``50MB``, ``10 MB``, ``500kB``, ``1GB`` or a number of bytes -> bytes (decimal units)."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = SIZE.match(str(text)) if isinstance(text, str) else None
    if not match or float(match.group("count")) <= 0:
        raise PlanError(f"cannot read size {text!r}", "write it as a number of bytes or with a unit: 50MB, 500kB, 1GB")
    return int(float(match.group("count")) * SIZE_UNITS[(match.group("unit") or "").lower()])


def resolve_output_limit(explicit: int | None, root: Path) -> int:
    """Bytes a task may print: the option, else ``output-limit`` in [tool.plan-tasks], else 50 MB."""
    if explicit is not None:
        return explicit
    found = _setting(root, "output-limit")
    if found is None:
        return OUTPUT_LIMIT
    try:
        return parse_size(found[0])
    except PlanError as error:
        raise PlanError(f"`output-limit` in [tool.plan-tasks]: {error.message}", error.hint, str(found[1])) from None


def resolve_protect(root: Path) -> tuple[str, ...]:
    """The ``protect = [...]`` patterns of [tool.plan-tasks]: more paths FILE blocks may not write."""
    found = _setting(root, "protect")
    if found is None:
        return ()
    patterns, path = found
    if not isinstance(patterns, list) or not all(isinstance(item, str) and item.strip("/") for item in patterns):
        raise PlanError("`protect` in [tool.plan-tasks] must be a list of path patterns",
                        'e.g. protect = ["secrets/", "*.pem", "/setup.cfg"]', str(path))
    return tuple(patterns)


def _absolute_files(argv: list[str], base: Path) -> list[str]:
    """Files named in a command are relative to where they were written (the
    pyproject.toml's directory, or the directory the command was typed in),
    since the agent runs in the project root, which may be elsewhere."""
    return [str(base / part) if not part.startswith("-") and not Path(part).is_absolute()
            and (base / part).is_file() else part for part in argv]
