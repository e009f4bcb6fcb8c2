"""Real Prefect processes for end-to-end tests: an environment of their own,
long-running processes (a server, a worker) and their cleanup, the HTTP API.

No Prefect import here: the tests drive Prefect through its CLI and its HTTP
API, as users and CI do.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from plan_tasks.prefect.local_server import api_healthy, free_port

ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]
# Variables of the caller that would point a test's processes at another server, plan or agent.
INHERITED_PLAN_TASKS = ("PLAN_TASKS_LOCAL_API_URL", "PLAN_TASKS_GLOBAL_LIMIT", "PLAN_TASKS_AGENT_COMMAND")
STOP_GRACE_SECONDS = 10.0


def prefect_env(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment for Prefect subprocesses with a ``PREFECT_HOME`` of their own.

    Every inherited ``PREFECT_*`` setting is dropped (a configured API URL, a
    profile, a team database must not receive test runs), so are plan-tasks'
    own variables, telemetry is off and ``plan_tasks`` imports from this
    checkout. ``settings`` are added last.
    """
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PREFECT_") and name not in INHERITED_PLAN_TASKS}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.update(settings)
    return env


def api_request(api_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET ``path`` of the API (POST when ``body`` is given); the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{api_url}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def background(command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
               ) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` for the block, in a session of its own, its output in ``log``;
    afterwards (also on failure) stop it and every process it started."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop_process_tree(process)


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str,
               timeout: float) -> None:
    """Poll ``ready`` until it holds; fail with ``log``'s tail when ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            reason = (f"exited with code {process.returncode}" if process.poll() is not None
                      else f"was not ready within {timeout:.0f} s")
            raise AssertionError(f"{what} {reason}; the end of its log:\n{log_tail(log)}")
        time.sleep(0.1)


@contextlib.contextmanager
def prefect_server(env: dict[str, str], log: Path, timeout: float = 120.0) -> Iterator[str]:
    """``prefect server start`` on a free port of 127.0.0.1, as docs/deploy.md has users
    start one; yields its API URL once ``/api/health`` answers."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    command = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with background(command, {**env, "PREFECT_UI_ENABLED": "false"}, log) as server:
        wait_until(lambda: api_healthy(api_url), server, log, "`prefect server start`", timeout)
        yield api_url


def stop_process_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then after a grace period SIGKILL, the process group of ``process`` and
    the groups of all its descendants.

    Descendants that start sessions of their own (Prefect's flow-run processes,
    plan-tasks' task processes) leave the group; they are found through
    ``/proc`` while their parent still lives.
    """
    groups = {process.pid}
    if process.poll() is None:
        for pid in descendants(process.pid):
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(pid))
    groups.discard(os.getpgrp())  # never this test process's own group
    _signal_groups(groups, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _signal_groups(groups, signal.SIGKILL)
    process.wait()


def _signal_groups(groups: set[int], signal_number: int) -> None:
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal_number)


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid``, from ``/proc`` (none where there is no ``/proc``)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state"
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found
