"""The private Prefect names plan-tasks relies on (``plan_tasks.prefect.internals``):
each is present in the installed Prefect, each patch is in force where it
matters (on the local server's own database setup, in a real flow run), and a
moved name stops a run with exit 2 and a message naming the Prefect version
and the symbol, instead of a silent fallback.

These tests decide the ``prefect`` pin in pyproject.toml: run them on a
Prefect version before widening it.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from server_helpers import prefect_env

from plan_tasks.errors import EXIT_INVALID, PlanError
from plan_tasks.prefect import internals as prefect_internals
from plan_tasks.prefect.internals import PrefectInternalsMoved, installed_prefect_version, resolve

ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_TIMEOUT = 180

# Every private name, as prefect_internals looks it up.
SYMBOLS = [
    ("prefect.server.database.configurations", "AioSqliteConfiguration.begin_transaction"),
    ("prefect.server.database.configurations", "SQLITE_BEGIN_MODE"),
    ("prefect.server.events.storage.database", "_write_sqlite_events"),
    ("prefect.server.events.storage.database", "write_events"),
    ("prefect.server.events.schemas.events", "ReceivedEvent.as_database_row"),
    ("prefect.server.events.schemas.events", "ReceivedEvent.as_database_resource_rows"),
    ("prefect.server.database", "provide_database_interface"),
    ("prefect.server.api.server", "create_app"),
    ("prefect.server.api.server", "SubprocessASGIServer._instances"),
    ("prefect.context", "refresh_global_settings_context"),
    ("prefect.context", "FlowRunContext.__var__"),
    ("prefect.context", "TaskRunContext.__var__"),
    ("prefect.events.worker", "EventsWorker.drain_all"),
    ("prefect.logging.handlers", "APILogWorker.instance"),
    ("prefect.utilities.asyncutils", "run_coro_as_sync"),
]


@pytest.mark.parametrize(("module_name", "attribute_path"), SYMBOLS, ids=[f"{m}.{a}" for m, a in SYMBOLS])
def test_each_private_prefect_name_is_where_plan_tasks_looks_for_it(module_name: str, attribute_path: str) -> None:
    assert resolve(module_name, attribute_path, "test") is not None


@pytest.mark.parametrize(("function", "parameters"), [
    ("prefect.server.api.server.create_app", ("ephemeral", "final")),
    ("prefect.server.database.configurations.AioSqliteConfiguration.begin_transaction",
     ("session", "with_for_update")),
    ("prefect.server.events.storage.database._write_sqlite_events", ("session", "events")),
])
def test_patched_and_called_functions_keep_their_parameters(function: str, parameters: tuple[str, ...]) -> None:
    import inspect

    module_name, attribute_path = _split(function)
    found = inspect.signature(resolve(module_name, attribute_path, "test")).parameters
    assert set(parameters) <= set(found), f"{function} takes {list(found)}"


def _split(dotted: str) -> tuple[str, str]:
    """``a.b.c.Name.attribute`` as the longest importable module and the attribute path after it."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        return ".".join(parts[:cut]), ".".join(parts[cut:])
    raise AssertionError(f"no module in {dotted}")


@pytest.mark.parametrize(("module_name", "attribute_path", "detail"), [
    ("prefect.context", "NoSuchRunContext.__var__", "not found"),
    ("prefect.no_such_module", "anything", "cannot import prefect.no_such_module"),
])
def test_a_moved_name_raises_an_error_naming_prefect_version_and_symbol(module_name: str, attribute_path: str,
                                                                         detail: str) -> None:
    with pytest.raises(PrefectInternalsMoved) as raised:
        resolve(module_name, attribute_path, "send events")
    moved = raised.value
    assert isinstance(moved, PlanError)  # printed without traceback, exit 2
    assert moved.symbol == f"{module_name}.{attribute_path}"
    text = moved.format()
    assert text.startswith(f"plan-tasks: error: Prefect {installed_prefect_version()} moved "
                           f"`{module_name}.{attribute_path}` ({detail}")
    assert "send events" in text
    assert f"pip install 'prefect{prefect_internals.TESTED_PREFECT}'" in text


