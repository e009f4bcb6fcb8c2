"""Markdown plan -> :class:`~plan_tasks.model.Plan`.

``read_plan_text`` turns a file into text (unreadable and non-UTF-8 files are
problems with a location, not tracebacks); ``parse_plan`` picks the dialect and
parses. Each dialect lives in its own module; today that is the seed format
(``plan_tasks.parse.seed``).
"""

from __future__ import annotations

import os

from plan_tasks.errors import Location, Problem
from plan_tasks.model import Plan
from plan_tasks.parse.blocks import normalize_newlines
from plan_tasks.parse.seed import parse_seed_plan

__all__ = ["parse_plan", "read_plan_text"]


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


def parse_plan(text: str, path: str = "<plan>") -> tuple[Plan, list[Problem]]:
    """Parse a plan's text; returns the plan (best effort) and every problem found."""
    text = normalize_newlines(text)
    # Temporary dispatch (branch `headings`) until part A's dialect registry lands.
    from plan_tasks.parse import gsd, headings, tables, taskmaster
    from plan_tasks.parse.source import Source

    source = Source(text, path)
    for module in (taskmaster, gsd, tables, headings):
        fit = module.detect(source)
        if fit is not None and fit.score >= 0.5:
            return module.parse(source)
    return parse_seed_plan(text, path)
