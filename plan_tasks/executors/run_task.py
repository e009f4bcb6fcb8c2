"""One attempt of one task, as a Prefect task runs it: a request in, an outcome out.

This is all a Prefect task does, wherever it runs (a thread of the run, a
Dask worker process, another machine): it writes no status, no findings and
none of the agent's files; those are the driver's (``run_driver``). What it
does write is the attempt's output, streamed to ``request.log_path`` as it
arrives, so that memory stays bounded whatever a task prints.

In a process of its own (a Dask worker) nothing of the run's set-up has
happened, so the first attempt there configures what the driver configured
for itself: redaction of the project's secrets in the streamed log, and the
project on ``sys.path`` for ``Call:`` tasks.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from plan_tasks.executors.outcome import TaskFailure, TaskOutcome, TaskRequest
from plan_tasks.redact import redact

FAILURE_OUTPUT_CHARACTERS = 200_000  # of a failed attempt's output sent back (its log has it all)

_configured: set[Path] = set()
_configured_lock = threading.Lock()


def run_task(request: TaskRequest) -> TaskOutcome:
    """Run the attempt; its outcome, or a TaskFailure whose texts hold no secret."""
    _configure_for(request.root)
    began = time.monotonic()
    try:
        outcome = _runner(request.executor)(request)
    except TaskFailure as failure:
        raise TaskFailure(redact(failure.message), failure.category,
                          redact(failure.output[-FAILURE_OUTPUT_CHARACTERS:]), failure.usage) from None
    except Exception as error:  # noqa: BLE001 - a bug or a surprise fails this task, not the run
        raise TaskFailure(redact(f"{type(error).__name__}: {error}"), "permanent") from None
    return replace(outcome, seconds=time.monotonic() - began)


def _runner(kind: str):  # noqa: ANN202 - one of three executor functions
    from plan_tasks.executors.agent import ask_agent
    from plan_tasks.executors.python_call import run_python
    from plan_tasks.executors.shell import run_shell

    return {"shell": run_shell, "agent": ask_agent, "python": run_python}[kind]


def configure_driver(root: Path, redactions: list[str]) -> None:
    """The driver's own set-up, so that attempts run in its threads skip :func:`_configure_for`."""
    from plan_tasks.executors.log_stream import set_log_filter
    from plan_tasks.redact import configure

    configure(redactions)
    set_log_filter(redact)  # output streamed into the task logs is redacted line by line too
    _add_to_path(root)
    with _configured_lock:
        _configured.add(root)


def _configure_for(root: Path) -> None:
    with _configured_lock:
        if root in _configured:
            return
        _configured.add(root)
    from plan_tasks.errors import PlanError
    from plan_tasks.run.settings import configured_redactions

    try:
        redactions = configured_redactions(root)
    except PlanError:
        redactions = []  # the driver read the same file and would have stopped on it
    configure_driver(root, redactions)


def _add_to_path(root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # `Call: pkg.mod:fn` imports from the project
