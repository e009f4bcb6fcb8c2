"""Cheap looks at a plan for dialect detection: line patterns outside fences.

Detection must not cost a parse: each dialect's ``detect`` counts a few line
patterns over :func:`prose_lines` (the checkbox items and headings outside
fenced code and HTML comments, found with a simple scan computed once per
:class:`Source`; no other kind of line decides a dialect), and
:func:`fit_from_counts` turns "this many of mine, this many that look like
mine but are not" into a :class:`Fit`.
"""

from __future__ import annotations

import re

from plan_tasks.parse.source import Fit, Source

FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ITEM_BULLETS = frozenset("-*+")
ITEM_STARTS = frozenset("[~*0123456789")  # `- [ ]`, `- ~~[ ]`, `- **1.1**`, `- 1.1.1`
CHECKBOX_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\[[ xX]\]")


def prose_lines(source: Source) -> dict[str, list[tuple[int, str]]]:
    """(0-based number, line) of the list items that may be tasks (``"item"``) and the headings
    (``"heading"``) outside fences and HTML comments: all that detection reads."""
    cached = source.memo.get("prose_lines")
    if cached is None:
        cached = source.memo["prose_lines"] = _scan(source.lines)
    return cached  # type: ignore[return-value]


def _scan(lines: list[str]) -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {"item": [], "heading": []}
    items, headings = found["item"], found["heading"]
    fence: str | None = None
    in_comment = False
    for number, line in enumerate(lines):
        stripped = line.lstrip()
        if fence is not None:
            if stripped.startswith(fence) and not stripped.rstrip().strip(fence[0]):
                fence = None
        elif in_comment:
            in_comment = "-->" not in line
        elif stripped[:3] in ("```", "~~~") and FENCE_OPEN.match(line):
            fence = FENCE_OPEN.match(line).group(1)  # type: ignore[union-attr]
        elif stripped.startswith("<!--") and "-->" not in line:
            in_comment = True
        elif stripped[:1] in ITEM_BULLETS and stripped[1:2] == " " and stripped[2:3] in ITEM_STARTS:
            items.append((number, line))
        elif stripped.startswith("#"):
            headings.append((number, line))
    return found


def first_match(source: Source, pattern: re.Pattern[str], kind: str = "item") -> int | None:
    """The 1-based number of the first checkbox item (or heading) matching ``pattern``."""
    for number, line in prose_lines(source)[kind]:
        if pattern.match(line):
            return number + 1
    return None


def count_matches(source: Source, pattern: re.Pattern[str], kind: str = "item") -> int:
    """How many checkbox items (or headings, ``kind="heading"``) match ``pattern``."""
    match = pattern.match
    return sum(1 for _, line in prose_lines(source)[kind] if match(line))


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
