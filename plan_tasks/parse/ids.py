"""Task ids and id ranges: ``1.2``, ``3.1.4``, ``3.1-3.4``, ``2.1–2.5``.

Ranges expand as the seed system's ``expandTaskRange`` does for the ranges it
accepts (``3.1-3.4`` -> 3.1, 3.2, 3.3, 3.4), extended to three-level ids that
share their first two parts (``3.1.1-3.1.3``). Ranges the seed would silently
mangle are problems here: a reversed range (``3.4-3.1``) and one across phases
(``1.3-2.2``, whose meaning depends on how many tasks phase 1 has).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TASK_ID = r"\d+\.\d+(?:\.\d+)?"
RANGE_DASH = r"(?:-|–|—|\bto\b|\bthrough\b)"
RANGE_PATTERN = re.compile(rf"(?P<start>{TASK_ID})(?:\s*{RANGE_DASH}\s*(?P<end>{TASK_ID}))?")


@dataclass(frozen=True)
class RangeProblem:
    message: str
    hint: str


def expand_range(start: str, end: str | None) -> tuple[list[str], RangeProblem | None]:
    """The ids a range names, or the problem with it (then only its two ends)."""
    if end is None or end == start:
        return [start], None
    head_a, _, last_a = start.rpartition(".")
    head_b, _, last_b = end.rpartition(".")
    if head_a != head_b:
        return [start, end], RangeProblem(
            f"range {start}-{end} crosses from {head_a} to {head_b}",
            "a range must stay within one phase (or one parent task); "
            f"list the tasks instead, e.g. {start}, {end}",
        )
    first, last = int(last_a), int(last_b)
    if first > last:
        return [start, end], RangeProblem(
            f"range {start}-{end} is reversed",
            f"write the lower id first: {end}-{start}",
        )
    return [f"{head_a}.{number}" for number in range(first, last + 1)], None


def phase_number(task_id: str) -> int:
    """The phase number a task id starts with (``3.1.2`` -> 3)."""
    return int(task_id.split(".", 1)[0])
