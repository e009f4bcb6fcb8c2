"""Task ids and id ranges: ``1.2``, ``3.1.4``, ``3.1-3.4``, ``2.1–2.5``.

Ranges expand as the seed system's ``expandTaskRange`` does for the ranges it
accepts (``3.1-3.4`` -> 3.1, 3.2, 3.3, 3.4), extended to three-level ids that
share their first two parts (``3.1.1-3.1.3``). Ranges the seed would silently
mangle are problems here: a reversed range (``3.4-3.1``) and one across phases
(``1.3-2.2``, whose meaning depends on how many tasks phase 1 has), and one
naming more than ``MAX_RANGE_TASKS`` tasks (``1.1-1.1000000`` would otherwise
cost seconds and gigabytes before any check could say that phase 1 has 12).
Ends are compared as digit strings before ``int()`` sees them, so a number of
thousands of digits is one of these problems, not ``int()``'s ValueError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TASK_ID = r"\d+\.\d+(?:\.\d+)?"
RANGE_DASH = r"(?:-|–|—|\bto\b|\bthrough\b)"
RANGE_PATTERN = re.compile(rf"(?P<start>{TASK_ID})(?:\s*{RANGE_DASH}\s*(?P<end>{TASK_ID}))?")
# No real phase holds this many tasks: a longer range is a typo, refused before it is expanded.
MAX_RANGE_TASKS = 1000


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
    numbers = numbers_between(last_a, last_b)
    if numbers == REVERSED:
        return [start, end], RangeProblem(
            f"range {start}-{end} is reversed",
            f"write the lower id first: {end}-{start}",
        )
    if numbers == TOO_LONG:
        return [start, end], too_long(start, end)
    assert isinstance(numbers, range)
    return [f"{head_a}.{number}" for number in numbers], None


REVERSED, TOO_LONG = "reversed", "too long"


def numbers_between(first: str, last: str) -> range | str:
    """The numbers ``first``..``last`` (digit strings), or REVERSED, or TOO_LONG when
    they are more than MAX_RANGE_TASKS; decided before ``int()`` sees a long number."""
    low, high = _magnitude(first), _magnitude(last)
    if low > high:
        return REVERSED
    if high[0] > len(str(MAX_RANGE_TASKS)) or int(high[1]) - int(low[1]) + 1 > MAX_RANGE_TASKS:
        return TOO_LONG
    return range(int(low[1]), int(high[1]) + 1)


def too_long(start: str, end: str) -> RangeProblem:
    return RangeProblem(
        f"range {start}-{end} names more than {MAX_RANGE_TASKS:,} tasks",
        f"check its last id; a range may name at most {MAX_RANGE_TASKS:,} tasks: split a longer one",
    )


def _magnitude(digits: str) -> tuple[int, int | str]:
    """A digit string as something that orders like its number: (count of significant
    digits, the number); past 18 digits the digits themselves, which ``int()`` may refuse
    and which only a number of the same length is compared with."""
    significant = digits.lstrip("0") or "0"
    return len(significant), int(significant) if len(significant) <= 18 else significant


def phase_number(task_id: str) -> int:
    """The phase number a task id starts with (``3.1.2`` -> 3)."""
    return int(task_id.split(".", 1)[0])
