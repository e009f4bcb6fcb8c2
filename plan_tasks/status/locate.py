"""Where a value sits in a JSON text: the line and column of a path like ``("tasks", 3, "retryCount")``.

Parsers give values, not positions; this small scanner walks the text (already
known to be valid JSON) along one path and skips everything beside it. It runs
only after a problem was found, so a well-formed status.json never pays for it.
"""

from __future__ import annotations

import re
from json.decoder import scanstring
from typing import Any

_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"[^,\]}\s]*")  # numbers, true, false, null (and Python's NaN, Infinity)
_STRUCTURE = re.compile(r'["\[\]{}]')


def locate(text: str, path: tuple[Any, ...]) -> tuple[int, int]:
    """Line and column (from 1) of the value at ``path``; of the deepest value on the
    way when the path cannot be followed to its end."""
    position = _skip_space(text, 0)
    for step in path:
        found = _child(text, position, step)
        if found is None:
            break
        position = found
    return line_and_column(text, position)


def line_and_column(text: str, position: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def _skip_space(text: str, position: int) -> int:
    return _SPACE.match(text, position).end()  # type: ignore[union-attr]  # `*` always matches


def _child(text: str, start: int, step: Any) -> int | None:
    """Where the member ``step`` (a key, or an index) of the container at ``start`` begins."""
    opener = text[start:start + 1]
    if (opener, type(step)) not in (("{", str), ("[", int)):
        return None
    closer = "}" if opener == "{" else "]"
    position = _skip_space(text, start + 1)
    if text.startswith(closer, position):
        return None
    found, index = None, 0
    while True:
        if opener == "{":
            key, position = scanstring(text, position + 1)
            position = _skip_space(text, _skip_space(text, position) + 1)  # past the colon
            if key == step:
                found = position  # not returned yet: with a repeated key, JSON keeps the last
        elif index == step:
            return position
        position = _skip_space(text, _skip_value(text, position))
        index += 1
        if not text.startswith(",", position):
            return found
        position = _skip_space(text, position + 1)


def _skip_value(text: str, position: int) -> int:
    """The end of the value that starts at ``position``."""
    first = text[position:position + 1]
    if first == '"':
        return scanstring(text, position + 1)[1]
    if first not in ("{", "["):
        return _SCALAR.match(text, position).end()  # type: ignore[union-attr]
    depth = 0
    while True:
        mark = _STRUCTURE.search(text, position)
        if mark is None:
            return len(text)
        symbol = mark.group()
        if symbol == '"':
            position = scanstring(text, mark.end())[1]
            continue
        depth += 1 if symbol in "[{" else -1
        position = mark.end()
        if depth == 0:
            return position


def deeper_than(text: str, limit: int) -> int | None:
    """Where the first array or object nested more than ``limit`` levels deep opens
    (strings skipped); None when nothing is that deep. Runs only after a parser or a
    writer gave up on the nesting, so it may be slow."""
    depth, position = 0, 0
    while True:
        mark = _STRUCTURE.search(text, position)
        if mark is None:
            return None
        symbol = mark.group()
        if symbol == '"':
            try:
                position = scanstring(text, mark.end())[1]
            except ValueError:
                return None  # an unterminated string: nothing deeper follows that a parser read
            continue
        depth += 1 if symbol in "[{" else -1
        if depth > limit:
            return mark.start()
        position = mark.end()
