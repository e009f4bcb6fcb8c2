"""Which paths a FILE block may name: checks on the text of a path, on where
it leads, and on the paths inside the project that are protected.

A path is refused, with the reason, when it is absolute, climbs out with
``..``, holds a NUL or another control character, is too long, leads through
a symlink out of the project, or falls on a protected path: ``.git`` at any
depth (an agent setting ``core.fsmonitor`` there runs code on the next
``git status``), the plan's output folder (status.json, findings, logs), the
plan file itself, and the ``protect = [...]`` patterns of ``[tool.plan-tasks]``.

Patterns read like ``.gitignore`` lines: one with a ``/`` is anchored at the
project root (``docs/plan-outputs/x``, ``/setup.cfg``), one without matches a
name at any depth (``.git``, ``*.pem``); ``*``, ``?`` and ``[...]`` are
wildcards; a pattern that matches a directory protects everything under it.
Matching ignores case, so ``.GIT`` on a case-insensitive file system is
refused too.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path, PurePosixPath

from plan_tasks.executors.outcome import TaskFailure

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
MAX_NAME_BYTES = 255  # NAME_MAX of common file systems
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ALWAYS_PROTECTED = (".git",)


def refuse(relative: str, reason: str) -> TaskFailure:
    return TaskFailure(f"refused to write `{_shown(relative)}`: {reason}", "permanent")


def _shown(relative: str) -> str:
    """A path as an error message may show it: control characters escaped, cut when very long."""
    escaped = CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", relative)
    return escaped if len(escaped) <= 200 else escaped[:200] + "..."


def path_parts(relative: str) -> tuple[str, ...]:
    """The components of a block's path, after every check on its text."""
    control = CONTROL.search(relative)
    if control:
        name = "a NUL byte" if control.group() == "\0" else f"a control character (U+{ord(control.group()):04X})"
        raise refuse(relative, f"the path holds {name}")
    if len(relative.encode("utf-8", errors="surrogatepass")) > MAX_PATH_BYTES:
        raise refuse(relative, "path too long")
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", relative):
        raise refuse(relative, "absolute paths are not allowed")
    if ".." in pure.parts:
        raise refuse(relative, "`..` may not leave the project")
    if not pure.parts or relative.endswith(("/", "\\")):
        raise refuse(relative, "not a file path")
    if any(len(part.encode("utf-8", errors="surrogatepass")) > MAX_NAME_BYTES for part in pure.parts):
        raise refuse(relative, f"path too long (a name over {MAX_NAME_BYTES} bytes)")
    return pure.parts


def resolve_inside(root: Path, relative: str) -> Path:
    """The absolute target of ``relative`` if it stays inside ``root``; else TaskFailure."""
    parts = path_parts(relative)
    real_root = Path(os.path.realpath(root))
    try:
        target = Path(os.path.realpath(real_root.joinpath(*parts)))  # follows every symlink on the way
    except OSError as error:  # a symlink changed into something else while it was read
        raise refuse(relative, f"the path changed while it was checked ({error.strerror or error})") from None
    if target != real_root and real_root not in target.parents:
        raise refuse(relative, "a symlink leads outside the project")
    return target


def protected_patterns(root: Path, plan: Path, output_dir: Path, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``.git``, the plan's output folder and the plan file (when inside the root), then ``extra``."""
    anchored = []
    real_root = Path(os.path.realpath(root))
    for path in (output_dir, plan):
        try:
            anchored.append("/" + Path(os.path.realpath(path)).relative_to(real_root).as_posix())
        except ValueError:
            continue  # outside the project: no block can reach it anyway
    return (*ALWAYS_PROTECTED, *anchored, *extra)


def protecting_pattern(parts: tuple[str, ...], patterns: tuple[str, ...]) -> str | None:
    """The first pattern that protects the path ``parts`` (relative to the real root), if any."""
    folded = [part.casefold() for part in parts]
    for pattern in patterns:
        anchored = "/" in pattern.rstrip("/")
        wanted = pattern.strip("/").casefold()
        if anchored:
            prefixes = ("/".join(folded[:length]) for length in range(1, len(folded) + 1))
            if any(fnmatch.fnmatchcase(prefix, wanted) for prefix in prefixes):
                return pattern
        elif any(fnmatch.fnmatchcase(part, wanted) for part in folded):
            return pattern
    return None
