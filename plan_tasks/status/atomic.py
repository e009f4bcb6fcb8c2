"""Crash-safe file replacement: a reader sees the old file or the new one, never half.

The content goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target (atomic on POSIX and on Windows with
``os.replace``), and the directory is fsynced so the rename itself survives a
power cut. A process killed at any point leaves the old file intact and, at
worst, a stray ``.tmp`` file that the next write does not trip over.

The new file has the mode of the one it replaces, or, for a new file, the
mode ``open()`` gives (0644 under umask 022): this writes status.json,
findings, ticked plans and the files agents answer with, and a script must
stay executable.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, sync_directory: bool = True) -> None:
    """Replace ``path`` with ``data``; the file keeps its mode (a 0755 script stays 0755),
    and a new one gets the mode ``open()`` would give it (0666 less the umask).

    ``sync_directory=False`` leaves the directory's fsync to the caller (``sync_directory``
    below): the replacement is atomic either way; until then only its durability across
    a power cut waits (the old file would be found whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        kept_mode: int | None = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        kept_mode = None
    descriptor, temp_name = _create_temp(path)
    try:
        with os.fdopen(descriptor, "wb") as temp:
            if kept_mode is not None:
                _set_mode(temp.fileno(), temp_name, kept_mode)
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise
    if sync_directory:
        _fsync_directory(path.parent)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, created as ``open()`` creates files (0666
    less the umask, applied by the OS), not 0600 as ``tempfile.mkstemp`` would."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temp_name = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(temp_name, flags, 0o666), temp_name
        except FileExistsError:
            continue  # a name another writer drew; draw again
    raise FileExistsError(f"no free temporary name beside {path}")


def _set_mode(descriptor: int, name: str, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, mode)
    else:  # Windows: only the read-only bit means anything there
        os.chmod(name, mode)


def write_text_atomic(path: Path, text: str, *, sync_directory: bool = True) -> None:
    write_atomic(path, text.encode("utf-8"), sync_directory=sync_directory)


def sync_directory(directory: Path) -> None:
    """Make the renames done in ``directory`` durable (see ``write_atomic``)."""
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory; os.replace is durable enough there
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
