"""Cheap looks at a plan for dialect detection: line patterns outside fences.

Detection must not cost a parse: each dialect's ``detect`` counts a few line
patterns over :func:`prose_lines` (the lines outside fenced code and HTML
comments, found with a simple scan, computed once per :class:`Source`), and
:func:`fit_from_counts` turns "this many of mine, this many that look like
mine but are not" into a :class:`Fit`.
"""

from __future__ import annotations

import re

from plan_tasks.parse.source import Fit, Source

FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CHECKBOX_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\[[ xX]\]")


def prose_lines(source: Source) -> list[tuple[int, str]]:
    """(0-based number, line) of every line outside fences and HTML comments."""
    cached = source.memo.get("prose_lines")
    if cached is None:
        cached = source.memo["prose_lines"] = list(_scan(source.lines))
    return cached  # type: ignore[return-value]


def _scan(lines: list[str]):  # noqa: ANN202 - a generator of (int, str)
    fence: str | None = None
    in_comment = False
    for number, line in enumerate(lines):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        if in_comment:
            in_comment = "-->" not in line
            continue
        opening = FENCE_OPEN.match(line)
        if opening:
            fence = opening.group(1)
            continue
        if line.lstrip().startswith("<!--") and "-->" not in line:
            in_comment = True
            continue
        yield number, line


def first_match(source: Source, pattern: re.Pattern[str]) -> int | None:
    """The 1-based number of the first prose line matching ``pattern``."""
    for number, line in prose_lines(source):
        if pattern.match(line):
            return number + 1
    return None


def count_matches(source: Source, pattern: re.Pattern[str]) -> int:
    return sum(1 for _, line in prose_lines(source) if pattern.match(line))


def fit_from_counts(found: int, described: str, structure: bool, near_line: int | None, weight: float) -> Fit | None:
    """A fit of ``weight`` when ``found`` items sit in the dialect's structure.

    ``described`` names what was found ("14 `- [ ] T001` items"); without the
    structure (no phase headings) the fit is weak; with nothing found, the
    dialect may still be "closest" (score 0.05) when ``near_line`` looked like it.
    """
    if found and structure:
        return Fit(weight, described, near_line)
    if found:
        return Fit(weight / 3, described + " but no phase headings", near_line)
    if near_line is not None:
        return Fit(0.05, "nothing of this dialect matched", near_line)
    return None
