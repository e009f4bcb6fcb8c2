"""The seed system's `next N`, exactly: ``cmdNext`` of ``status-cli.js`` and the
``parseExecutionNotes``/``expandTaskRange`` it relies on (``plan-status.js``).

Every rule and quirk is kept, because scripts and prompts depend on them:

* in-progress tasks, when any, are the whole answer (at most N of them);
* then every failed task, with no limit (so the answer can exceed N);
* then pending tasks phase by phase, a phase skipped while an earlier phase
  has pending or in-progress tasks and is under 80% completed-or-skipped (a
  previous phase whose only unfinished tasks are failed does not gate);
* phases are grouped by the ``phase`` string and ordered by the first number in
  it (``Phase\\s+(\\d+)``), ties in order of first appearance;
* execution notes are read from the raw plan text (fenced code included) with
  the seed's regular expression, which cannot match ``and`` between ranges,
  en dashes or spaced dashes; a CRLF plan yields no notes at all.

JavaScript semantics are reproduced where Python's differ: ``\\d`` is ASCII,
``\\s`` is JavaScript's whitespace set (the BOM is in it; NEL and U+001C-U+001F
are not), ``.`` stops at CR and the Unicode line separators, ``/i`` folds ASCII
letters only (no long s, Kelvin sign or dotless i), ``trim()`` strips the BOM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_UNDEFINED = object()
# JavaScript's \s (= the characters trim() strips), spelled out: Python's Unicode \s
# lacks the BOM and adds U+001C-U+001F and U+0085.
_JS_SPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# JavaScript's /i without the u flag never folds a non-ASCII character onto an ASCII
# letter; Python's IGNORECASE does (U+017F ~ s, U+212A ~ k, U+0131/U+0130 ~ i).
_JS_IGNORECASE = re.IGNORECASE | re.ASCII
_JS_DOT = "[^\n\r\u2028\u2029]"
NOTE_PATTERN = re.compile(
    rf"\*\*Execution Note:\*\*[{_JS_SPACE}]*Tasks?[{_JS_SPACE}]+([0-9.,{_JS_SPACE}-]+)[{_JS_SPACE}]+(?:are|is)"
    rf"[{_JS_SPACE}]+\[SEQUENTIAL\][{_JS_SPACE}]*[-–—]?[{_JS_SPACE}]*({_JS_DOT}+?)(?:\n|\Z)",
    _JS_IGNORECASE,
)
RANGE_SPLIT = re.compile(rf"[{_JS_SPACE}]+and[{_JS_SPACE}]+|,[{_JS_SPACE}]*(?=[0-9])", _JS_IGNORECASE)
SEED_RANGE = re.compile(r"^([0-9]+)\.([0-9]+)-([0-9]+)\.([0-9]+)$")
SEED_SINGLE = re.compile(r"^[0-9]+\.[0-9]+$")
PHASE_NUMBER = re.compile(rf"Phase[{_JS_SPACE}]+([0-9]+)")
PHASE_PREFIX = re.compile(rf"^Phase[{_JS_SPACE}]+[0-9]+:[{_JS_SPACE}]*")  # what `phases` strips from a title


def js_trim(text: str) -> str:
    return text.strip(" \t\n\r\x0b\x0c\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                      "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")


class IdRange(Sequence[str]):
    """The ids ``P.first`` .. ``P.last`` that the seed's range expands to, without the list.

    ``1.1-1.1000000`` in an execution note is a million ids, of which the seed only ever
    asks "is this task one of them": that is arithmetic here, so such a note costs
    nothing (the list took 33 s and 1.4 GiB). It compares equal to the list it stands for.
    """

    def __init__(self, phase: int, first: int, last: int) -> None:
        self.phase, self.first, self.last = phase, first, last

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return f"{self.phase}.{self.first + index % len(self)}"

    def __contains__(self, value: object) -> bool:
        if type(value) is not str:
            return False  # JavaScript's includes() is strict: the number 1.1 is not "1.1"
        phase, _, number = value.partition(".")
        canonical = number.isascii() and number.isdigit() and (number == "0" or not number.startswith("0"))
        return (phase == str(self.phase) and canonical and len(number) <= len(str(self.last))
                and self.first <= int(number) <= self.last)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IdRange):
            return (self.phase, self.first, self.last) == (other.phase, other.first, other.last)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(mine == theirs for mine, theirs in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable as one

    def __repr__(self) -> str:
        return f"IdRange({self.phase}.{self.first}-{self.phase}.{self.last})"


def expand_task_range(range_text: str) -> Sequence[str]:
    """The seed's ``expandTaskRange``; a range as an :class:`IdRange`.

    A number of more than 300 digits (JavaScript's parseInt makes it Infinity, and the
    seed's loop never ends) leaves the range unexpanded, as a cross-phase one is."""
    trimmed = js_trim(range_text)
    if not trimmed:
        return []
    if "," in trimmed:
        return [part for part in (js_trim(piece) for piece in trimmed.split(",")) if part]
    match = SEED_RANGE.match(trimmed)
    if match:
        start_phase, start_task, end_phase, end_task = match.groups()
        if start_phase == end_phase and max(map(len, match.groups())) <= 300:
            start, end = int(start_task), int(end_task)
            if start <= end:
                return IdRange(int(start_phase), start, end)
        return [f"{start_phase}.{start_task}", f"{end_phase}.{end_task}"]
    if SEED_SINGLE.match(trimmed):
        return [trimmed]
    return []


def parse_execution_notes(plan_text: str) -> list[dict[str, Any]]:
    """The seed's ``parseExecutionNotes``: ``[{taskRange, taskIds, reason}]``."""
    constraints = []
    for match in NOTE_PATTERN.finditer(plan_text):
        reason = js_trim(match.group(2))
        for piece in RANGE_SPLIT.split(js_trim(match.group(1))):
            clean = js_trim(piece)
            if clean:
                task_ids = expand_task_range(clean)
                if task_ids:
                    constraints.append({"taskRange": clean, "taskIds": task_ids, "reason": reason})
    return constraints


def _phase_number(phase_name: str) -> int:
    match = PHASE_NUMBER.search(phase_name)
    return int(match.group(1)) if match else 0


def _slice(items: list[Any], count: int) -> list[Any]:
    """JavaScript's ``items.slice(0, count)``."""
    return items[:count] if count >= 0 else items[: max(len(items) + count, 0)]


def select_next_seed(document: dict[str, Any], plan_text: str | None, count: int = 3) -> dict[str, Any]:
    """``cmdNext(planPath, count)`` of the seed's ``status-cli.js``, as JSON data."""
    constraints = parse_execution_notes(plan_text) if plan_text is not None else []

    def constraint_of(task_id: Any) -> dict[str, Any]:
        for constraint in constraints:
            if task_id in constraint["taskIds"]:
                return {"sequential": True, "sequentialGroup": constraint["taskRange"],
                        "sequentialReason": constraint["reason"]}
        return {"sequential": False}

    phases: dict[str, dict[str, Any]] = {}
    for task in document.get("tasks") or []:
        name = task.get("phase") or "Unknown Phase"
        if name not in phases:
            phases[name] = {"number": _phase_number(name), "tasks": []}
        phases[name]["tasks"].append(task)
    ordered = sorted(phases.values(), key=lambda phase: phase["number"])

    def entry(task: dict[str, Any], phase: dict[str, Any], reason: str) -> dict[str, Any]:
        data = {"id": task.get("id", _UNDEFINED), "description": task.get("description", _UNDEFINED),
                "phase": phase["number"], "status": task.get("status", _UNDEFINED), "reason": reason}
        data.update(constraint_of(task.get("id")))
        # JSON.stringify drops undefined (a missing key) but keeps null.
        return {key: value for key, value in data.items() if value is not _UNDEFINED}

    chosen = [entry(task, phase, "in_progress - should be completed first")
              for phase in ordered for task in phase["tasks"] if task.get("status") == "in_progress"]
    if chosen:
        return {"count": min(len(chosen), count), "tasks": _slice(chosen, count)}

    chosen = [entry(task, phase, "failed - needs retry or manual intervention")
              for phase in ordered for task in phase["tasks"] if task.get("status") == "failed"]
    for phase in ordered:
        previous = [other for other in ordered if other["number"] < phase["number"]]
        previous_incomplete = any(task.get("status") in ("pending", "in_progress")
                                  for other in previous for task in other["tasks"])
        previous_mostly_complete = all(
            sum(1 for task in other["tasks"] if task.get("status") in ("completed", "skipped"))
            >= len(other["tasks"]) * 0.8
            for other in previous
        )
        if previous_incomplete and not previous_mostly_complete:
            continue
        for task in phase["tasks"]:
            if task.get("status") == "pending" and len(chosen) < count:
                chosen.append(entry(task, phase, "pending - ready to implement"))
        if len(chosen) >= count:
            break
    return {"count": len(chosen), "tasks": chosen}
