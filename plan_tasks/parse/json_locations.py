"""JSON with locations: where each value of a document starts, by its path.

``json.loads`` (C-fast) decides whether a file is valid JSON and reads its
values; a problem with a value (a task without an id, a dependency on an
unknown task) must still be reported as ``tasks.json:LINE:COL``, and a
status written back must replace exactly one value and leave every other
byte alone. :func:`read_located` pairs the loaded value with the offset of
every value in the text, keyed by its path (``("master", "tasks", 3, "id")``),
from one tokenizing pass over the already-validated text.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from plan_tasks.errors import Location, Problem

Path = tuple[str | int, ...]

_TOKEN = re.compile(r'[\s]*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<punct>[{}\[\]:,])|(?P<scalar>[^\s{}\[\]:,"]+))')


@dataclass
class LocatedJson:
    """A loaded JSON document, the text it came from and where each value starts."""

    path: str
    text: str
    value: Any
    offsets: dict[Path, int] = field(default_factory=dict)
    _line_starts: list[int] = field(default_factory=list)

    def value_at(self, at: Path) -> Any:
        value = self.value
        for part in at:
            value = value[part]
        return value

    def location(self, at: Path) -> Location:
        """The 1-based line and column of the value at ``at`` (or of its nearest parent)."""
        while at not in self.offsets and at:
            at = at[:-1]
        return self.location_of_offset(self.offsets.get(at, 0))

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
    document = LocatedJson(path, text, value)
    document.offsets = _value_offsets(text)
    return document, []


def _value_offsets(text: str) -> dict[Path, int]:
    """Offsets of every value by path; ``text`` must be valid JSON."""
    offsets: dict[Path, int] = {}
    stack: list[list[Any]] = []  # frames: [path, kind, next index or pending key]
    position = 0
    length = len(text)
    while position < length:
        token = _TOKEN.match(text, position)
        if token is None or token.end() == position:
            break
        position = token.end()
        punct = token.group("punct")
        start = token.start(token.lastgroup or "punct")
        if punct in (":", ","):
            continue
        if punct in ("}", "]"):
            stack.pop()
            continue
        frame = stack[-1] if stack else None
        if frame is not None and frame[1] == "object" and frame[2] is None:
            frame[2] = _key(token.group("string"))  # a key: its value follows the colon
            continue
        if frame is None:
            value_path: Path = ()
        elif frame[1] == "object":
            value_path = frame[0] + (frame[2],)
            frame[2] = None
        else:
            value_path = frame[0] + (frame[2],)
            frame[2] += 1
        offsets[value_path] = start
        if punct == "{":
            stack.append([value_path, "object", None])
        elif punct == "[":
            stack.append([value_path, "array", 0])
    return offsets


def _key(token: str) -> str:
    return json.loads(token) if "\\" in token else token[1:-1]
