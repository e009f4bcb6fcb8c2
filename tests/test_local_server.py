"""The server `plan-tasks run` starts for itself: the 503-replay middleware
(driven through the ASGI protocol by small applications), events stored on it,
and a real server started, used by a flow and stopped. Its patches of Prefect
are tested in test_prefect_internals.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from server_helpers import prefect_env

from plan_tasks.prefect import local_server
from plan_tasks.prefect.local_server import LocalServer, RetryLockedRequests, ServerStartError, is_local

# -- the middleware, through ASGI ---------------------------------------------------


class Answers:
    """An ASGI app that answers each request with the next status of a list, and records what it saw."""

    def __init__(self, *statuses: int, raise_after_503: bool = False, body_chunks: int = 1) -> None:
        self.statuses = list(statuses)
        self.raise_after_503 = raise_after_503
        self.body_chunks = body_chunks
        self.bodies: list[bytes] = []
        self.root_paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.root_paths.append(scope.get("root_path", ""))
        scope["root_path"] = scope.get("root_path", "") + "/api"  # as routing does, in place
        message = await receive()
        self.bodies.append(message["body"])
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        for chunk in range(self.body_chunks):
            await send({"type": "http.response.body", "body": f"{status}:{chunk}".encode(),
                        "more_body": chunk < self.body_chunks - 1})
        if status == 503 and self.raise_after_503:
            raise RuntimeError("database is locked")  # Starlette re-raises behind a 500-class handler


def call(app: Any, body: bytes = b'{"x": 1}', chunks: int = 1, scope_type: str = "http") -> tuple[list[dict], dict]:
    """Send one request through ``app``; the messages it sent back, and the scope afterwards."""
    scope: dict[str, Any] = {"type": scope_type, "method": "POST", "path": "/api/task_runs/", "root_path": ""}
    pieces = [body[i::chunks] for i in range(chunks)] if chunks > 1 else [body]
    incoming = [{"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
                for i, piece in enumerate(pieces)]
    sent: list[dict] = []

    async def receive() -> dict:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)  # a client that stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, scope


def test_a_request_answered_503_is_replayed_until_it_succeeds() -> None:
    app = Answers(503, 503, 503, 201)
    sent, _ = call(RetryLockedRequests(app))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [201]
    assert [m["body"] for m in sent if m["type"] == "http.response.body"] == [b"201:0"]
    assert app.bodies == [b'{"x": 1}'] * 4  # the same body, every attempt


def test_a_body_sent_in_pieces_is_replayed_whole() -> None:
    app = Answers(503, 200)
    call(RetryLockedRequests(app), body=b"abcdefgh", chunks=3)
    assert len(app.bodies) == 2 and app.bodies[0] == app.bodies[1] and sorted(app.bodies[0]) == sorted(b"abcdefgh")


def test_every_replay_starts_from_the_original_scope() -> None:
    app = Answers(503, 503, 200)
    _, scope = call(RetryLockedRequests(app))
    assert app.root_paths == ["", "", ""]
    assert scope["root_path"] == ""


def test_other_responses_stream_out_untouched() -> None:
    app = Answers(404, body_chunks=3)
    sent, _ = call(RetryLockedRequests(app))
    assert sent[0]["status"] == 404 and sent[0]["headers"] == [(b"content-type", b"text/plain")]
    assert [m["body"] for m in sent[1:]] == [b"404:0", b"404:1", b"404:2"]
    assert len(app.bodies) == 1


def test_a_lock_that_stays_held_goes_out_as_503_with_a_short_retry_after() -> None:
    app = Answers(503)
    sent, _ = call(RetryLockedRequests(app, budget_seconds=0.05))
    start = [m for m in sent if m["type"] == "http.response.start"]
    assert len(start) == 1 and start[0]["status"] == 503
    assert dict(start[0]["headers"])[b"retry-after"] == local_server.CLIENT_RETRY_AFTER.encode()
    assert len(app.bodies) >= 2  # replayed inside the server before giving up


def test_the_exception_behind_a_swallowed_503_is_replayed_not_raised() -> None:
    app = Answers(503, 200, raise_after_503=True)
    sent, _ = call(RetryLockedRequests(app))
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200]


def test_an_exception_without_a_503_propagates() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        call(RetryLockedRequests(broken))


def test_non_http_scopes_pass_through() -> None:
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    call(RetryLockedRequests(app), scope_type="lifespan")
    call(RetryLockedRequests(app), scope_type="websocket")
    assert seen == ["lifespan", "websocket"]


# -- events on the local server (the writer patched in prefect_internals) -------------------


EVENTS_SCRIPT = """
from prefect import flow
from prefect.events import emit_event
from plan_tasks.prefect.local_server import prefect_api

