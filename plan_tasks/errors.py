"""Problems found in a plan, where they are, and the exit codes the CLI returns.

Everything a user can get wrong is reported as a :class:`Problem` pinned to a
:class:`Location` and printed compiler-style::

    plans/auth.md:14:22: error: task 2.3 depends on unknown task 2.9; did you mean 2.8?
      hint: dependencies name task ids that exist in this plan

Problems are collected (never raised one at a time) so that a user sees every
mistake in a plan at once; :class:`PlanInvalid` carries them out of the loader.
This module imports nothing heavy: the CLI's fast paths depend on it (its
records are NamedTuples, not dataclasses: ``dataclasses`` imports ``inspect``,
several milliseconds on every `next`).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

# Exit codes, documented in one place (docs/cli.md repeats this table).
EXIT_OK = 0
"""Success."""
EXIT_TASKS_FAILED = 1
"""The command ran, but work it ran failed (used by `run`)."""
EXIT_INVALID = 2
"""Bad input: an invalid plan, an unreadable file, or a usage error."""
EXIT_NO_SERVER = 3
"""`run` could not start its local Prefect server: no task ran (set PREFECT_API_URL, or see --verbose)."""

Severity = Literal["error", "warning"]


class Location(NamedTuple):
    """A place in a plan file; line and column count from 1. Ordered by path, line, column."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class Problem(NamedTuple):
    """One thing wrong (or suspicious) in a plan, with a hint naming the fix."""

    location: Location
    message: str
    hint: str | None = None
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        """Render as `path:line:col: error: message` plus an indented hint line."""
        text = f"{self.location}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class PlanError(Exception):
    """Base class of every error plan-tasks reports to a user without a traceback.

    ``message`` says what is wrong, ``hint`` how to fix it; ``location`` (a path,
    or a ``Location``) says where, when there is a where.
    """

    def __init__(self, message: str, hint: str | None = None, location: Location | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def format(self) -> str:
        where = f"{self.location}: " if self.location else "plan-tasks: "
        text = f"{where}error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class PlanInvalid(PlanError):
    """A plan could not be loaded; carries every problem found, errors first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (not p.is_error, p.location))
        super().__init__("\n".join(p.format() for p in self.problems))

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]
