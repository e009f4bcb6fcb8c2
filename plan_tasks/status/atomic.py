"""Crash-safe file replacement: a reader sees the old file or the new one, never half.

The content goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target (atomic on POSIX and on Windows with
``os.replace``), and the directory is fsynced so the rename itself survives a
power cut. A process killed at any point leaves the old file intact and, at
worst, a stray ``.tmp`` file that the next write does not trip over.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    import tempfile  # here, not at the top: read-only commands never pay for it

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
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
    _fsync_directory(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory; os.replace is durable enough there
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
