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

from collections.abc import Callable
from itertools import repeat
from typing import Any, NamedTuple

from plan_tasks.errors import Location, PlanInvalid, Problem

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


def _at_least_zero(value: Any) -> bool:
    return value is None or value >= 0


STRING = Rule((str,), "a string", required=True)
OPTIONAL_STRING = Rule((str, NULL), "a string")
COUNT = Rule((int, NULL), "a whole number of 0 or more", _at_least_zero)
MILLISECONDS = Rule((int, float, NULL), "a number of milliseconds")
OBJECT = Rule((dict, NULL), "an object")
LIST = Rule((list,), "a list", required=True)
OPTIONAL_LIST = Rule((list, NULL), "a list")

TOP_FIELDS: dict[str, Rule] = {
    "tasks": LIST,
    "runs": OPTIONAL_LIST,
    "planPath": OPTIONAL_STRING,
    "planName": OPTIONAL_STRING,
    "currentPhase": OPTIONAL_STRING,
    "summary": OBJECT,
    "planTasks": OBJECT,
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
    for name, rules, what in (("tasks", TASK_FIELDS, "task"), ("runs", RUN_FIELDS, "run")):
        entries = document.get(name)
        if type(entries) is not list or _well_typed(entries, rules):
            continue
        for position, entry in enumerate(entries):
            if type(entry) is not dict:
                problems.append(((name, position), f"{what} {position + 1} of `{name}` is not an object"))
            else:
                problems += _check_fields(entry, rules, (name, position), _describe(what, position, entry))
            if len(problems) >= MAX_REPORTED:
                return problems
    return problems


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


def _check_fields(entry: dict[str, Any], rules: dict[str, Rule], where: Where, what: str) -> list[tuple[Where, str]]:
    problems = []
    for key, rule in rules.items():
        if key not in entry:
            if rule.required:
                problems.append((where, f"{what} has no `{key}`: it must have one, {rule.expected}"))
            continue
        value = entry[key]
        if type(value) not in rule.types or (rule.check is not None and not rule.check(value)):
            problems.append(((*where, key), f"{what}: `{key}` is {_shown(value)}, not {rule.expected}"))
    return problems


def _describe(what: str, position: int, entry: dict[str, Any]) -> str:
    identifier = entry.get("id" if what == "task" else "runId")
    return f"{what} {identifier}" if type(identifier) is str else f"{what} {position + 1}"


def _shown(value: Any) -> str:
    """A value as the user typed it in JSON, shortened."""
    import json

    try:
        text = json.dumps(value, ensure_ascii=False)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_document(document: Any, text: str, display_path: str, hint: str) -> None:
    """Raise StatusInvalid, every problem located in ``text``, unless ``document`` is well typed."""
    problems = find_problems(document)
    if not problems:
        return
    from plan_tasks.status.locate import locate

    raise StatusInvalid([
        Problem(Location(display_path, *locate(text, where)), message, hint) for where, message in problems
    ])
