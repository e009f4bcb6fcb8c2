"""Writing an answer's FILE blocks: all of them or none, never outside the project.

Every path is checked before anything is written (``safe_paths``): a bad one
rejects the whole answer. Then every block is staged, as a temporary file
beside its target, and only when all are staged are they renamed into place.
A failure while staging removes every temporary file and every directory the
staging created, so nothing of the answer is left (the renames themselves
can still fail half-way, e.g. if the disk goes away, but they write nothing
new: each is one directory entry).

Writes cannot be redirected by a symlink swapped in after the check: each
target's directory is reached from the project root one component at a time,
with ``os.open(name, O_DIRECTORY | O_NOFOLLOW, dir_fd=parent)``, so a
component that has become a symlink is refused, and the temporary file is
created and renamed relative to that directory's descriptor (``O_EXCL |
O_NOFOLLOW``), so the final name is replaced, never followed.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plan_tasks.executors.answer import Block, FileBlock, parse_answer
from plan_tasks.executors.outcome import TaskFailure
from plan_tasks.executors.safe_paths import protecting_pattern, refuse, resolve_inside

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PathLocks:
    """One writer per path at a time across the tasks of a run (threads of one process)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}

    def lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())


PATH_LOCKS = PathLocks()


@dataclass
class _Staged:
    """What staging has done so far, to finish it or to undo it."""

    descriptors: list[int] = field(default_factory=list)  # every directory opened
    created: list[tuple[int, str]] = field(default_factory=list)  # directories made: (parent fd, name)
    files: list[tuple[int, str, str]] = field(default_factory=list)  # (directory fd, temp name, final name)


def write_blocks(root: Path, blocks: Sequence[Block], protected: tuple[str, ...] = ()) -> list[str]:
    """Write every block, after checking all of them; returns the paths written."""
    real_root = Path(os.path.realpath(root))
    targets = _checked_targets(real_root, blocks, protected)
    locks = [PATH_LOCKS.lock_for(target) for target, _ in targets]
    for lock in sorted(set(locks), key=id):  # one order for every writer: no deadlock
        lock.acquire()
    try:
        _write_all(real_root, targets)
    finally:
        for lock in set(locks):
            lock.release()
    return [block.path for block in blocks]


def check_blocks(root: Path, blocks: Sequence[Block], protected: tuple[str, ...] = ()) -> None:
    """Raise the TaskFailure that :func:`write_blocks` would for a bad path, writing nothing."""
    _checked_targets(Path(os.path.realpath(root)), blocks, protected)


def _checked_targets(real_root: Path, blocks: Sequence[Block], protected: tuple[str, ...]) -> list[tuple[Path, Block]]:
    targets: list[tuple[Path, Block]] = []
    seen: set[Path] = set()
    for block in blocks:
        target = resolve_inside(real_root, block.path)
        if target == real_root:
            raise refuse(block.path, "not a file path")
        pattern = protecting_pattern(target.relative_to(real_root).parts, protected)
        if pattern is not None:
            raise refuse(block.path, f"it is a protected path (`{pattern}`)")
        if target in seen:
            raise TaskFailure(f"agent protocol violation: `{block.path}` appears twice in one answer", "permanent")
        if target.is_dir():
            raise refuse(block.path, "it is a directory")
        seen.add(target)
        targets.append((target, block))
    return targets


def _write_all(real_root: Path, targets: list[tuple[Path, Block]]) -> None:
    staged = _Staged()
    try:
        staged.descriptors.append(os.open(real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        for target, block in targets:
            _stage(staged, target.relative_to(real_root).parts, block)
        for directory, temp_name, final_name in staged.files:
            os.replace(temp_name, final_name, src_dir_fd=directory, dst_dir_fd=directory)
        staged.files.clear()
        for directory in set(staged.descriptors):
            os.fsync(directory)  # the renames survive a power cut
    except OSError as error:
        _undo(staged)
        raise TaskFailure(f"could not write the agent's files ({error.strerror or error}); none was written",
                          "permanent") from None
    except BaseException:
        _undo(staged)
        raise
    finally:
        for descriptor in staged.descriptors:
            os.close(descriptor)


def _stage(staged: _Staged, parts: tuple[str, ...], block: Block) -> None:
    """Write ``block`` to a temporary file in the directory of ``parts``, reached without following symlinks."""
    directory = staged.descriptors[0]
    for name in parts[:-1]:
        directory = _open_directory(staged, directory, name, block.path)
    temp_name = f".{parts[-1][:200]}.{secrets.token_hex(4)}.plan-tasks.tmp"
    mode = _mode_of(directory, parts[-1])
    descriptor = os.open(temp_name, TEMP_FLAGS, mode, dir_fd=directory)
    staged.files.append((directory, temp_name, parts[-1]))
    with os.fdopen(descriptor, "wb") as temp:
        if mode != 0o666:
            os.fchmod(temp.fileno(), mode)  # an existing file keeps its mode (a script stays executable)
        for chunk in block.chunks():
            temp.write(chunk)
        temp.flush()
        os.fsync(temp.fileno())


def _open_directory(staged: _Staged, parent: int, name: str, path: str) -> int:
    try:
        descriptor = os.open(name, DIRECTORY_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        os.mkdir(name, 0o777, dir_fd=parent)
        staged.created.append((parent, name))
        descriptor = os.open(name, DIRECTORY_FLAGS, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise refuse(path, f"`{name}` is not a directory (a symlink or a file is there)") from None
        raise
    staged.descriptors.append(descriptor)
    return descriptor


def read_inside(root: Path, relative: str, limit: int) -> bytes:
    """At most the first ``limit`` bytes of a regular file inside the project,
    reached the way writes are (a symlink swapped in after the check is not
    followed); TaskFailure or OSError when it cannot be read so. Never blocks
    on a FIFO, never reads more than ``limit`` of a huge file."""
    real_root = Path(os.path.realpath(root))
    parts = resolve_inside(real_root, relative).relative_to(real_root).parts
    if not parts:
        raise IsADirectoryError(errno.EISDIR, "the project root", relative)
    descriptors = [os.open(real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for name in parts[:-1]:
            descriptors.append(os.open(name, DIRECTORY_FLAGS, dir_fd=descriptors[-1]))
        file = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=descriptors[-1])
        descriptors.append(file)
        if not stat.S_ISREG(os.fstat(file).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", relative)
        chunks: list[bytes] = []
        while limit > 0 and (chunk := os.read(file, min(limit, 1 << 16))):
            chunks.append(chunk)
            limit -= len(chunk)
        return b"".join(chunks)
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def _mode_of(directory: int, name: str) -> int:
    try:
        found = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return 0o666  # a new file: the umask decides, as for any file a program creates
    return stat.S_IMODE(found.st_mode) if stat.S_ISREG(found.st_mode) else 0o666


def _undo(staged: _Staged) -> None:
    """Remove every temporary file, then every directory staging made (deepest first)."""
    for directory, temp_name, _ in staged.files:
        try:
            os.unlink(temp_name, dir_fd=directory)
        except OSError:
            pass
    for parent, name in reversed(staged.created):
        try:
            os.rmdir(name, dir_fd=parent)
        except OSError:
            pass


__all__ = ["FileBlock", "PathLocks", "parse_answer", "read_inside", "resolve_inside", "write_blocks"]
