"""Task functions for `bench/run.py`, named by ``Call: `bench_tasks:...``` lines.

``noop`` does nothing (the overhead benchmark). ``sleep`` sleeps for the
duration written in its task's body (``sleeps 0.234 s``) and records when it
ran, so the benchmark can measure the makespan of the tasks themselves and
check the schedule (slots, dependencies) afterwards.

``bench/run.py`` imports this module before the run starts, so the plan's
``importlib.import_module("bench_tasks")`` finds this same module object and
``SPANS`` collects every task of the run.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

SLEEP = re.compile(r"sleeps (?P<seconds>[0-9]+(?:\.[0-9]+)?) s\b")
SPANS: list[tuple[str, float, float]] = []  # (task id, start, end) in time.perf_counter() seconds
_LOCK = threading.Lock()


def noop(request: Any) -> None:
    return None


def duration_of(body: str) -> float:
    match = SLEEP.search(body)
    if not match:
        raise ValueError("the task body does not say how long to sleep (`sleeps 0.25 s`)")
    return float(match.group("seconds"))


def sleep(request: Any) -> None:
    seconds = duration_of(request.task.body)
    start = time.perf_counter()
    time.sleep(seconds)
    end = time.perf_counter()
    with _LOCK:
        SPANS.append((request.task.id, start, end))


def take_spans() -> list[tuple[str, float, float]]:
    """The spans recorded since the last call, and forget them."""
    with _LOCK:
        spans = list(SPANS)
        SPANS.clear()
    return spans
