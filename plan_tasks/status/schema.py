"""The types status.json's values must have, checked once when the file is loaded.

A status.json edited by hand or by another tool can hold a value of the wrong
type (``"retryCount": "x"``, ``"status": 5``, a numeric ``id``). Every command
reads the file through ``store.load_status``, which calls :func:`check_document`,
so each of them answers with ``status.json:LINE:COL: error: ...`` and a hint
instead of a traceback, and writes nothing.

The rules are tables, one line per field: ``TOP_FIELDS`` for the document,
``TASK_FIELDS`` for each entry of ``tasks``, ``RUN_FIELDS`` for each entry of
``runs``. Keys no table names are allowed (the seed's tools add their own).
The check compares exact types (``type(value) in rule.types``: JSON gives no
subclasses, and it keeps ``true`` out of the whole numbers), so it costs a
few dict lookups per key; only once a problem is found is the JSON text
scanned for where it is (``plan_tasks.status.locate``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any, NamedTuple

from plan_tasks.errors import Location, PlanInvalid, Problem
from plan_tasks.status.document import OURS

NULL = type(None)


class Rule(NamedTuple):
    """What a field's value may be: exact JSON types, then an optional further check.

    An optional field's ``types`` include NULL and its ``check`` accepts None: a
    missing key reads as None on the fast path.
    """

    types: tuple[type, ...]
    expected: str  # for the message: "a string", "a whole number of 0 or more"
    check: Callable[[Any], bool] | None = None
    required: bool = False


# JavaScript's Number.MAX_SAFE_INTEGER: past it the seed's tools read another number
# (1e400 is Infinity to them), so a count or a duration beyond it is refused, not kept.
LARGEST = 2**53 - 1


def _count_in_range(value: Any) -> bool:
    return value is None or 0 <= value <= LARGEST


def _finite(value: Any) -> bool:
    return value is None or -LARGEST <= value <= LARGEST  # False for NaN and the infinities


STRING = Rule((str,), "a string", required=True)
OPTIONAL_STRING = Rule((str, NULL), "a string")
COUNT = Rule((int, NULL), f"a whole number from 0 to {LARGEST}", _count_in_range)
MILLISECONDS = Rule((int, float, NULL), f"a number of milliseconds (at most {LARGEST} either way)", _finite)
OBJECT = Rule((dict, NULL), "an object")
LIST = Rule((list,), "a list", required=True)
OPTIONAL_LIST = Rule((list, NULL), "a list")

TOP_FIELDS: dict[str, Rule] = {
    "tasks": LIST,
    "runs": OPTIONAL_LIST,
    "planPath": OPTIONAL_STRING,
    "planName": OPTIONAL_STRING,
    "createdAt": OPTIONAL_STRING,
    "lastUpdatedAt": OPTIONAL_STRING,
    "currentPhase": OPTIONAL_STRING,
    "summary": OBJECT,  # its counts are recomputed from the tasks whenever they are used
    "planTasks": OBJECT,
}
# What plan-tasks keeps under the document's `planTasks` and under each task's.
TOP_OURS_FIELDS: dict[str, Rule] = {
    "planHash": OPTIONAL_STRING,
    "syncedAt": OPTIONAL_STRING,
    "removedTasks": Rule((list, NULL), "a list"),
}
TASK_OURS_FIELDS: dict[str, Rule] = {
    "skipCause": OPTIONAL_STRING,
    "skippedBecauseOf": OPTIONAL_STRING,
    "failureCategory": OPTIONAL_STRING,
    "usage": OBJECT,  # costUsd, inputTokens, outputTokens, turns: what the agent CLIs reported
    "attempts": OPTIONAL_LIST,  # run.attempts: each attempt's times, outcome and log
}
TASK_FIELDS: dict[str, Rule] = {
    "id": STRING,
    "status": Rule((str, NULL), "a string (pending, in_progress, completed, failed or skipped)"),
    "phase": OPTIONAL_STRING,
    "description": OPTIONAL_STRING,
    "retryCount": COUNT,
    "duration": MILLISECONDS,
    "startedAt": OPTIONAL_STRING,
    "completedAt": OPTIONAL_STRING,
    "lastErrorAt": OPTIONAL_STRING,
    "error": OPTIONAL_STRING,
    "lastError": OPTIONAL_STRING,
    "notes": OPTIONAL_STRING,
    "skipReason": OPTIONAL_STRING,
    "planTasks": OBJECT,
}
RUN_FIELDS: dict[str, Rule] = {
    "runId": STRING,
    "startedAt": OPTIONAL_STRING,
    "completedAt": OPTIONAL_STRING,
    "completed": COUNT,
    "failed": COUNT,
    "tasksCompleted": COUNT,
    "tasksFailed": COUNT,
    "planTasks": OBJECT,  # run.attempts.note_run: the run's maxParallel
}

MAX_REPORTED = 20  # a file broken everywhere is reported by its first problems, not thousands

Where = tuple[Any, ...]  # the keys and list indexes leading from the document to a value


class StatusInvalid(PlanInvalid):
    """status.json parses, but values in it have the wrong type; it is left untouched."""


def find_problems(document: Any) -> list[tuple[Where, str]]:
    """Each wrong value as (where, message); empty for a well-typed document."""
    if type(document) is not dict:
        return [((), "status file is not a JSON object: it is not a plan status document")]
    problems = _check_fields(document, TOP_FIELDS, (), "status file")
    if type(document.get(OURS)) is dict:
        problems += _check_fields(document[OURS], TOP_OURS_FIELDS, (OURS,), "status file", f"{OURS}.")
    for name, rules, what in (("tasks", TASK_FIELDS, "task"), ("runs", RUN_FIELDS, "run")):
        entries = document.get(name)
        if type(entries) is not list or _well_typed(entries, rules) and (name != "tasks" or _ours_well_typed(entries)):
            continue
        for position, entry in enumerate(entries):
            if type(entry) is not dict:
                problems.append(((name, position), f"{what} {position + 1} of `{name}` is not an object"))
                continue
            described = _describe(what, position, entry)
            problems += _check_fields(entry, rules, (name, position), described)
            if name == "tasks" and type(entry.get(OURS)) is dict:
                problems += _check_fields(entry[OURS], TASK_OURS_FIELDS, (name, position, OURS), described, f"{OURS}.")
            if len(problems) >= MAX_REPORTED:
                return problems
    return problems


def _ours_well_typed(tasks: list[dict[str, Any]]) -> bool:
    """The fast path for the tasks' own ``planTasks`` objects (most tasks have none)."""
    ours = [value for value in map(dict.get, tasks, repeat(OURS)) if type(value) is dict]
    return not ours or _well_typed(ours, TASK_OURS_FIELDS)


