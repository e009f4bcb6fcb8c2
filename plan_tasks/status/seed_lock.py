"""The seed CLI's lock on status.json, honoured and taken: ``status.json.lock``.

The seed's ``status-cli.js`` locks status.json with the npm package
proper-lockfile, whose protocol (lib/lockfile.js, v4) is on disk only:

* the lock is a directory named after the file's real path plus ``.lock``,
  made with ``mkdir`` (atomic, also on network file systems);
* its holder refreshes the directory's mtime every ``update`` ms (default
  ``stale / 2`` = 5 s);
* a lock whose mtime is older than ``stale`` ms (default 10,000) belongs to a
  process that died: anyone may remove it (``rmdir``) and take it;
* release is ``rmdir``.

:func:`hold_seed_lock` follows the same rules, so plan-tasks and the seed's
CLI exclude each other on one file: plan-tasks waits while the seed holds a
fresh lock, and the seed gets ``ELOCKED`` while plan-tasks holds it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

STALE_SECONDS = 10.0  # proper-lockfile's default `stale`
UPDATE_SECONDS = STALE_SECONDS / 2  # and `update`
POLL_SECONDS = 0.02


class SeedLockTimeout(Exception):
    """The directory lock stayed held (and fresh) for longer than the timeout."""


def seed_lock_directory(status_file: Path) -> Path:
    """``<real path of status.json>.lock``, as proper-lockfile names it (``realpath: true``)."""
    target = Path(os.path.realpath(status_file)) if status_file.exists() else status_file.absolute()
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def hold_seed_lock(status_file: Path, timeout: float) -> Iterator[Path]:
    """Hold ``status.json.lock`` for the block; raises SeedLockTimeout after ``timeout`` s of waiting."""
    directory = seed_lock_directory(status_file)
    deadline = time.monotonic() + timeout
    while not _try_make(directory):
        if time.monotonic() > deadline:
            raise SeedLockTimeout(str(directory))
        time.sleep(POLL_SECONDS)
    _REFRESHER.add(directory)
    try:
        yield directory
    finally:
        _REFRESHER.discard(directory)
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(directory)


def _try_make(directory: Path) -> bool:
    """One attempt, as proper-lockfile's acquireLock: mkdir; on EEXIST, a stale lock is removed and tried again."""
    try:
        os.mkdir(directory)
        return True
    except FileExistsError:
        pass
    try:
        stale = os.stat(directory).st_mtime < time.time() - STALE_SECONDS
    except FileNotFoundError:
        stale = True  # released meanwhile: try again at once
    if not stale:
        return False
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(directory)
    try:
        os.mkdir(directory)
        return True
    except FileExistsError:
        return False  # someone else took it first


class _Refresher:
    """Keeps the mtime of held lock directories fresh (every UPDATE_SECONDS) from one
    daemon thread, started on first use: a lock held longer than STALE_SECONDS
    (a slow disk, a huge status.json) must not look abandoned to the seed."""

    def __init__(self) -> None:
        self._held: dict[Path, float] = {}  # directory -> when its mtime was last set
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, directory: Path) -> None:
        with self._guard:
            self._held[directory] = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="plan-tasks-seed-lock", daemon=True)
                self._thread.start()

    def discard(self, directory: Path) -> None:
        with self._guard:
            self._held.pop(directory, None)

    def _loop(self) -> None:
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self._guard:
                due = [directory for directory, touched in self._held.items() if now - touched >= UPDATE_SECONDS]
                for directory in due:
                    with contextlib.suppress(OSError):
                        os.utime(directory)
                    self._held[directory] = now


_REFRESHER = _Refresher()
