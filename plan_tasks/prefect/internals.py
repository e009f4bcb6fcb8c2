"""Every private Prefect name plan-tasks relies on, fenced in this one module.

Prefect's public API does not cover what plan-tasks needs from its own local
server and its event sending; what follows reaches past it. Each use is a
function here that looks the name up when it is used and raises
:class:`PrefectInternalsMoved` (exit 2, naming the Prefect version and the
symbol) when Prefect moved it: never a silent fallback, so a Prefect upgrade
that breaks a patch is noticed at once instead of as a slow run.
``tests/test_prefect_internals.py`` checks that every symbol is present and
that every patch is in force; pyproject.toml pins ``prefect`` to the minor
versions where it passed (``TESTED_PREFECT``).

=====================================  ===========================================  =========  ==================
What                                   Why                                          Since      Test
=====================================  ===========================================  =========  ==================
patch ``prefect.server.database.       explicit SQLite transactions BEGIN           3.4        the write lock is
configurations.AioSqliteConfiguration  IMMEDIATE: DEFERRED ones lost the read-to-              held right after
.begin_transaction``                   write upgrade to the task-run recorder                  BEGIN, on Prefect's
                                       (SQLITE_BUSY, 503, client back-off of                   own database setup
                                       2-8 s); no setting chooses the mode
patch ``prefect.server.events.         store events with one cached INSERT per      3.4        the server's event
storage.database._write_sqlite_        row (executemany): the multi-row INSERT                 INSERTs run as
events``                               was compiled anew per batch, a quarter of               executemany
                                       the server's CPU in a run of short tasks
``prefect.server.api.server.           Prefect's server application, wrapped in     3.4        the parameters
create_app(ephemeral=, final=)``       the 503-replay middleware; ephemeral: the               exist; a real local
                                       services a temporary server needs only                  server runs a flow
``prefect.context.refresh_global_      threads without a settings context (the      3.6.14     a thread with an
settings_context``                     events worker, future callbacks) read the               empty context sees
                                       global settings: rebuilt to see the local               the new API URL
                                       server's URL, or they start a server too
``prefect.events.worker.EventsWorker   send the events and logs Prefect still       3.4        present; events
.drain_all``, ``prefect.logging.       holds while the local server is up (it                  emitted in the run
handlers.APILogWorker``,               stops with the run)                                     are in the database
``prefect.utilities.asyncutils.                                                                after it ends
run_coro_as_sync``
``prefect.context.FlowRunContext.      send a task's event without Prefect's run    3.4        no run context
__var__``, ``TaskRunContext.__var__``  contexts: the events worker otherwise                   inside, both
                                       looks up the flow, run and tags for every               outside
                                       event, which doubled what one cost
``prefect.server.api.server.           benchmarks and tests: the URL of, and stop   3.4        started and found
SubprocessASGIServer``                 for, Prefect's own temporary server                     by a flow call
=====================================  ===========================================  =========  ==================

"Since": the oldest Prefect with the name (the symbol tests pass on 3.4.25,
all but ``refresh_global_settings_context``, which 3.6.14 added). The whole
of this test and test_local_server.py passed on 3.8.8 and 3.9.1. On 3.7.8
every patch is in force, but the events of a run's last second never reached
the local server's database: its event persister cancelled an in-flight flush
at shutdown, fixed in 3.8.8 (3.6.29's database patches were in force too; its
server does not run on the Starlette that installs with it today).
Public names (``prefect.flow``, ``get_client``, ``emit_event``, settings
objects such as ``PREFECT_API_URL`` and ``temporary_settings``) are used
directly by the modules that need them; they are not listed here.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from plan_tasks.errors import PlanError

TESTED_PREFECT = ">=3.8.8,<3.10"  # the pin in pyproject.toml: the minor versions the test passed on
PATCHED = "_plan_tasks_patched"  # set on every replacement function: a patch is applied once
Result = TypeVar("Result")


class PrefectInternalsMoved(PlanError):
    """The installed Prefect lacks a private name plan-tasks relies on (printed without traceback, exit 2)."""

    def __init__(self, symbol: str, purpose: str, detail: str = "not found") -> None:
        self.symbol = symbol
        self.purpose = purpose
        self.detail = detail
        self.prefect_version = installed_prefect_version()
        super().__init__(
            f"Prefect {self.prefect_version} moved `{symbol}` ({detail}), which plan-tasks uses to {purpose}",
            hint=f"install a Prefect version plan-tasks is tested with: pip install 'prefect{TESTED_PREFECT}' "
                 "(or a plan-tasks release that supports this Prefect)")


def installed_prefect_version() -> str:
    """The installed Prefect's version, read from its metadata (no import of Prefect)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prefect")
    except PackageNotFoundError:
        return "(not installed)"


