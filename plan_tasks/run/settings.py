"""Settings of one run, and where the agent command comes from. No Prefect here.

:class:`RunSettings` holds every option of a run once, with its default and
description; the `run` command's options, ``[tool.plan-tasks]`` and the flow's
parameter are three ways to write it (:func:`build_settings` merges the first
two; pydantic errors become PlanErrors naming the option or the key).

The agent is a preset for a coding-agent CLI (``agent``: claude, codex,
gemini, aider, opencode; ``executors.agent_presets``), its argv extended by
``agent-args``, or (``agent = "command"``, the default) an agent command.
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
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from plan_tasks.cli.options import PHASE_GATE_HELP
from plan_tasks.errors import PlanError
from plan_tasks.executors.agent_presets import AgentName
from plan_tasks.executors.outcome import OUTPUT_LIMIT
from plan_tasks.timeline import DEFAULT_REPORT

RATE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|sec|second|m|min|minute|h|hour)\s*$")
SIZE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*(?P<unit>b|kb|mb|gb)?\s*$", re.IGNORECASE)
SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


class Option(NamedTuple):
    """How a setting is written outside Python: ``flag`` on the `run` command line, and
    (when ``in_pyproject``) the same name without dashes under ``[tool.plan-tasks]``."""

    flag: str
    metavar: str | None = None
    in_pyproject: bool = True
    bare: str | None = None  # the value of the flag given without one (`--report`), if it may be

    @property
    def key(self) -> str:
        return self.flag.lstrip("-")


def parse_rate(text: str) -> float:
    """``10/min`` -> calls per second."""
    match = RATE.match(text)
    if not match or float(match.group("count")) <= 0:
        raise PlanError(f"cannot read rate limit {text!r}", "write it as N/min (or N/s, N/h), e.g. 20/min")
    return float(match.group("count")) / UNIT_SECONDS[match.group("unit")]


def parse_size(text: str | int) -> int:
    """``50MB``, ``10 MB``, ``500kB``, ``1GB`` or a number of bytes -> bytes (decimal units)."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = SIZE.match(str(text)) if isinstance(text, str) else None
    if not match or float(match.group("count")) <= 0:
        raise PlanError(f"cannot read size {text!r}", "write it as a number of bytes or with a unit: 50MB, 500kB, 1GB")
    return int(float(match.group("count")) * SIZE_UNITS[(match.group("unit") or "").lower()])


def split_arguments(text: str) -> tuple[str, ...]:
    """``--model opus --verbose`` -> its words, split as a shell would."""
    try:
        return tuple(shlex.split(text))
    except ValueError as error:
        raise PlanError(f"cannot split {text!r} into arguments: {error}",
                        "quote as in a shell, e.g. --agent-args=\"--model 'a b'\"") from None