def test_the_pin_in_pyproject_is_the_tested_range_and_admits_the_installed_prefect() -> None:
    from packaging.specifiers import SpecifierSet

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pins = re.findall(r'"prefect([<>=!~][^"]*)"', pyproject)
    assert pins == [prefect_internals.TESTED_PREFECT]
    assert installed_prefect_version() in SpecifierSet(prefect_internals.TESTED_PREFECT)


# -- the server's patches, in force on Prefect's own database setup --------------------------

# Builds the app as uvicorn's factory does (patched) or Prefect's bare app (unpatched), then
# uses Prefect's server database interface as the server does: one explicit transaction, and
# events written through the storage module's write_events.
SERVER_PROBE = """
import asyncio, json, sqlite3, sys, uuid
import sqlalchemy as sa

if sys.argv[1] == "patched":
    from plan_tasks.prefect.local_server import create_app
    create_app()
else:
    from prefect.server.api.server import create_app
    create_app(ephemeral=True, final=True)
from prefect.server.database import provide_database_interface
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.events.storage.database import write_events
from datetime import datetime, timezone

inserts = []

@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def seen(connection, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith("INSERT INTO EVENTS "):
        inserts.append(executemany)

async def main():
    db = provide_database_interface()
    await db.create_db()
    path = str(db.database_config.connection_url).split("///", 1)[1]
    async with db.session_context(begin_transaction=True) as session:
        await session.execute(sa.text("SELECT 1"))  # the transaction's first statement: BEGIN now
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            lock = "free"
        except sqlite3.OperationalError:
            lock = "held"
        other.close()
    events = [ReceivedEvent(occurred=datetime.now(timezone.utc), event="plan.task.completed", id=uuid.uuid4(),
                            resource={"prefect.resource.id": f"plan-tasks.task.{sys.argv[1]}.1.{n}"},
                            related=[{"prefect.resource.id": f"prefect.flow-run.{sys.argv[1]}", "prefect.resource.role": "flow-run"}])
              for n in range(3)]
    async with db.session_context(begin_transaction=True) as session:
        await write_events(session, events)
    async with db.session_context() as session:
        stored = (await session.execute(sa.text(
            f"select count(*) from events where resource_id like 'plan-tasks.task.{sys.argv[1]}.%'"))).scalar()
        resources = (await session.execute(sa.text(
            f"select count(*) from event_resources where resource_id = 'prefect.flow-run.{sys.argv[1]}'"))).scalar()
    print(json.dumps({"lock": lock, "executemany": inserts, "stored": stored, "resources": resources}))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect home for this module's subprocesses: its database is migrated once."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="module")
def server_probe(prefect_home: Path) -> dict[str, dict[str, Any]]:
    """What Prefect's server database did with the patches applied, and without."""
    seen = {}
    for mode in ("patched", "unpatched"):
        done = subprocess.run([sys.executable, "-c", SERVER_PROBE, mode], env=prefect_env(prefect_home), cwd=ROOT,
                              capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
        assert done.returncode == 0, done.stderr[-3000:]
        seen[mode] = json.loads(done.stdout.splitlines()[-1])
    return seen


def test_server_transactions_hold_the_write_lock_from_begin(server_probe: dict[str, dict[str, Any]]) -> None:
    # IMMEDIATE: another connection cannot start writing once the transaction began; DEFERRED
    # (Prefect's own mode) only takes the lock at the first write, and loses the race for it.
    assert server_probe["patched"]["lock"] == "held"
    assert server_probe["unpatched"]["lock"] == "free"


def test_server_stores_events_with_one_cached_insert_run_per_row(server_probe: dict[str, dict[str, Any]]) -> None:
    assert server_probe["patched"]["executemany"] == [True]
    assert server_probe["unpatched"]["executemany"] == [False]  # one multi-row INSERT, compiled per batch size
    for mode in ("patched", "unpatched"):
        assert (server_probe[mode]["stored"], server_probe[mode]["resources"]) == (3, 3), mode


# -- a moved name stops a run with exit 2 -----------------------------------------------------

PLAN = """# Implementation Plan: Fence

## Phase 1: One

- [ ] 1.1 Say hello
  Run: `echo hello`
"""

# Runs in every Python process of the run (the run and its server): hides one name from it.
HIDE = """
import os
module_name, _, name = os.environ["HIDE_PREFECT_NAME"].rpartition(".")
if os.environ.get("PLAN_TASKS_SERVER_WATCH_PARENT") == "1" or not module_name.startswith("prefect.server"):
    import importlib
    delattr(importlib.import_module(module_name), name)
"""


@pytest.mark.parametrize("hidden", [
    "prefect.context.refresh_global_settings_context",  # the run's own process
    "prefect.server.events.storage.database._write_sqlite_events",  # the local server's process
])
def test_a_run_on_a_prefect_that_moved_a_patched_name_exits_2_naming_it(tmp_path: Path, prefect_home: Path,
                                                                        hidden: str) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(HIDE, encoding="utf-8")
    root = tmp_path / "project"
    root.mkdir()
    (root / "plan.md").write_text(PLAN, encoding="utf-8")
    env = prefect_env(prefect_home, HIDE_PREFECT_NAME=hidden, PLAN_TASKS_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    done = subprocess.run([sys.executable, "-m", "plan_tasks", "run", "plan.md"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert done.returncode == EXIT_INVALID, done.stderr[-3000:]
    assert f"error: Prefect {installed_prefect_version()} moved `{hidden}`" in done.stderr
    assert "hint: install a Prefect version plan-tasks is tested with" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / "docs" / "plan-outputs" / "plan" / "status.json").exists()


# -- the run process's internals, in force --------------------------------------------------


def test_threads_without_a_settings_context_see_refreshed_global_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import get_current_settings

    url = "http://127.0.0.1:9/api"

    def in_a_bare_thread_context() -> str:
        return str(contextvars.Context().run(lambda: get_current_settings().api.url))

    monkeypatch.setenv("PREFECT_API_URL", url)
    try:
        before = in_a_bare_thread_context()
        prefect_internals.refresh_global_settings()
        after = in_a_bare_thread_context()
    finally:
        monkeypatch.undo()
        prefect_internals.refresh_global_settings()
    assert before != url and after == url


def test_events_are_sent_from_a_context_without_prefect_run_contexts(prefect_server: str) -> None:
    from prefect import flow, task
    from prefect.context import FlowRunContext, TaskRunContext

    def contexts() -> tuple[bool, bool]:
        return FlowRunContext.get() is not None, TaskRunContext.get() is not None

    @task(persist_result=False)
    def inside() -> list[tuple[bool, bool]]:
        return [contexts(), prefect_internals.without_run_contexts(contexts), contexts()]

    @flow(persist_result=False)
    def outer() -> list[tuple[bool, bool]]:
        return inside()

    assert outer() == [(True, True), (False, False), (True, True)]


EPHEMERAL = """
import json
from prefect import flow
from plan_tasks.prefect.local_server import api_healthy
from plan_tasks.prefect.internals import ephemeral_server_api_url, stop_ephemeral_server

@flow(persist_result=False)
def nothing() -> int:
    return 1

before = ephemeral_server_api_url()
nothing()
url = ephemeral_server_api_url()
healthy = bool(url) and api_healthy(url)
stop_ephemeral_server()
print(json.dumps({"before": before, "healthy": healthy, "after": url and api_healthy(url)}))
"""


def test_prefects_own_temporary_server_is_found_and_stopped(prefect_home: Path) -> None:
    env = prefect_env(prefect_home, PREFECT_LOGGING_LEVEL="CRITICAL",
                      PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="150")  # a loaded machine is slow
    done = subprocess.run([sys.executable, "-c", EPHEMERAL], env=env, cwd=ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"before": None, "healthy": True, "after": False}
