"""Where a run's tasks run: threads of the run's process, or a Dask cluster.

``threads`` (the default) is Prefect's thread pool in each phase subflow.
``dask`` runs every attempt on a Dask cluster through prefect-dask's
``DaskTaskRunner``: the cluster at ``dask_address`` if one is given, else a
``distributed.LocalCluster`` of worker processes started for the run and
closed with it. Phase subflows each get a runner connected to the one
cluster (a subflow does not inherit its parent's task runner, and a
``DaskTaskRunner`` without an address would start a cluster per phase).

Tasks are pure (``executors.run_task``): a worker needs the project's
checkout for shell tasks and ``Call:`` tasks, only the agent command for
agent tasks, whose FILE blocks come back to the run's process.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

from plan_tasks.errors import PlanError

DASK_EXTRA_HINT = "install the Dask extra: pip install 'plan-tasks[dask]'"


@contextlib.contextmanager
def task_runner_for(settings: Any, max_parallel: int) -> Iterator[Callable[[], Any] | None]:
    """A factory of task runners for the phase subflows (None: Prefect's default threads)."""
    kind = getattr(settings, "task_runner", "threads") or "threads"
    if kind == "threads":
        yield None
        return
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as error:
        raise PlanError(f"--task-runner dask needs prefect-dask ({error})", DASK_EXTRA_HINT) from None
    address = getattr(settings, "dask_address", None)
    if address:
        yield lambda: DaskTaskRunner(address=address)
        return
    with _local_cluster(max_parallel) as cluster:
        yield lambda: DaskTaskRunner(address=cluster.scheduler_address)


@contextlib.contextmanager
def _local_cluster(max_parallel: int) -> Iterator[Any]:
    """Worker processes on this machine: as many as cores (at most ``max_parallel``),
    with threads enough between them for ``max_parallel`` tasks at once."""
    from distributed import LocalCluster

    workers = max(1, min(max_parallel, os.cpu_count() or 1))
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its INFO lines, and the tracebacks of connections closed at the end
    cluster = LocalCluster(n_workers=workers, threads_per_worker=math.ceil(max_parallel / workers),
                           processes=True, dashboard_address=None, host="127.0.0.1",
                           preload=["plan_tasks.prefect.dask_worker"])  # workers leave Ctrl-C to the run
    try:
        yield cluster
    finally:
        try:
            cluster.close()
        finally:
            quiet.setLevel(level)