@flow(persist_result=False)
def announce() -> None:
    for number in range(120):  # more than one batch of the persister's queue
        emit_event(event="plan.task.completed", resource={"prefect.resource.id": f"plan-tasks.task.x.1.{number}"},
                   related=[{"prefect.resource.id": "prefect.task-run.1234", "prefect.resource.role": "task-run"}],
                   payload={"task": f"1.{number}"})

with prefect_api():
    announce()
"""


def test_events_reach_the_database_of_the_local_server_with_their_resources(tmp_path: Path) -> None:
    import json
    import sqlite3

    env = prefect_env(tmp_path, PREFECT_LOGGING_LEVEL="CRITICAL")
    done = subprocess.run([sys.executable, "-c", EVENTS_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    with sqlite3.connect(tmp_path / "prefect.db") as database:
        events = database.execute(
            "select id, resource_id, payload from events where event = 'plan.task.completed'").fetchall()
        assert sorted(json.loads(payload)["task"] for _, _, payload in events) == sorted(
            f"1.{number}" for number in range(120))
        roles = database.execute(
            "select r.resource_role, count(*) from event_resources r join events e on e.id = r.event_id "
            "where e.event = 'plan.task.completed' group by r.resource_role").fetchall()
    # The task itself (no role) and the related task run; the flow run and flow come from the run context.
    assert dict(roles) == {"": 120, "task-run": 120, "flow-run": 120, "flow": 120}


# -- a real server ------------------------------------------------------------------------


def test_a_server_that_cannot_start_reports_its_output(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_API_DATABASE_CONNECTION_URL": "not-a-database-url"}
    with pytest.raises(ServerStartError, match="local Prefect server exited with code") as error:
        LocalServer(env, start_timeout=60).start()
    assert "not-a-database-url" in str(error.value) or "Error" in str(error.value)


SCRIPT = """
import os, sys
from prefect import flow
from plan_tasks.prefect.local_server import is_local, prefect_api
from plan_tasks.prefect.internals import ephemeral_server_api_url

@flow(persist_result=False)
def where() -> str:
    from prefect.settings import PREFECT_API_URL
    return str(PREFECT_API_URL.value())

with prefect_api() as api_url:
    assert api_url and api_url.startswith("http://127.0.0.1:"), api_url
    assert os.environ["PREFECT_API_URL"] == api_url and is_local(api_url)
    assert where() == api_url
    print("ran on", api_url)
assert "PREFECT_API_URL" not in os.environ and not is_local(api_url)
assert ephemeral_server_api_url() is None, "Prefect started an ephemeral server of its own"
print("stopped")
"""


def test_prefect_api_runs_flows_on_its_own_server_and_stops_it(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_API_URL")}
    env.update(PREFECT_HOME=str(tmp_path), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="CRITICAL")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ran on http://127.0.0.1:") and lines[-1] == "stopped"
    port = lines[0].rsplit(":", 1)[1].split("/")[0]
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"--port {port}" not in listing, "the server outlived its block"


def test_a_configured_server_is_used_as_it_is(prefect_server: str) -> None:
    with local_server.prefect_api() as api_url:
        assert api_url is None
    assert not is_local(prefect_server)


PARENT = """
import sys, time
from plan_tasks.prefect.local_server import LocalServer
server = LocalServer()
server.start()
print(server.process.pid, flush=True)
time.sleep(600)
"""


def test_the_server_stops_when_its_run_is_killed(tmp_path: Path) -> None:
    import signal
    import time

    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_API_URL")}
    env.update(PREFECT_HOME=str(tmp_path), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    finally:
        parent.send_signal(signal.SIGKILL)  # no finally, no atexit: the worst way to go
        parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(server_pid, signal.SIGKILL)
    pytest.fail("the local server outlived the run that started it")
