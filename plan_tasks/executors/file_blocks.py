"""The read-only agent protocol: ``FILE: <path>`` followed by a fenced block.

An agent never writes files itself (the seed's rule against races); it answers
with blocks like::

    FILE: src/export/types.py
    ```python
    <complete file content>
    ```

and plan-tasks writes them. Everything outside FILE blocks is the agent's
findings. Writes are checked before any happens: a path that is absolute,
climbs out with ``..``, or leads through a symlink out of the project rejects
the whole answer, and nothing is written.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from plan_tasks.executors.outcome import TaskFailure
from plan_tasks.status.atomic import write_atomic

FILE_HEADER = re.compile(r"^\s*(?:\*\*)?FILE:(?:\*\*)?\s*`?(?P<path>[^`*]+?)`?(?:\*\*)?\s*$")
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")


@dataclass(frozen=True)
class FileBlock:
    path: str
    content: str


def parse_answer(answer: str) -> tuple[list[FileBlock], str]:
    """FILE blocks and the remaining text (the findings); raises TaskFailure
    (permanent) when a FILE header is not followed by a closed fenced block."""
    lines = answer.splitlines()
    blocks: list[FileBlock] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        header = FILE_HEADER.match(lines[index])
        if not header:
            prose.append(lines[index])
            index += 1
            continue
        path = header.group("path").strip()
        index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
        opener = FENCE.match(lines[index]) if index < len(lines) else None
        if not opener:
            raise TaskFailure(f"agent protocol violation: `FILE: {path}` is not followed by a fenced block", "permanent")
        fence = opener.group("fence")
        body: list[str] = []
        index += 1
        while index < len(lines):
            closer = FENCE.match(lines[index])
            if closer and closer.group("fence")[0] == fence[0] and len(closer.group("fence")) >= len(fence) \
                    and not lines[index].strip()[len(closer.group("fence")):].strip():
                break
            body.append(lines[index])
            index += 1
        else:
            raise TaskFailure(f"agent protocol violation: the block of `FILE: {path}` is never closed", "permanent")
        index += 1
        blocks.append(FileBlock(path, "\n".join(body) + "\n" if body else ""))
    return blocks, "\n".join(prose).strip()


def resolve_inside(root: Path, relative: str) -> Path:
    """The absolute target of ``relative`` if it stays inside ``root``; else TaskFailure."""
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", relative):
        raise TaskFailure(f"refused to write `{relative}`: absolute paths are not allowed", "permanent")
    if ".." in pure.parts:
        raise TaskFailure(f"refused to write `{relative}`: `..` may not leave the project", "permanent")
    if not pure.parts or relative.endswith("/"):
        raise TaskFailure(f"refused to write `{relative}`: not a file path", "permanent")
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root.joinpath(*pure.parts)))  # follows every symlink on the way
    if target != real_root and real_root not in target.parents:
        raise TaskFailure(f"refused to write `{relative}`: a symlink leads outside the project", "permanent")
    return target


class PathLocks:
    """One writer per path at a time across the tasks of a run (threads of one process)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}

    def lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())


PATH_LOCKS = PathLocks()


def write_blocks(root: Path, blocks: list[FileBlock]) -> list[str]:
    """Write every block atomically, after checking all of them; returns the paths written."""
    targets = [(resolve_inside(root, block.path), block) for block in blocks]
    seen: set[Path] = set()
    for target, block in targets:
        if target in seen:
            raise TaskFailure(f"agent protocol violation: `{block.path}` appears twice in one answer", "permanent")
        seen.add(target)
    written = []
    for target, block in targets:
        with PATH_LOCKS.lock_for(target):
            write_atomic(target, block.content.encode("utf-8"))
        written.append(block.path)
    return written
