"""Markdown plan -> :class:`~plan_tasks.model.Plan`, in whichever dialect it is written.

``read_plan_text`` turns a file into text (unreadable and non-UTF-8 files are
problems with a location, not tracebacks); ``parse_plan`` picks the dialect
(or takes the one ``--format`` forces) and parses. Each dialect lives in its
own module under ``plan_tasks/parse/`` and exposes ``NAME``, ``detect`` and
``parse`` (see ``plan_tasks.parse.source``); :data:`DIALECTS` lists them in
the order detection breaks ties.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from plan_tasks.errors import Location, PlanError, Problem
from plan_tasks.model import Plan
from plan_tasks.parse.blocks import blank_front_matter, normalize_newlines
from plan_tasks.parse.source import Fit, Source

__all__ = ["DIALECTS", "UnknownDialect", "detect_dialect", "dialect_names", "parse_plan", "read_plan_text"]

# Dialect name -> module under plan_tasks.parse.
DIALECTS: dict[str, str] = {
    "seed": "seed",
    "speckit": "speckit",
    "kiro": "kiro",
    "openspec": "openspec",
    "checklist": "checklist",
    "headings": "headings",
    "table": "tables",
    "gsd": "gsd",
    "taskmaster": "taskmaster",
}


FITS = 0.1  # below this score a dialect's fit is only "closest", not "written in it"


class UnknownDialect(PlanError):
    """`--format` named a dialect plan-tasks does not have."""


def _module(name: str) -> ModuleType | None:
    qualified = f"plan_tasks.parse.{DIALECTS[name]}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name == qualified:
            return None  # not written (yet): detection simply does not offer it
        raise


def dialect_names() -> list[str]:
    """The dialects this installation reads, in tie-breaking order."""
    return [name for name in DIALECTS if _module(name) is not None]


def detect_dialect(source: Source) -> tuple[str, Fit | None]:
    """The best-fitting dialect and its fit (None when nothing fits at all: seed)."""
    best: tuple[str, Fit | None] = ("seed", None)
    for name in DIALECTS:
        module = _module(name)
        fit = module.detect(source) if module is not None else None
        if fit is not None and (best[1] is None or fit.score > best[1].score):
            best = (name, fit)
    return best


def parse_plan(text: str, path: str = "<plan>", dialect: str | None = None) -> tuple[Plan, list[Problem]]:
    """Parse a plan's text in ``dialect`` (default: the detected one).

    Returns the plan (best effort) and every problem found. A plan in which no
    dialect finds tasks gets the closest dialect's "no tasks" error, with the
    dialect and the first line that looked like it but did not match.
    """
    source = Source(blank_front_matter(normalize_newlines(text)), path)
    if dialect is not None:
        module = _module(dialect) if dialect in DIALECTS else None
        if module is None:
            known = ", ".join(dialect_names())
            raise UnknownDialect(f"unknown plan format {dialect!r}", f"`--format` takes one of: {known}")
        plan, problems = module.parse(source)
        return plan.model_copy(update={"dialect_reason": "forced with `--format`"}), problems
    name, fit = detect_dialect(source)
    if fit is not None and fit.score >= FITS:
        module = _module(name)
        assert module is not None  # detect_dialect only answers installed dialects
        plan, problems = module.parse(source)
        # Its own errors (invalid JSON in a tasks.json) say more than "no tasks found" would.
        if plan.tasks or any(problem.is_error and not problem.message.startswith("no tasks found")
                             for problem in problems):
            return plan.model_copy(update={"dialect_reason": fit.reason}), problems
    # No dialect found tasks: the seed format's "no tasks" error, naming the closest one.
    plan, problems = _module("seed").parse(source)  # type: ignore[union-attr]
    problems = [_with_closest(problem, name, fit, source) for problem in problems]
    return plan.model_copy(update={"dialect_reason": "no dialect found tasks"}), problems


def _with_closest(problem: Problem, name: str, fit: Fit | None, source: Source) -> Problem:
    """Name the closest dialect (and the line that did not match) in the "no tasks" hint."""
    if fit is None or not problem.message.startswith("no tasks found"):
        return problem
    closest = f"closest format: {name}"
    if fit.line is not None and not source.is_code(fit.line - 1):
        text = source.lines[fit.line - 1].strip()
        closest += f"; line {fit.line} did not match it: `{text[:60]}`"
    hint = f"{problem.hint}; {closest}" if problem.hint else closest
    return Problem(problem.location, problem.message, hint, problem.severity)


def read_plan_text(path: str) -> tuple[str | None, list[Problem]]:
    """The plan's text, newline-normalized, or None and the problem reading it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        reason = error.strerror or str(error)
        hint = "check the path" if not os.path.exists(path) else "check that it is a readable file"
        return None, [Problem(Location(path, 1, 1), f"cannot read plan: {reason}", hint)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # Everything before the first bad byte decodes: count lines and columns
        # in characters, after the same BOM and newline handling as valid text.
        before = normalize_newlines(raw[: error.start].decode("utf-8"))
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        byte = raw[error.start : error.start + 1].hex()
        return None, [Problem(
            Location(path, line, column),
            f"plan is not valid UTF-8 (byte 0x{byte})",
            "save the plan as UTF-8, e.g. `iconv -f latin1 -t utf-8`",
        )]
    return normalize_newlines(text), []