def resolve(module_name: str, attribute_path: str, purpose: str) -> Any:
    """``module_name``'s attribute ``attribute_path`` (dotted), or PrefectInternalsMoved naming it."""
    symbol = f"{module_name}.{attribute_path}"
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise PrefectInternalsMoved(symbol, purpose, f"cannot import {module_name}: {error}") from None
    for name in attribute_path.split("."):
        try:
            found = getattr(found, name)
        except AttributeError:
            raise PrefectInternalsMoved(symbol, purpose) from None
    return found


def require_parameters(function: Any, symbol: str, purpose: str, *names: str) -> None:
    """PrefectInternalsMoved unless ``function`` still takes the keyword parameters ``names``."""
    import inspect

    parameters = inspect.signature(function).parameters
    missing = [name for name in names if name not in parameters]
    if missing:
        raise PrefectInternalsMoved(symbol, purpose, f"no parameter {', '.join(missing)}")


# -- in the local server's process ---------------------------------------------------------

SQLITE_PURPOSE = "begin the local server's SQLite transactions IMMEDIATE"
EVENTS_PURPOSE = "store the local server's events with one cached INSERT"
EVENTS_MODULE = "prefect.server.events.storage.database"
APP_PURPOSE = "run Prefect's server application behind the 503-replay middleware"


def begin_sqlite_transactions_immediate() -> None:
    """Begin the server's explicit SQLite transactions IMMEDIATE, not DEFERRED.

    A DEFERRED transaction that reads, then writes, fails at once with
    SQLITE_BUSY when another connection committed in between, and the task-run
    recorder commits many times a second during a run: creating a subflow's
    parent task run lost that race again and again. IMMEDIATE takes the write
    lock at BEGIN and waits for it (busy_timeout), which is what SQLite
    recommends and what Prefect itself does for its row-locking transactions
    (``with_for_update=True``): every transaction is made one of those.
    """
    configuration = resolve("prefect.server.database.configurations", "AioSqliteConfiguration", SQLITE_PURPOSE)
    symbol = "prefect.server.database.configurations.AioSqliteConfiguration.begin_transaction"
    original = resolve("prefect.server.database.configurations", "AioSqliteConfiguration.begin_transaction",
                       SQLITE_PURPOSE)
    if getattr(original, PATCHED, False):
        return
    require_parameters(original, symbol, SQLITE_PURPOSE, "session", "with_for_update")

    def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> Any:
        return original(self, session, with_for_update=True)

    setattr(begin_transaction, PATCHED, True)
    configuration.begin_transaction = begin_transaction


def store_sqlite_events_with_executemany() -> None:
    """Have the server store events with one cached INSERT run per row (executemany).

    Prefect's SQLite event writer builds one ``INSERT ... VALUES (...), (...)``
    per batch; batch sizes vary, so SQLAlchemy compiles each anew, and that
    compiling took a quarter of the server's CPU in a run of short tasks (the
    500-task overhead bench went from 6.1 s to 5.0 s without it). Same rows,
    same checks for events already stored.
    """
    # Prefect's write_events looks _write_sqlite_events up in its module at every call.
    original = resolve(EVENTS_MODULE, "_write_sqlite_events", EVENTS_PURPOSE)
    if getattr(original, PATCHED, False):
        return
    require_parameters(original, f"{EVENTS_MODULE}._write_sqlite_events", EVENTS_PURPOSE, "session", "events")
    database_interface = resolve("prefect.server.database", "provide_database_interface", EVENTS_PURPOSE)
    for row_maker in ("as_database_row", "as_database_resource_rows"):
        resolve("prefect.server.events.schemas.events", f"ReceivedEvent.{row_maker}", EVENTS_PURPOSE)
    import sqlalchemy as sa

    async def write_events(session: Any, events: list[Any]) -> None:
        database = database_interface()
        ids = [event.id for event in events]
        stored: set[Any] = set()
        for start in range(0, len(ids), 500):  # well under SQLite's limit of bound parameters
            found = await session.scalars(
                sa.select(database.Event.id).where(database.Event.id.in_(ids[start:start + 500])))
            stored.update(found.all())
        fresh = [event for event in events if event.id not in stored]
        if not fresh:
            return
        await session.execute(sa.insert(database.Event), [event.as_database_row() for event in fresh])
        resources = [row for event in fresh for row in event.as_database_resource_rows()]
        if resources:
            await session.execute(sa.insert(database.EventResource), resources)

    setattr(write_events, PATCHED, True)
    importlib.import_module(EVENTS_MODULE)._write_sqlite_events = write_events