def _well_typed(entries: list[Any], rules: dict[str, Rule]) -> bool:
    """The fast path: True when no entry breaks a rule.

    Field by field over all entries with ``map`` (the loops run in C: about
    8 ms for 10,000 tasks on the 2-core machine); a missing key reads as None, which every optional
    rule allows and no required one does.
    """
    if not set(map(type, entries)) <= {dict}:
        return False
    for key, rule in rules.items():
        if not set(map(type, map(dict.get, entries, repeat(key)))).issubset(rule.types):
            return False
        if rule.check is not None and not all(map(rule.check, map(dict.get, entries, repeat(key)))):
            return False
    return True


def _check_fields(entry: dict[str, Any], rules: dict[str, Rule], where: Where, what: str,
                  prefix: str = "") -> list[tuple[Where, str]]:
    problems = []
    for key, rule in rules.items():
        if key not in entry:
            if rule.required:
                problems.append((where, f"{what} has no `{prefix}{key}`: it must have one, {rule.expected}"))
            continue
        value = entry[key]
        if type(value) not in rule.types or (rule.check is not None and not rule.check(value)):
            problems.append(((*where, key), f"{what}: `{prefix}{key}` is {_shown(value)}, not {rule.expected}"))
    return problems


def _describe(what: str, position: int, entry: dict[str, Any]) -> str:
    identifier = entry.get("id" if what == "task" else "runId")
    named = type(identifier) is str and not _SURROGATE.search(identifier)
    return f"{what} {identifier}" if named else f"{what} {position + 1}"


def _shown(value: Any) -> str:
    """A value as the user typed it in JSON, shortened."""
    import json

    try:
        text = json.dumps(value, ensure_ascii=False)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_document(document: Any, text: str, display_path: str, hint: str) -> None:
    """Raise StatusInvalid, every problem located in ``text``, unless ``document`` is well typed
    and holds no lone surrogate."""
    problems = find_problems(document)
    if _ESCAPED_SURROGATE.search(text):  # a regex over the text: a quarter of a millisecond at 1,000 tasks
        problems += lone_surrogates(document)[:MAX_REPORTED]
    if not problems:
        return
    from plan_tasks.status.locate import locate

    raise StatusInvalid([
        Problem(Location(display_path, *locate(text, where)), message, hint) for where, message in problems
    ])


# A lone surrogate can only come in as an escape (the bytes were decoded as strict UTF-8);
# this finds every such escape, and valid pairs too, so it only decides whether to look.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogates(document: Any) -> list[tuple[Where, str]]:
    """Every key or string holding a lone surrogate (``"\\ud83d"``: valid JSON, but not text:
    it cannot be written as UTF-8, shown on a terminal or used in a file name).

    Walked without recursion, so a deeply nested document cannot exhaust the stack."""
    problems: list[tuple[Where, str]] = []
    pending: list[tuple[Where, Any]] = [((), document)]
    while pending:
        where, value = pending.pop()
        if type(value) is str:
            found = _SURROGATE.search(value)
            if found:
                problems.append((where, f"{_place(document, where)} holds a lone surrogate "
                                        f"(\\u{ord(found.group()):04x}), which is not text"))
        elif type(value) is dict:
            for key in value:
                found = _SURROGATE.search(key)
                if found:
                    problems.append(((*where, key), f"{_place(document, (*where, key))}: the key holds a lone "
                                                    f"surrogate (\\u{ord(found.group()):04x}), which is not text"))
            pending.extend(reversed([((*where, key), item) for key, item in value.items()]))  # in document order
        elif type(value) is list:
            pending.extend(reversed([((*where, position), item) for position, item in enumerate(value)]))
    return problems


def _place(document: Any, where: Where) -> str:
    """``task 1.3: `description```, ``run run-1: `runId```, or ``status file: `planName```."""
    if len(where) >= 3 and where[0] in ("tasks", "runs") and type(where[1]) is int:
        entry = document[where[0]][where[1]]
        what = _describe("task" if where[0] == "tasks" else "run", where[1], entry) if type(entry) is dict else ""
        return f"{what}: `{_dotted(where[2:])}`"
    return f"status file: `{_dotted(where)}`"


def _dotted(where: Where) -> str:
    return "".join(f"[{step}]" if type(step) is int else f".{step}" for step in where).lstrip(".")


def nested_deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays or objects nest more than ``limit`` levels (the document is level 1).

    Level by level, without recursion: writers call it before writing (the JSON writer
    recurses once per level, and how deep it gets depends on the stack it starts from)."""
    level = [document]
    for _ in range(limit):
        dicts = [value for value in level if type(value) is dict]
        lists = [value for value in level if type(value) is list]
        children = chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists))
        level = [value for value in children if type(value) is dict or type(value) is list]
        if not level:
            return False
    return True
