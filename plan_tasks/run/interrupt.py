"""Ctrl-C and SIGTERM during `plan-tasks run`: stop cleanly, then exit 130 or 143.

Signals belong to the process, so this module keeps one process-wide
:data:`STOP`. While :func:`handle_stop_signals` is active, the first SIGINT
(Ctrl-C, sent to the whole foreground process group) or SIGTERM (what CI
runners and Prefect workers send to one process) asks the run to stop:

* before the run has started (``STOP.graceful`` false: the local server is
  starting, Prefect is loading), the handler raises :class:`Interrupted` in the
  main thread, which unwinds like any error: nothing was written yet;
* once it has started, the handler only sets the request and calls what the
  run registered with :meth:`StopRequest.on_stop` (stop handing out tasks,
  terminate running task process groups), on a thread of its own; the run
  then winds down, its tasks back to ``pending``, its flow run Cancelled;
* a second signal exits at once (after a SIGKILL to every task process
  group), for a user who will not wait.

The Prefect flow runs on a thread of its own (see ``cli_run``), so the main
thread is free to take signals and Prefect's flow engine, which replaces the
SIGTERM handler only on the main thread, leaves ours in place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal's number, as shells report it
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Interrupted(Exception):
    """A stop signal came before the run started; nothing ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum
        self.exit_code = EXIT_CODES.get(signum, 128 + signum)


class StopRequest:
    """Whether, and by which signal, the user asked the run to stop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self.graceful = False  # a run is going: stop it gently instead of raising Interrupted
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._hard_stop: list[Callable[[], None]] = []

    def requested(self) -> bool:
        return self.event.is_set()

    @property
    def name(self) -> str:
        return NAMES.get(self.signum or 0, "a stop signal")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum or signal.SIGINT, 130)

    def on_stop(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when a stop is requested (at once if it already was);
        returns a function that unregisters it."""
        with self._lock:
            if not self.requested():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def on_hard_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` just before a second signal ends the process."""
        with self._lock:
            self._hard_stop.append(callback)

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    def request(self, signum: int) -> None:
        """Ask for a stop: record the signal, run the callbacks on their own thread."""
        with self._lock:
            if self.requested():
                return
            self.signum = signum
            self.event.set()
            callbacks = list(self._callbacks)
        if callbacks:
            threading.Thread(target=_call_all, args=(callbacks,), name="plan-tasks-stop", daemon=True).start()

    def reset(self) -> None:
        """Forget everything (tests run several runs in one process)."""
        with self._lock:
            self.event.clear()
            self.signum = None
            self.graceful = False
            self._callbacks.clear()
            self._hard_stop.clear()

    def hard_stop(self, signum: int) -> None:
        for callback in list(self._hard_stop):
            with contextlib.suppress(Exception):
                callback()
        os._exit(EXIT_CODES.get(signum, 128 + signum))


def _call_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception as error:  # noqa: BLE001 - one failing step must not keep the others from stopping
            import sys

            print(f"plan-tasks: warning: while stopping: {type(error).__name__}: {error}", file=sys.stderr)


STOP = StopRequest()


def _handle(signum: int, frame: FrameType | None) -> None:
    if STOP.requested():
        STOP.hard_stop(signum)
    STOP.request(signum)
    if not STOP.graceful:
        raise Interrupted(signum)


@contextlib.contextmanager
def handle_stop_signals() -> Iterator[StopRequest]:
    """Take SIGINT and SIGTERM for the block (main thread only); restores the previous handlers."""
    from plan_tasks.executors.process import allow_new_processes, kill_all

    STOP.reset()
    allow_new_processes()
    STOP.on_hard_stop(kill_all)
    previous = {signum: signal.signal(signum, _handle) for signum in EXIT_CODES}
    try:
        yield STOP
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
