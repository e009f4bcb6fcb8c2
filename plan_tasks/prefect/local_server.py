"""The Prefect server a `plan-tasks run` starts for itself when none is configured.

Prefect's own ephemeral server stores runs in SQLite, and SQLite takes one
writer at a time. When a request's transaction loses the race for the write
lock (a phase subflow's parent task run, a progress artifact, a concurrency
lease, while the server's task-run recorder is writing task states), Prefect
answers 503 and its client sleeps 2, 4, then 8 seconds before trying again.
The lock is held for milliseconds; those back-offs made a 500-task plan ten
times slower than the same tasks in a flat flow.

This module runs the same Prefect server application, in a subprocess on
127.0.0.1 with the same settings and database as Prefect's ephemeral mode,
behind one ASGI middleware, ``RetryLockedRequests``, that replays a request
answered 503 a few milliseconds later, inside the server, and only passes a
503 on (with a short ``Retry-After`` the client honours) when the lock stays
held. Prefect's client replays any 503 itself, so a replay here is as safe as
the client's own retry, only sooner.

The parent side (``LocalServer``) imports no Prefect: it picks a port, starts
``python -m uvicorn --factory plan_tasks.prefect.local_server:create_app`` and waits
for ``/api/health``. ``create_app`` runs in the subprocess only. What it
patches in Prefect's server, and what ``prefect_api`` relies on in the run's
process, lives in ``prefect_internals``: a Prefect that moved one of those
names stops the run with PrefectInternalsMoved, before any task starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

# Private Prefect names are used only through prefect_internals (it imports no Prefect itself).
# drain_prefect_workers stays importable from here: bench/run.py calls it.
from plan_tasks.prefect.internals import (
    PrefectInternalsMoved,
    begin_sqlite_transactions_immediate,
    check_run_process_internals,
    create_ephemeral_server_app,
    drain_prefect_workers,
    refresh_global_settings,
    store_sqlite_events_with_executemany,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SERVER_REPLAY_SECONDS = 3.0  # how long a request is replayed inside the server before its 503 goes out
FIRST_REPLAY_DELAY = 0.005  # doubles per replay, up to MAX_REPLAY_DELAY, with jitter
MAX_REPLAY_DELAY = 0.1
CLIENT_RETRY_AFTER = "0.25"  # seconds, for a 503 that does go out; Prefect's client honours it
# Prefect's recorders write every task-run event in its own transaction (batch size 1):
# a write lock taken over and over during a run, and server CPU taken from the run's own
# process on a small machine. In batches, the UI lags by at most the flush interval.
# Defaults only: a user's own PREFECT_SERVER_SERVICES_* settings win.
SERVICE_BATCHING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    # Whole seconds: the recorder truncates it to an int, and 0 makes its flush loop spin.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
}
START_TIMEOUT_SECONDS = 120.0  # the first start on a new machine migrates the database
LOCAL_API_URL = "PLAN_TASKS_LOCAL_API_URL"  # set while a run uses its own server
WATCH_PARENT = "PLAN_TASKS_SERVER_WATCH_PARENT"  # the server stops when its stdin closes
SERVER_PROBLEM = "PLAN_TASKS_SERVER_PROBLEM_FILE"  # where the server says which Prefect internal moved


class RetryLockedRequests:
    """ASGI middleware: replay HTTP requests the application answered 503.

    The request body is read once and fed again to every attempt. A 503's
    response is swallowed until the replay budget is spent; any other
    response, or the last 503 (given a ``Retry-After``), streams out as is.
    """

    def __init__(self, app: ASGIApp, budget_seconds: float = SERVER_REPLAY_SECONDS) -> None:
        self.app = app
        self.budget_seconds = budget_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before sending its request
        deadline = time.monotonic() + self.budget_seconds
        delay = FIRST_REPLAY_DELAY
        while True:
            last_chance = time.monotonic() >= deadline
            if not await self._attempt(scope, body, receive, send, last_chance):
                return
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, MAX_REPLAY_DELAY)

    async def _attempt(self, scope: Scope, body: bytes, receive: Receive, send: Send, last_chance: bool) -> bool:
        """One pass through the application; True when it answered 503 and should be replayed."""
        request_sent = False
        swallowing = False

        async def replay_receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the client's disconnect

        async def filtered_send(message: Message) -> None:
            nonlocal swallowing
            if message["type"] == "http.response.start" and message["status"] == 503:
                if not last_chance:
                    swallowing = True
                    return
                message = {**message, "headers": _with_retry_after(message.get("headers", []))}
            if not swallowing:
                await send(message)

        try:
            # A copy: routing writes into the scope (root_path), and a replay must start afresh.
            await self.app(dict(scope), replay_receive, filtered_send)
        except Exception:
            # Starlette re-raises the exception behind a 500-class handler's response
            # (for the server's log); for a response swallowed here, the replay is the handling.
            if not swallowing:
                raise
        return swallowing


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _with_retry_after(headers: Any) -> list[tuple[bytes, bytes]]:
    headers = [(name, value) for name, value in headers if name.lower() != b"retry-after"]
    return headers + [(b"retry-after", CLIENT_RETRY_AFTER.encode())]


def _stop_with_parent() -> None:
    """Stop this server when the run that started it is gone.

    The parent holds the only writing end of this process's stdin; when it
    exits, even killed with SIGKILL, the read below returns end-of-file, and a
    SIGTERM makes uvicorn shut down as usual (the recorders flush what they hold).
    """
    import signal
    import threading

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked in buffered IO aborts the
        # interpreter's shutdown ("could not acquire lock").
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="plan-tasks-parent-watch", daemon=True).start()


def create_app() -> ASGIApp:
    """The uvicorn factory: Prefect's server app, in ephemeral mode, behind the replay middleware.

    The two patches of Prefect's server come first (see ``prefect_internals``).
    When Prefect moved what one patches, the problem is written where the
    parent reads it (``SERVER_PROBLEM``), and the server does not start.
    """
    try:
        begin_sqlite_transactions_immediate()
        store_sqlite_events_with_executemany()
        app = RetryLockedRequests(create_ephemeral_server_app())
    except PrefectInternalsMoved as moved:
        _tell_parent(moved)
        raise
    if os.environ.get(WATCH_PARENT) == "1":
        _stop_with_parent()
    return app


def _tell_parent(moved: PrefectInternalsMoved) -> None:
    problem_file = os.environ.get(SERVER_PROBLEM)
    if problem_file:
        with open(problem_file, "w", encoding="utf-8") as problem:
            json.dump({"symbol": moved.symbol, "purpose": moved.purpose, "detail": moved.detail}, problem)


# -- the parent side: start, check, stop -------------------------------------------


class ServerStartError(RuntimeError):
    """The local server did not come up; the message carries the end of its log."""


class ServerUnreachable(RuntimeError):
    """The configured Prefect server (``PREFECT_API_URL``) does not answer."""

    def __init__(self, message: str, api_url: str) -> None:
        super().__init__(message)
        self.api_url = api_url


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api_healthy(api_url: str) -> bool:
    """Whether the Prefect API at ``api_url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class LocalServer:
    """A Prefect server for one run: ``with LocalServer(env) as api_url: ...``.

    ``env`` is the environment for the server process: the caller passes its
    Prefect settings there (``PREFECT_HOME`` and the like), so the server uses
    the same database as Prefect's ephemeral mode would. The server's output
    goes to a temporary log that is shown only when it fails to start, or
    passed through when ``verbose``.
    """

    def __init__(self, env: dict[str, str] | None = None, verbose: bool = False,
                 start_timeout: float = START_TIMEOUT_SECONDS) -> None:
        self.env = dict(os.environ if env is None else env)
        self.verbose = verbose
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self._log: Any = None
        self._problem_file = ""  # where the server writes which Prefect internal moved, if one did

    def start(self) -> str:
        """Start the server and wait until it answers; its API URL."""
        self.launch()
        return self.wait_until_healthy()

    def launch(self) -> None:
        """Start the server process without waiting for it."""
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}/api"
        handle, self._problem_file = tempfile.mkstemp(prefix="plan-tasks-server-problem-", suffix=".json")
        os.close(handle)
        env = {**SERVICE_BATCHING, **self.env, WATCH_PARENT: "1", SERVER_PROBLEM: self._problem_file,
               "PREFECT_UI_ENABLED": "0"}
        env.pop("PREFECT_API_URL", None)
        self._log = None if self.verbose else tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "plan_tasks.prefect.local_server:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
             # Events arrive over one websocket on the loopback: compressing every message costs
             # both processes CPU (a third of an event's sending cost) and saves nothing.
             "--ws-per-message-deflate", "false"],
            # stdin is a pipe only this process holds open: when it dies, however it dies,
            # the server reads end-of-file and stops too (see _stop_with_parent).
            env=env, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT if self._log else None,
            # Its own session: a Ctrl-C at the terminal goes to the run, which still needs the
            # server while it winds down, and stops it last.
            start_new_session=True,
        )

    def wait_until_healthy(self) -> str:
        """Wait for ``/api/health``; ServerStartError (with the server's log) when it exits or times out,
        PrefectInternalsMoved when it could not patch the installed Prefect."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + self.start_timeout
        while not api_healthy(self.api_url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                reason = (f"exited with code {self.process.returncode}" if self.process.poll() is not None
                          else f"did not answer within {self.start_timeout:.0f} s")
                log, moved = self._log_tail(), self._moved_internal()
                self.stop()
                if moved is not None:
                    raise moved
                raise ServerStartError(f"the local Prefect server {reason}" + (f":\n{log}" if log else ""))
            time.sleep(0.05)
        return self.api_url

    def _moved_internal(self) -> PrefectInternalsMoved | None:
        """What the server said moved in Prefect (see ``create_app``), if it said so."""
        try:
            with open(self._problem_file, encoding="utf-8") as problem:
                said = json.load(problem)
        except (OSError, ValueError):
            return None  # not written: the server failed for another reason
        return PrefectInternalsMoved(str(said["symbol"]), str(said["purpose"]), str(said["detail"]))

    def _log_tail(self, lines: int = 3) -> str:
        """The server's last words: its last lines, without traceback frames (``--verbose`` shows all)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        said = [line for line in text.splitlines()
                if line.strip() and not line.startswith((" ", "\t")) and not line.startswith("Traceback (")
                and not line.startswith("During handling of") and not line.startswith("The above exception")]
        return "\n".join(said[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._problem_file:
            with contextlib.suppress(OSError):
                os.unlink(self._problem_file)
            self._problem_file = ""

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def prefect_api(verbose: bool = False, on_ready: Callable[[str], None] | None = None) -> Iterator[str | None]:
    """Point Prefect at a server for the block: the configured one, or a local one.

    With ``PREFECT_API_URL`` set (environment, profile or any other Prefect
    settings source), that server is used and nothing is started; the block
    gets ``None``, or ServerUnreachable is raised when it does not answer.
    Otherwise a ``LocalServer`` runs for the block (``on_ready`` is told its
    URL once it answers), with this
    process's Prefect settings, and the block gets its API URL. Part of the
    run path: imports Prefect (``prefect.settings`` first, so that the server
    boots while the rest of Prefect is imported).
    """
    from prefect.settings import PREFECT_API_URL, get_current_settings

    if PREFECT_API_URL.value():
        from plan_tasks.run.server_check import unreachable

        configured = str(PREFECT_API_URL.value())
        reason = unreachable(configured)
        if reason:
            raise ServerUnreachable(reason, configured)
        check_run_process_internals()
        yield None
        return
    server = LocalServer({**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True)},
                         verbose=verbose)
    server.launch()
    try:
        import prefect.flows  # noqa: F401 - the slow part of importing Prefect, while the server boots

        check_run_process_internals()  # before the run starts, not when its first event is sent
        api_url = server.wait_until_healthy()
        if on_ready is not None:
            on_ready(api_url)
        # In the environment, and Prefect's global settings rebuilt from it: threads that
        # do not inherit a settings context (the event worker, future callbacks) read
        # those, and would otherwise start an ephemeral server of their own.
        with _environ({"PREFECT_API_URL": api_url, LOCAL_API_URL: api_url}):
            refresh_global_settings()
            try:
                from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

                # No heartbeats: they let a long-lived server mark crashed runs, and this
                # one ends with the run; their thread costs up to a second at every flow's end.
                with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                    yield api_url
            finally:
                drain_prefect_workers()
    finally:
        server.stop()
        refresh_global_settings()


def is_local(api_url: str | None) -> bool:
    """Whether ``api_url`` is the server ``prefect_api`` started for this run (no other plan shares it)."""
    return bool(api_url) and api_url == os.environ.get(LOCAL_API_URL)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