def _read_text(parse: Callable[[str], Any]) -> BeforeValidator:
    """Text as written on the command line (``"20/min"``, ``"50MB"``) read with ``parse``;
    other values pass on to pydantic's own checks."""
    def read(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except PlanError as error:  # its hint says how to write the value: kept for the message
            context = {"message": error.message, "hint": error.hint}
            raise PydanticCustomError("unreadable", "{message}", context) from None

    return BeforeValidator(read)


def _ending_with(*suffixes: str) -> Callable[[str | None], str | None]:
    """A check that a file to write has one of ``suffixes``: `--report plan.md` (the plan
    written after the flag) must not overwrite the plan."""
    def check(value: str | None) -> str | None:
        if value is None or value == DEFAULT_REPORT or value.lower().endswith(suffixes):
            return value
        raise PydanticCustomError("file_suffix", "{message}", {
            "message": f"{value!r} does not end in {' or '.join(suffixes)}",
            "hint": f"name a file ending in {suffixes[0]}; with `--report`, put the plan before the flag "
                    "(`plan-tasks run PLAN --report`)"})

    return check


class RunSettings(BaseModel):
    """Every option of one run, each with its default and description once.

    The `run` command builds it from its options and ``[tool.plan-tasks]``
    (``cli_run``); it is the plan flow's one parameter, so Prefect shows and
    checks it in the UI and in ``prefect deploy``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan: str = Field(description="the plan file: relative to `root` (else to the working directory), or absolute")
    root: str = Field(".", description="the project root: status.json, findings and the files tasks write go "
                                       "under it")
    selection: tuple[str, ...] = Field((), description="task ids (1.1) or phases (phase:2, p:2) to run; empty: "
                                                       "every unfinished task")
    phase_gate: Annotated[float, Option("--phase-gate", "F")] = Field(
        0.8, ge=0.0, le=1.0, allow_inf_nan=False, description=PHASE_GATE_HELP)
    max_parallel: Annotated[int | None, Option("--max-parallel", "N")] = Field(
        None, ge=1, description="slots for concurrent tasks; unset: the seed's batch table (<10 tasks 3, 10-30 4, "
                                ">30 5)")
    executor: Annotated[Literal["agent", "shell", "python"], Option("--executor")] = Field(
        "agent", description="what runs tasks that carry no shell block, Run: or Call: line")
    agent_command: Annotated[tuple[str, ...], Option("--agent-command", "CMD", in_pyproject=False)] = Field(
        (), description="the agent's argv; empty: $PLAN_TASKS_AGENT_COMMAND, else `agent-command` under "
                        "[tool.plan-tasks]")
    agent: Annotated[AgentName, Option("--agent", "NAME")] = Field(
        "command", description="the coding-agent CLI that runs agent tasks: claude, codex, gemini, aider or opencode "
                               "(presets: docs/agents.md), or command: the `agent-command` as given")
    agent_args: Annotated[tuple[str, ...], _read_text(split_arguments), Option("--agent-args", "ARGS")] = Field(
        (), description="more arguments for the agent's command line, after the preset's (e.g. "
                        "--agent-args=\"--model NAME\")")
    budget_usd: Annotated[float | None, Option("--budget-usd", "X")] = Field(
        None, gt=0.0, allow_inf_nan=False, description="hand out no more tasks once the agents' cost in this run, "
                                                       "as their CLIs report it, reaches X US dollars")
    retries: Annotated[int, Option("--retries", "N")] = Field(
        2, ge=0, description="retries of a transiently failing task (the seed's MAX_RETRIES)")
    retry_delay_seconds: Annotated[float, Option("--retry-delay", "S")] = Field(
        2.0, ge=0.0, allow_inf_nan=False, description="first retry delay in seconds; doubles each retry, "
                                                      "with jitter")
    timeout_seconds: Annotated[float | None, Option("--timeout", "S")] = Field(
        1800.0, gt=0.0, allow_inf_nan=False, description="seconds per attempt, enforced on the process group")
    output_limit: Annotated[int | None, _read_text(parse_size), Option("--output-limit", "SIZE")] = Field(
        None, ge=1, description="bytes a task may print before it fails (50MB, 500kB); unset: `output-limit` "
                                "under [tool.plan-tasks], else 50MB")
    update_plan: Annotated[bool, Option("--update-plan")] = Field(
        False, description="tick each task's checkbox in the plan when it completes")
    rate_limit_per_second: Annotated[float | None, _read_text(parse_rate), Option("--rate-limit", "N/min")] = Field(
        None, gt=0.0, allow_inf_nan=False, description="at most this many agent calls per second (written "
                                                       "N/min, N/s or N/h on the command line)")
    events_jsonl: Annotated[str | None, Option("--events-jsonl", "FILE")] = Field(
        None, description="also write plan.task.* events to this file as JSON lines")
    dialect: Annotated[str | None, Option("--format", "NAME", in_pyproject=False)] = Field(
        None, description="the plan's format (seed, speckit, kiro, openspec, checklist, headings, taskmaster); "
                          "unset: detected")
    task_runner: Annotated[Literal["threads", "dask"], Option("--task-runner")] = Field(
        "threads", description="where Prefect runs the tasks: threads of this process, or a Dask cluster")
    dask_address: Annotated[str | None, Option("--dask-address", "tcp://HOST:8786")] = Field(
        None, description="the scheduler of an existing Dask cluster; unset with `dask`: a local cluster of "
                          "worker processes")
    report: Annotated[str | None, AfterValidator(_ending_with(".html", ".htm")),
                      Option("--report", "PATH", bare=DEFAULT_REPORT)] = Field(
        None, description="write the run's timeline report (HTML) at the end; `--report` alone: "
                          "report.html in the plan's output folder")
    junit: Annotated[str | None, AfterValidator(_ending_with(".xml")), Option("--junit", "FILE")] = Field(
        None, description="write a JUnit XML file at the end, one test case per task, for CI")
    tags: tuple[str, ...] = Field((), description="Prefect tags of every task run")


OTHER_KEYS = ("agent-command", "protect", "redact")  # of [tool.plan-tasks], read where they are used


def setting_options() -> dict[str, Option]:
    """Each setting that the `run` command line sets, with its option."""
    return {name: option for name, field in RunSettings.model_fields.items()
            for option in field.metadata if isinstance(option, Option)}


def build_settings(given: dict[str, Any]) -> RunSettings:
    """The settings of a run: ``given`` (setting -> value: what the command line set),
    and ``[tool.plan-tasks]`` (the project's, else the working directory's) for the
    options it did not set; the model's defaults for the rest.

    Raises PlanError naming the option or the pyproject.toml key of a bad value.
    """
    root = Path(given.get("root") or ".")
    configs = [found for found in (_tool_config(root), _tool_config(Path.cwd())) if found is not None]
    options = setting_options()
    for section, path in configs:
        _check_keys(section, path, options)
    values: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for name, option in options.items():
        found = next(((section[option.key], path) for section, path in configs if option.key in section), None)
        if option.in_pyproject and name not in given and found is not None:
            values[name], origin[name] = found
    try:
        return RunSettings(**{**values, **given})
    except ValidationError as error:
        raise settings_error(error, origin) from None


def _check_keys(section: dict[str, Any], path: Path, options: dict[str, Option]) -> None:
    known = sorted({option.key for option in options.values() if option.in_pyproject} | set(OTHER_KEYS))
    for key in section:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
            raise PlanError(f"unknown setting `{key}` in [tool.plan-tasks]",
                            f"did you mean `{close[0]}`?" if close else f"the settings are: {', '.join(known)}",
                            str(path))


def settings_error(error: ValidationError, origin: dict[str, Path] | None = None) -> PlanError:
    """A pydantic error of RunSettings as plan-tasks reports bad input: the option (or
    pyproject.toml key) and what is wrong with its value, the setting's description as
    the hint."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    option = setting_options().get(name)
    field = RunSettings.model_fields.get(name)
    location = str((origin or {})[name]) if name in (origin or {}) else None
    if location and option:
        where = f"`{option.key}` in [tool.plan-tasks]"
    else:
        where = f"`{option.flag}`" if option else f"`{name}`"
    if first["type"] == "extra_forbidden":
        return PlanError(f"{where} is not a setting of a run",
                         f"the settings are: {', '.join(RunSettings.model_fields)}", location)
    reason = str(first["msg"])
    if reason.startswith("Input should"):
        reason = f"{reason.removeprefix('Input ')}, not {first['input']!r}"
    hint = (first.get("ctx") or {}).get("hint") or (field.description if field else None)
    return PlanError(f"{where}: {reason}", hint, location)


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


def resolve_agent_argv(settings: RunSettings, explicit: tuple[str, ...], root: Path) -> tuple[str, ...]:
    """The agent's argv: the preset's, or (``agent = "command"``) the agent command
    from the option, the environment or pyproject.toml; ``agent-args`` after it."""
    from plan_tasks.executors.agent_presets import preset_named

    if settings.agent == "command":
        command = resolve_agent_command(explicit, root)
        return command + settings.agent_args if command else ()
    if explicit:
        raise PlanError(f"`--agent-command` replaces a preset's command: it goes with `--agent command`, "
                        f"not `--agent {settings.agent}`",
                        "drop `--agent-command`, or add arguments to the preset with `--agent-args`")
    return preset_named(settings.agent).argv(settings.agent_args)


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
