"""The run's one writer of status.json: queued changes applied in order, in as few
locked transactions as possible, with as little as possible between a change that
is waited for and its being on disk.

Each transaction takes the plan's locks (plan-tasks' own and the seed CLI's), so a
CLI user or an agent marking tasks while the run goes on loses nothing. Three
things keep a transaction short, as a run writes many per second:

* changes queued together share one transaction; a change nobody waits for may
  wait ``GATHER_SECONDS`` for others to join it (a task's end then shares the
  transaction of the next task's start);
* the document this writer wrote last is kept with the bytes it wrote: while
  status.json still holds exactly those bytes, nobody else has written it, and it
  is not parsed and checked again (at 10,000 tasks, 1.4 MB, parsing was most of a
  transaction's time; reading and comparing the bytes costs about a millisecond);
* waiters are woken as soon as the new file is in place (renamed), and the
  directory's fsync, which only makes the rename survive a power cut, follows
  outside the lock (the old file would be found whole until then).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from plan_tasks.errors import PlanError
from plan_tasks.status import document as doc
from plan_tasks.status.atomic import sync_directory
from plan_tasks.status.paths import PlanPaths
from plan_tasks.status.store import load_status, locked, require_status, save_status

GATHER_SECONDS = 0.05  # how long a change nobody waits for may wait for others to share its write

Change = Callable[[doc.Document], None]
Item = tuple[Change, threading.Event | None]


def _no_change(document: doc.Document) -> None:
    return None


class StatusWriter:
    """Applies queued status changes in order, on its own thread. ``submit(change,
    wait=True)`` returns once the change is on disk (sharing its transaction with
    whatever else is queued)."""

    def __init__(self, paths: PlanPaths) -> None:
        self._paths = paths
        self._queue: queue.Queue[Item | None] = queue.Queue()
        self.errors: list[str] = []
        self._document: doc.Document | None = None  # as last written by this writer
        self._written: bytes | None = None  # the bytes it wrote
        self._thread = threading.Thread(target=self._loop, name="plan-tasks-status", daemon=True)
        self._thread.start()

    def submit(self, change: Change, wait: bool = False) -> None:
        written = threading.Event() if wait else None
        self._queue.put((change, written))
        if written is not None:
            written.wait()

    def flush(self) -> None:
        """Return once every change submitted so far is on disk."""
        # Queued after all of them and waited for: it also ends the gathering at once.
        self.submit(_no_change, wait=True)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _gather(self) -> list[Item | None]:
        """The next batch: all that is queued; if nobody waits for it, also what
        comes within GATHER_SECONDS."""
        batch = [self._queue.get()]
        deadline = time.monotonic() + GATHER_SECONDS
        urgent = batch[0] is None or batch[0][1] is not None
        while True:
            try:
                if urgent:
                    item = self._queue.get_nowait()
                else:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return batch
            batch.append(item)
            urgent = urgent or item is None or item[1] is not None

    def _loop(self) -> None:
        while True:
            batch = self._gather()
            items = [item for item in batch if item is not None]
            directory: Path | None = None
            try:
                if items:
                    directory = self._apply(items)
            except Exception as error:  # noqa: BLE001 - reported by the run, which goes on
                self._forget()
                self.errors.append(f"status.json not updated: {error}")
            finally:
                _wake(items)  # also after an error: it is in self.errors, the run goes on
                for _ in batch:
                    self._queue.task_done()
            if directory is not None:
                try:
                    sync_directory(directory)
                except OSError:
                    pass  # durability only: the file itself is written and in place
            if len(items) < len(batch):
                return

    def _apply(self, items: list[Item]) -> Path:
        """One locked transaction; wakes its waiters as soon as the file is in place.
        Returns the directory whose fsync is still due."""
        require_status(self._paths)
        with locked(self._paths):
            document = self._current()
            for change, _ in items:
                try:
                    change(document)
                except PlanError as error:  # one bad change must not lose the others
                    self.errors.append(error.message)
            doc.refresh(document)  # summary and current phase, once for the batch
            self._forget()  # until the save is complete
            target, data = save_status(self._paths, document, sync_directory=False, read_checked=True)
            self._document, self._written = document, data
            _wake(items)  # status.json says so now; releasing the locks takes milliseconds more
        return target.parent

    def _current(self) -> doc.Document:
        """The document on disk: the one this writer wrote last, while status.json is
        still that very file; read anew once anybody else has written it."""
        if self._written is not None and self._document is not None:
            try:
                unchanged = self._paths.status_file.read_bytes() == self._written
            except OSError:
                unchanged = False
            if unchanged:
                return self._document
        self._forget()
        return load_status(self._paths)

    def _forget(self) -> None:
        self._document, self._written = None, None


def _wake(items: list[Item]) -> None:
    for _, written in items:
        if written is not None:
            written.set()
