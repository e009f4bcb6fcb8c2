"""The slot budget shared by every plan running against one Prefect server.

With a configured server (``PREFECT_API_URL``), each task also holds as many
slots of the server's global concurrency limit ``plan-tasks`` as its weight,
so several runs, from several machines, share one budget. A run on its own
local server has no one to share with and skips it. Imports Prefect lazily.
"""

from __future__ import annotations

import os
import sys
from typing import Any

GLOBAL_LIMIT = "plan-tasks"


def server_configured() -> bool:
    """Whether to share slots through the server's global concurrency limit.

    Only when the user pointed plan-tasks at a server (``PREFECT_API_URL`` in the
    environment): a run's own local server has no other plans to share with, and on
    SQLite every lease is a contended write answered with 503-and-retry, which
    costs seconds per task. ``PLAN_TASKS_GLOBAL_LIMIT=0`` turns it off anyway.
    """
    from plan_tasks.prefect.local_server import is_local

    if os.environ.get("PLAN_TASKS_GLOBAL_LIMIT", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    api_url = os.environ.get("PREFECT_API_URL")
    return bool(api_url) and not is_local(api_url)


def ensure_global_limit(slots: int) -> None:
    """On a real server, create the shared slot budget if nobody has yet.

    An existing limit is left as it is: whoever set it decided the budget
    for every plan sharing the server.
    """
    if not server_configured():
        return
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            try:
                client.read_global_concurrency_limit_by_name(GLOBAL_LIMIT)
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=GLOBAL_LIMIT, limit=slots))
    except Exception as error:  # noqa: BLE001 - the run still has its local slots
        print(f"plan-tasks: warning: could not set up the global concurrency limit: {error}", file=sys.stderr)


def global_slots(weight: int, max_parallel: int) -> Any:
    """Hold a task's slots of the global limit, where there is one: with a
    configured Prefect server, the slot budget is a global concurrency limit
    shared by every plan running against it; a run's own local server has no peers."""
    from contextlib import nullcontext

    if not server_configured():
        return nullcontext()
    from prefect.concurrency.sync import concurrency

    return concurrency(GLOBAL_LIMIT, occupy=min(weight, max_parallel), strict=False)
