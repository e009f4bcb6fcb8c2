"""What an executor gets and gives back, and how failures are classified.

A failure is *transient* when running the task again may well succeed (a
timeout, exit code 75 ``EX_TEMPFAIL``, death by a signal, a rate limit, an
overloaded or unreachable service) and *permanent* otherwise (a non-zero exit,
a missing command, an agent breaking the FILE protocol). Retries are spent only
on transient failures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from plan_tasks.model import Task

if TYPE_CHECKING:
    from plan_tasks.executors.answer import FileBlock

Category = Literal["transient", "permanent", "interrupted"]  # interrupted: the run was stopped (never retried)

OUTPUT_LIMIT = 50_000_000  # bytes a task may print (stdout and stderr) before it is stopped
BLOCK_LIMIT = 10_000_000  # bytes of one FILE block
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: "try again later"
TRANSIENT_TEXT = re.compile(
    r"rate.?limit|too many requests|\b429\b|overloaded|\b50[23]\b|service unavailable|temporar(?:il)?y unavailable"
    # Phrases, not words: a failing `test_timeout` is not a passing fault.
    r"|connection (?:reset|refused|aborted|error)|\btimed out\b|\btimeout (?:waiting|error|exceeded)\b|\bread timeout\b|ECONNRESET|ECONNREFUSED|ETIMEDOUT|try again later",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TaskRequest:
    """Everything an executor may use to run one attempt of one task.

    Plain data, picklable: a Prefect task gets it as its one parameter and
    may run in another process (a Dask worker). ``log_path`` is in the
    project's output folder on the machine that runs the attempt.
    """

    task: Task
    plan_title: str
    phase_name: str
    root: Path
    executor: str = "agent"  # shell, agent or python (executors.choose_executor)
    attempt: int = 1
    timeout: float | None = None
    dependency_findings: dict[str, str] = field(default_factory=dict)
    agent_command: tuple[str, ...] = ()
    log_path: Path | None = None  # where the attempt's output is appended as it arrives
    output_limit: int | None = OUTPUT_LIMIT  # bytes of output before the attempt is ended
    block_limit: int = BLOCK_LIMIT  # bytes of one FILE block
    protected: tuple[str, ...] = ()  # patterns of paths inside the root that FILE blocks may not write
    slots: int = 1  # slots of a shared server's global concurrency limit the attempt holds
    agent_preset: str = "command"  # how the agent command takes its prompt and answers (agent_presets)
    plan_path: str = ""  # the plan file, absolute: PLAN_TASKS_PLAN in the agent's environment


@dataclass(frozen=True)
class AgentUsage:
    """What an agent CLI said an attempt cost; None where it does not say."""

    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    turns: int | None = None

    def __add__(self, other: AgentUsage) -> AgentUsage:
        def total(mine: float | None, theirs: float | None) -> float | None:
            return theirs if mine is None else mine if theirs is None else mine + theirs

        return AgentUsage(*(total(getattr(self, name), getattr(other, name)) for name in USAGE_FIELDS))

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in USAGE_FIELDS)

    def to_json(self) -> dict[str, float | int]:
        """As status.json and events keep it: camelCase keys, only what is known."""
        return {USAGE_KEYS[name]: getattr(self, name) for name in USAGE_FIELDS if getattr(self, name) is not None}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> AgentUsage:
        return cls(**{name: data.get(key) for name, key in USAGE_KEYS.items()})  # type: ignore[arg-type]

    def describe(self) -> str:
        """``$0.0123, 1,200 tokens in, 340 out, 3 turns`` (what is known of it)."""
        parts = []
        if self.cost_usd is not None:
            parts.append(f"${self.cost_usd:.4f}")
        if self.input_tokens is not None:
            parts.append(f"{self.input_tokens:,} tokens in")
        if self.output_tokens is not None:
            parts.append(f"{self.output_tokens:,} out")
        if self.turns is not None:
            parts.append(f"{self.turns} turn{'s' if self.turns != 1 else ''}")
        return ", ".join(parts)


USAGE_FIELDS = ("cost_usd", "input_tokens", "output_tokens", "turns")
USAGE_KEYS = {"cost_usd": "costUsd", "input_tokens": "inputTokens", "output_tokens": "outputTokens", "turns": "turns"}


@dataclass(frozen=True)
class TaskOutcome:
    """What one successful attempt gives back; plain data, picklable."""

    output: str = ""
    findings: str | None = None  # saved as the task's findings when set
    files_written: tuple[str, ...] = ()  # FILE blocks already written (``run_agent``)
    blocks: tuple[FileBlock, ...] = ()  # FILE blocks checked but not written: the driver writes them
    seconds: float = 0.0  # how long the attempt ran
    usage: AgentUsage | None = None  # cost, tokens and turns, where the agent CLI reports them


class TaskFailure(Exception):
    """A task failed; ``category`` says whether retrying can help."""

    def __init__(self, message: str, category: Category, output: str = "", usage: AgentUsage | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.output = output  # what the attempt printed (stdout and stderr), for its log file
        self.usage = usage  # what the failed attempt cost, where the agent CLI says

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"

    def __reduce__(self) -> tuple[type[TaskFailure], tuple[str, str, str, AgentUsage | None]]:
        # Pickled across processes (a Dask worker's failure reaches the driver): the
        # default would rebuild it from ``args``, the message alone.
        return (TaskFailure, (self.message, self.category, self.output, self.usage))


def classify_exit(returncode: int, output: str) -> Category:
    """Transient for EX_TEMPFAIL, a signal, or output that reads like a passing fault."""
    if returncode == EXIT_TEMPFAIL or returncode < 0:
        return "transient"
    if returncode == 127:
        return "permanent"  # command not found: no retry will find it
    return "transient" if TRANSIENT_TEXT.search(output[-4000:]) else "permanent"


def format_size(size: int) -> str:
    """``50000000`` -> ``50 MB``: sizes as a person writes them (decimal units)."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


def output_over_limit(limit: int, output: str) -> TaskFailure:
    """The failure of an attempt that printed more than it may: permanent, as it would print as much again."""
    return TaskFailure(f"output over {format_size(limit)}", "permanent", output)
