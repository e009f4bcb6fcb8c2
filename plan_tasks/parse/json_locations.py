"""JSON with locations: where each value of a document starts, by its path.

``json.loads`` (C-fast) decides whether a file is valid JSON and reads its
values; a problem with a value (a task without an id, a dependency on an
unknown task) must still be reported as ``tasks.json:LINE:COL``, and a
status written back must replace exactly one value and leave every other
byte alone. :func:`read_located` pairs the loaded value with the text;
:meth:`LocatedJson.offset` finds where a value starts, by its path
(``("master", "tasks", 3, "id")``), walking only the containers on that path
and skipping each sibling value with the C decoder's ``raw_decode``, so a
long ``details`` string or a whole other tag costs one C call, not a token
walk in Python.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from plan_tasks.errors import Location, Problem

Path = tuple[str | int, ...]


@dataclass
class LocatedJson:
    """A loaded JSON document, the text it came from and where each value starts."""

    path: str
    text: str
    value: Any
    _children: dict[Path, dict[str | int, int]] = field(default_factory=dict)
    _line_starts: list[int] = field(default_factory=list)

    def offset(self, at: Path) -> int | None:
        """Where the value at ``at`` starts in the text, or None if there is none."""
        position = _skip_space(self.text, 0)
        for depth, part in enumerate(at):
            parent = at[:depth]
            children = self._children.get(parent)
            if children is None:
                if self.text[position : position + 1] not in ("{", "["):
                    return None
                children = self._children[parent] = _children(self.text, position)
            if part not in children:
                return None
            position = children[part]
        return position

    def value_at(self, at: Path) -> Any:
        value = self.value
        for part in at:
            value = value[part]
        return value

    def location(self, at: Path) -> Location:
        """The 1-based line and column of the value at ``at`` (or of its nearest parent)."""
        offset = self.offset(at)
        while offset is None and at:
            at = at[:-1]
            offset = self.offset(at)
        return self.location_of_offset(offset or 0)

    def location_of_offset(self, offset: int) -> Location:
        if not self._line_starts:
            self._line_starts = [0] + [match.end() for match in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._line_starts, offset)
        return Location(self.path, line, offset - self._line_starts[line - 1] + 1)


def read_located(text: str, path: str) -> tuple[LocatedJson | None, list[Problem]]:
    """The document with its value offsets, or None and the located syntax error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [Problem(
            Location(path, error.lineno, error.colno),
            f"invalid JSON: {error.msg}",
            "fix the JSON syntax (a trailing comma, a missing quote or bracket?)",
        )]
    return LocatedJson(path, text, value), []


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r,]*")
_KEY = re.compile(r'("(?:[^"\\]|\\.)*")[ \t\n\r]*:[ \t\n\r]*')


def _skip_space(text: str, position: int) -> int:
    return _SPACE.match(text, position).end()  # type: ignore[union-attr]


def _children(text: str, start: int) -> dict[str | int, int]:
    """Offsets of the direct children of the object or array at ``start`` (valid JSON)."""
    children: dict[str | int, int] = {}
    is_object = text[start] == "{"
    position, index = start + 1, 0
    while True:
        position = _SEPARATOR.match(text, position).end()  # type: ignore[union-attr]
        if text[position] in "}]":
            return children
        if is_object:
            key = _KEY.match(text, position)
            assert key is not None
            name: str | int = _key(key.group(1))
            position = key.end()
        else:
            name, index = index, index + 1
        children[name] = position
        position = _DECODER.raw_decode(text, position)[1]


def _key(token: str) -> str:
    return json.loads(token) if "\\" in token else token[1:-1]