def create_ephemeral_server_app() -> Any:
    """Prefect's server application as its temporary ("ephemeral") server runs it.

    Ephemeral: no UI, and only the services a server for one process needs;
    final: the only application this process creates, so Prefect may skip
    what it keeps for rebuilding one. The two private ``PREFECT__SERVER_*``
    variables Prefect's own ephemeral server sets do the same; the parameters
    say it without them.
    """
    create_app = resolve("prefect.server.api.server", "create_app", APP_PURPOSE)
    require_parameters(create_app, "prefect.server.api.server.create_app", APP_PURPOSE, "ephemeral", "final")
    return create_app(ephemeral=True, final=True)


# -- in the run's process --------------------------------------------------------------------

SETTINGS_PURPOSE = "point threads without a settings context at the run's server"
DRAIN_PURPOSE = "send the events and logs Prefect holds before the local server stops"
CONTEXT_PURPOSE = "send task events without looking up Prefect's run context for each"


def refresh_global_settings() -> None:
    """Rebuild Prefect's global settings from the environment and profile as they are now.

    Threads that do not inherit a settings context (the events worker, future
    callbacks) read the global settings, built once at import: without this,
    they would not see the local server's URL and start a server of their own.
    """
    resolve("prefect.context", "refresh_global_settings_context", SETTINGS_PURPOSE)()


def drain_prefect_workers() -> None:
    """Send the events and logs Prefect still holds, while the server is up to take them.

    The names are looked up first (PrefectInternalsMoved if one moved); what
    fails while sending is lost with the temporary server anyway.
    """
    events_worker = resolve("prefect.events.worker", "EventsWorker.drain_all", DRAIN_PURPOSE)
    log_worker = resolve("prefect.logging.handlers", "APILogWorker.instance", DRAIN_PURPOSE)
    run_coro_as_sync = resolve("prefect.utilities.asyncutils", "run_coro_as_sync", DRAIN_PURPOSE)

    async def drain() -> None:
        for drain_call in (lambda: log_worker().drain(), events_worker):
            try:
                result = drain_call()
                if hasattr(result, "__await__"):
                    await result
            except Exception:  # noqa: BLE001 - a worker that never started has nothing to send
                pass

    try:
        run_coro_as_sync(drain())
    except Exception:  # noqa: BLE001 - what could not be sent is lost with the temporary server anyway
        pass


def check_run_process_internals() -> None:
    """PrefectInternalsMoved now if a name the run's own process needs moved, before the run starts."""
    for module_name, attribute_path, purpose in (
            ("prefect.context", "refresh_global_settings_context", SETTINGS_PURPOSE),
            ("prefect.events.worker", "EventsWorker.drain_all", DRAIN_PURPOSE),
            ("prefect.logging.handlers", "APILogWorker.instance", DRAIN_PURPOSE),
            ("prefect.utilities.asyncutils", "run_coro_as_sync", DRAIN_PURPOSE)):
        resolve(module_name, attribute_path, purpose)
    run_context_variables()


@functools.cache
def run_context_variables() -> tuple[contextvars.ContextVar[Any], ...]:
    """The context variables holding Prefect's flow run and task run contexts."""
    variables = []
    for holder in ("FlowRunContext", "TaskRunContext"):
        variable = resolve("prefect.context", f"{holder}.__var__", CONTEXT_PURPOSE)
        if not isinstance(variable, contextvars.ContextVar):
            raise PrefectInternalsMoved(f"prefect.context.{holder}.__var__", CONTEXT_PURPOSE,
                                        f"a {type(variable).__name__}, not a ContextVar")
        variables.append(variable)
    return tuple(variables)


def without_run_contexts(function: Callable[..., Result], *args: Any) -> Result:
    """``function(*args)`` in a copy of the current context with no flow or task run context.

    Prefect's events worker attaches the flow, flow run, task run and their
    tags of the sending context to every event: API calls that doubled what
    sending one cost. The caller names the related runs itself.
    """
    variables = run_context_variables()

    def bare() -> Result:
        for variable in variables:
            variable.set(None)
        return function(*args)

    return contextvars.copy_context().run(bare)


# -- Prefect's own temporary server (benchmarks and tests) -----------------------------------

EPHEMERAL_PURPOSE = "find Prefect's own temporary server"


def ephemeral_server_api_url() -> str | None:
    """The API URL of the temporary server Prefect started in this process, None if it did not."""
    instances = resolve("prefect.server.api.server", "SubprocessASGIServer._instances", EPHEMERAL_PURPOSE)
    running = [server for server in instances.values() if getattr(server, "server_process", None) is not None]
    return str(running[0].api_url) if running else None


def stop_ephemeral_server() -> None:
    """Stop the temporary server Prefect started in this process, if it did."""
    instances = resolve("prefect.server.api.server", "SubprocessASGIServer._instances", EPHEMERAL_PURPOSE)
    for server in list(instances.values()):
        server.stop()
