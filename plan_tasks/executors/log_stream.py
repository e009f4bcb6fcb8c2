"""An attempt's log file as a task's output streams into it.

Output is written whole lines at a time, each through the log filter when one
is set: the run's secrets redaction sets it (``set_log_filter``), and then a
secret that the pipe happens to cut in two is still found, since it never
spans a line. A line longer than ``LINE_LIMIT`` is passed on in pieces, so
memory stays bounded.

The log is for people. What the agent executor parses (FILE blocks) is the
raw output, in a file of its own (``process.answer_file``): a filter that
changes the log never changes the files an agent writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

LINE_LIMIT = 1 << 16

_log_filter: Callable[[str], str] | None = None


def set_log_filter(log_filter: Callable[[str], str] | None) -> None:
    """Pass every line of every task's log through ``log_filter`` (None: as printed)."""
    global _log_filter
    _log_filter = log_filter


class LogWriter:
    """Appends output to a log file, whole lines at a time, through the log filter."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self._pending = bytearray()

    def write(self, chunk: bytes) -> None:
        self._pending += chunk
        cut = self._pending.rfind(b"\n") + 1
        if cut == 0 and len(self._pending) > LINE_LIMIT:
            cut = len(self._pending)
        if cut:
            self._emit(bytes(self._pending[:cut]))
            del self._pending[:cut]
            self.file.flush()  # in the log now, for whoever follows it (tail -f)

    def flush(self) -> None:
        """Write what is pending, a last line without its line break included."""
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending.clear()
        self.file.flush()

    def _emit(self, data: bytes) -> None:
        log_filter = _log_filter
        if log_filter is not None:
            # surrogateescape: bytes that are not UTF-8 pass through unchanged
            data = log_filter(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        self.file.write(data)


@contextlib.contextmanager
def open_log(path: Path | None) -> Iterator[LogWriter | None]:
    """A writer appending to the log at ``path`` (None: no log)."""
    if path is None:
        yield None
        return
    with open(path, "ab") as file:
        writer = LogWriter(file)
        try:
            yield writer
        finally:
            writer.flush()
