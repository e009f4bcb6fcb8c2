"""`plan-tasks run` benchmark: per-task overhead against a hand-written Prefect
flow, and makespan against a lower bound and the seed's batch loop.

    .venv/bin/python bench/run.py [--rounds 5] [--tasks 500] [--workers 8] [--deps]
                                  [--makespan-tasks 200] [--slots 4] [--seed 0]
                                  [--server local|prefect-ephemeral|URL]
                                  [--only overhead|makespan] [--json]

Everything runs in this one process against one Prefect server
(``--server``): by default the local server a plain ``plan-tasks run`` starts
when no ``PREFECT_API_URL`` is set (``plan_tasks/prefect/local_server.py``: Prefect's
server app on SQLite, with lock conflicts replayed in the server);
``prefect-ephemeral`` is Prefect's own temporary server, started by the first
flow call; a URL is a running server (say, one on PostgreSQL).
``PREFECT_HOME`` points into a temporary directory, so it gets a fresh SQLite
database and the user's profile and server are never touched. Prefect's
logging is quieted the way ``plan-tasks run`` quiets it, for every contender
alike; plan-tasks' own progress lines go to a buffer.

Part 1, overhead. A plan of ``--tasks`` no-op tasks (5 phases, no
dependencies, each ``Call: `bench_tasks:noop```) goes through
``plan_tasks.prefect.flow.run_plan`` with ``max_parallel`` = ``--workers``, and the
same number of no-op ``@task`` runs go through a hand-written flow with
``ThreadPoolTaskRunner(max_workers=--workers)`` (all submitted, then waited
for). Contenders, timed as the wall time of the flow call, interleaved round
by round with a rotating order after one warm-up round:

  (a) hand-written    a @task no-op, .submit() x N, wait()
  (b) plan-tasks      run_plan(phase_gate=0): phases do not serialize
  (c) plan-tasks      run_plan(phase_gate=0.8), the default gate
  (d) plan-tasks      (b) with PREFECT_API_URL set (environment and Prefect
                      setting) to that same server, as a team's shared server
                      is used: plan-tasks then also takes a slot of its global
                      concurrency limit for every task
  (e) hand-written    one subflow per phase, all started at once from threads
                      (as plan-tasks does at gate 0), each with its own
                      --workers threads: what the phase-subflow design costs
                      in Prefect alone
  (h) hand-written    (a) whose task also sends the two Prefect events per task
                      the issue asks plan-tasks to send (``plan.task.started``
                      and ``.completed``, plain ``emit_event``): what the
                      required events cost in Prefect alone
  (i) hand-written    (e) and (h) together: a subflow per phase whose tasks
                      send the two events: the shape and events the issue
                      asks for, in Prefect alone, with nothing of plan-tasks
  (f), (g) with --deps: (a) and (b) on the same plan where every task of
                      phase k>1 depends on the same-numbered task of phase k-1
                      (``wait_for`` in the hand-written flow)

After each timed call the benchmark waits until the server is idle again (its
CPU time, read from ``/proc`` on Linux), so every contender starts on an idle
server and pays for the backlog it leaves, not for the previous one's; the
table gives each call's CPU seconds in this process and in the server (on 2
cores both are busy, and the wall time follows their sum).

The target (from the issue) is (b) at most 1.3x (a). Every run also counts
the Prefect client's retried requests and the back-off it slept (a server on
SQLite answers 503 while the database is locked by a concurrent write). After
the timed rounds, one untimed round each of (b) and (d) with timers around
plan-tasks' own per-task work (status.json transactions, events, progress
artifact, global concurrency slot, scheduler) shows where its extra time goes,
and one status.json transaction is timed alone at the plan's size.

Part 2, makespan. A ``generate_plan`` plan of ``--makespan-tasks`` tasks (its
dependencies, [SEQUENTIAL] notes, shared files and HIGH/CRITICAL weights, all
boxes unticked) whose tasks sleep 0.05-0.5 s (seeded) runs through
``run_plan`` with ``max_parallel`` = ``--slots`` at phase gate 0 and 0.8. Its
makespan (wall time of the flow call, and the span from the first task's start
to the last one's end) is compared with:

* the lower bound max(critical path, weighted work / slots), where a task of
  weight w holds min(w, slots) slots, as the scheduler does (work / slots
  unweighted is shown too);
* the seed's batch loop, simulated on the same durations: ``next N`` (N =
  slots) by ``select_next_seed`` on a status document, run the whole batch,
  wait for the slowest, mark them completed, repeat. It ignores dependencies
  beyond phase order, so the edges its batches break are counted by kind;
* plan-tasks' own scheduler (``RunScheduler``) simulated with zero overhead,
  which separates the policy's loss from the runtime's.

A 10-task no-op plan runs first, untimed (the first flow call of a process
pays Prefect's one-off costs), and every run starts on an idle server.
The target is (gate 0) at most 1.15x the bound. The measured schedule is also
checked: no more than ``--slots`` weight running at once, every edge kept.
"""

from __future__ import annotations

import os

# Before Prefect is imported (it reads settings at import): as `plan-tasks run` does.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "ERROR")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import contextvars  # noqa: E402
import gc  # noqa: E402
import heapq  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Dask worker processes import `bench_tasks` for the no-op `Call:` tasks too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent),
                                                         os.environ.get("PYTHONPATH")]))

import bench_tasks  # noqa: E402
from generate_plan import generate_plan  # noqa: E402

from plan_tasks.executors import python_target  # noqa: E402
from plan_tasks.load import LoadedPlan, load_plan  # noqa: E402
from plan_tasks.run.scheduler import RunScheduler  # noqa: E402
from plan_tasks.run.settings import RunSettings  # noqa: E402
from plan_tasks.select.seed import select_next_seed  # noqa: E402

OVERHEAD_TARGET = 1.15  # issue 13: (b) against (i), the hand-written flow of the same shape
MAKESPAN_TARGET = 1.15
OVERHEAD_PHASES = 5
GATES = (0.0, 0.8)
SLEEP_RANGE = (0.05, 0.5)
TASK_LINE = re.compile(r"^- \[[ xX]\] (?P<id>\d+\.\d+) ", re.MULTILINE)


def _progress(message: str) -> None:
    print(f"[bench/run] {message}", file=sys.stderr, flush=True)


def _stats(samples: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "samples_s": samples}


# -- plans -------------------------------------------------------------------


def _phase_sizes(tasks: int, phases: int) -> list[int]:
    phases = max(1, min(phases, tasks))
    return [tasks // phases + (1 if number < tasks % phases else 0) for number in range(phases)]


def overhead_plan(tasks: int, deps: bool = False) -> str:
    """``tasks`` no-op tasks in 5 phases; with ``deps``, p.m depends on (p-1).m."""
    sizes = _phase_sizes(tasks, OVERHEAD_PHASES)
    out = [f"# Overhead benchmark: {tasks} no-op tasks", ""]
    for phase, size in enumerate(sizes, 1):
        out += [f"## Phase {phase}: Block {phase}", ""]
        for number in range(1, size + 1):
            out += [f"- [ ] {phase}.{number} No-op task {number} of block {phase}", "  - Call: `bench_tasks:noop`"]
            if deps and phase > 1 and number <= sizes[phase - 2]:
                out.append(f"  - Depends on: {phase - 1}.{number}")
        out.append("")
    return "\n".join(out)


def _shape(size: int) -> tuple[int, int]:
    """(phases, tasks per phase) for a plan of exactly ``size`` tasks (as bench/next.py)."""
    phases = max(1, round(size ** 0.5))
    while size % phases:
        phases -= 1
    return phases, size // phases


def makespan_plan(tasks: int, seed: int) -> tuple[str, dict[str, float], tuple[int, int]]:
    """A generated plan whose tasks sleep; every box unticked. Returns text, durations, shape."""
    phases, per_phase = _shape(tasks)
    text = generate_plan(phases, per_phase, seed=seed)
    rng = random.Random(seed)
    durations: dict[str, float] = {}
    lines = []
    for line in text.split("\n"):
        match = TASK_LINE.match(line)
        if match:
            seconds = durations[match.group("id")] = round(rng.uniform(*SLEEP_RANGE), 3)
            lines += ["- [ ] " + line[6:], f"  - Call: `bench_tasks:sleep` (sleeps {seconds:.3f} s)"]
        else:
            lines.append(line)
    return "\n".join(lines), durations, (phases, per_phase)


def _write_project(base: Path, name: str, text: str) -> tuple[Path, Path]:
    root = base / name
    root.mkdir(parents=True)
    plan = root / f"{name}.md"
    plan.write_text(text, encoding="utf-8")
    return root, plan


def _reset(root: Path) -> None:
    """Forget the previous run (status.json, findings), so every task runs again."""
    shutil.rmtree(root / "docs", ignore_errors=True)


def _edge_counts(loaded: LoadedPlan) -> dict[str, int]:
    kinds = {"depends": 0, "sequential": 0, "file": 0}
    for edge in loaded.graph.edges:
        kinds[edge.kind] += 1
    return kinds


def _check_calls(loaded: LoadedPlan, target: str) -> None:
    for task in loaded.plan.tasks:
        if python_target(task) != target or task.checked or any("bench_tasks" in path for path in task.files):
            raise SystemExit(f"generated task {task.id} is not what the benchmark expects: "
                             f"call {python_target(task)}, checked {task.checked}, files {task.files}")


# -- Prefect contenders ------------------------------------------------------


class Contenders:
    """The flows, built once Prefect is imported."""

    def __init__(self, workers: int) -> None:
        from prefect import flow, task
        from prefect.cache_policies import NO_CACHE
        from prefect.futures import wait
        from prefect.task_runners import ThreadPoolTaskRunner

        from plan_tasks.prefect.flow import run_plan

        self.run_plan = run_plan

        @task(name="noop", cache_policy=NO_CACHE, persist_result=False)
        def noop_task(index: int) -> None:
            return bench_tasks.noop(None)

        from prefect.events import emit_event

        @task(name="noop-with-events", cache_policy=NO_CACHE, persist_result=False)
        def noop_with_events(index: int) -> None:
            # The two Prefect events per task the issue asks plan-tasks to send, sent the
            # plainest way: from the task, Prefect adding the run context's related resources.
            for kind in ("started", "completed"):
                emit_event(event=f"plan.task.{kind}", resource={"prefect.resource.id": f"bench.task.{index}"},
                           payload={"task": index})
            return bench_tasks.noop(None)

        @flow(name="hand-written", task_runner=ThreadPoolTaskRunner(max_workers=workers), persist_result=False,
              log_prints=False)
        def hand_written(sizes: list[int], deps: bool = False, events: bool = False) -> int:
            chosen = noop_with_events if events else noop_task
            futures: dict[tuple[int, int], Any] = {}
            for phase, size in enumerate(sizes, 1):
                for number in range(1, size + 1):
                    upstream = futures.get((phase - 1, number)) if deps else None
                    futures[(phase, number)] = chosen.submit(
                        phase * 100000 + number, wait_for=[upstream] if upstream is not None else None)
            wait(list(futures.values()))
            return sum(1 for future in futures.values() if future.state.is_completed())

        self.hand_written = hand_written

        @flow(name="hand-written-phase", task_runner=ThreadPoolTaskRunner(max_workers=workers),
              persist_result=False, log_prints=False)
        def hand_written_phase(phase: int, size: int, events: bool = False) -> int:
            chosen = noop_with_events if events else noop_task
            futures = [chosen.submit(phase * 100000 + number) for number in range(1, size + 1)]
            wait(futures)
            return sum(1 for future in futures if future.state.is_completed())

        @flow(name="hand-written-phases", persist_result=False, log_prints=False)
        def hand_written_phases(sizes: list[int], events: bool = False) -> int:
            # One subflow per phase, all started at once from threads, as plan-tasks does at gate 0.
            with ThreadPoolExecutor(max_workers=len(sizes)) as pool:
                running = [pool.submit(contextvars.copy_context().run, hand_written_phase, phase, size, events)
                           for phase, size in enumerate(sizes, 1)]
                return sum(future.result() for future in running)

        self.hand_written_phases = hand_written_phases

    def timed_hand_written(self, tasks: int, deps: bool = False, subflows: bool = False,
                           events: bool = False) -> Callable[[], float]:
        sizes = _phase_sizes(tasks, OVERHEAD_PHASES)

        def timed() -> float:
            gc.collect()
            start = time.perf_counter()
            if subflows:
                completed = self.hand_written_phases(sizes, events)
            else:
                completed = self.hand_written(sizes, deps, events)
            elapsed = time.perf_counter() - start
            if completed != tasks:
                raise SystemExit(f"the hand-written flow completed {completed} of {tasks} tasks")
            return elapsed

        return timed

    def call_plan(self, root: Path, plan: Path, tasks: int, gate: float, slots: int,
                  server_url: str | None = None, task_runner: str = "threads") -> tuple[float, dict[str, Any], str]:
        """One `run_plan` from a fresh status; returns wall time, summary and plan-tasks' output.

        With ``server_url``, PREFECT_API_URL is set to it for the call, in the
        environment and as Prefect's setting, so plan-tasks sees a configured server.
        """
        from prefect.settings import PREFECT_API_URL, temporary_settings

        _reset(root)
        gc.collect()
        output = io.StringIO()
        with contextlib.ExitStack() as stack:
            if server_url:
                stack.enter_context(_environ("PREFECT_API_URL", server_url))
                # Not the run's own server any more: plan-tasks takes global concurrency slots.
                stack.enter_context(_environ("PLAN_TASKS_LOCAL_API_URL", None))
                stack.enter_context(temporary_settings(updates={PREFECT_API_URL: server_url}))
            stack.enter_context(contextlib.redirect_stderr(output))
            start = time.perf_counter()
            summary = self.run_plan(settings=RunSettings(plan=str(plan), root=str(root), phase_gate=gate,
                                                         max_parallel=slots, executor="python",
                                                         task_runner=task_runner))
            elapsed = time.perf_counter() - start
        if summary.get("completed") != tasks:
            raise SystemExit(f"run_plan completed {summary.get('completed')} of {tasks} tasks: {summary}\n"
                             f"{output.getvalue()[-2000:]}")
        return elapsed, summary, output.getvalue()

    def timed_plan(self, root: Path, plan: Path, tasks: int, gate: float, slots: int,
                   server_url: str | None = None, task_runner: str = "threads") -> Callable[[], float]:
        return lambda: self.call_plan(root, plan, tasks, gate, slots, server_url, task_runner)[0]


@contextlib.contextmanager
def _environ(name: str, value: str | None) -> Any:
    saved = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _start_server(kind: str, stack: contextlib.ExitStack) -> tuple[float, str]:
    """Start the server every contender uses; its start time and API URL.

    ``local``: the server ``plan-tasks run`` starts when none is configured
    (``plan_tasks.prefect.local_server.prefect_api``), left running until ``stack``
    closes. ``prefect-ephemeral``: Prefect's own temporary server, started by a
    first flow call. Anything else: the API URL of a running server.
    """
    if kind == "local":
        from plan_tasks.prefect.local_server import prefect_api

        start = time.perf_counter()
        api_url = stack.enter_context(prefect_api())
        return time.perf_counter() - start, str(api_url)
    if kind != "prefect-ephemeral":
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from plan_tasks.prefect.internals import refresh_global_settings

        stack.callback(refresh_global_settings)  # last out: after the environment is restored
        stack.enter_context(_environ("PREFECT_API_URL", kind))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: kind}))
        refresh_global_settings()  # threads without a settings context read the global one
        return 0.0, kind
    from prefect import flow

    from plan_tasks.prefect.internals import ephemeral_server_api_url

    @flow(name="bench-start-server", persist_result=False)
    def start_server() -> int:
        return 1

    start = time.perf_counter()
    start_server()
    elapsed = time.perf_counter() - start
    api_url = ephemeral_server_api_url()
    if api_url is None:
        raise SystemExit("Prefect did not start its temporary server: is PREFECT_API_URL set in a profile?")
    return elapsed, api_url


def _stop_server() -> None:
    """Flush Prefect's event and log workers, then stop Prefect's temporary server."""
    from plan_tasks.prefect.internals import drain_prefect_workers, stop_ephemeral_server

    drain_prefect_workers()
    stop_ephemeral_server()


# -- part 1: overhead ----------------------------------------------------------


class ClientRetries(logging.Handler):
    """Counts the Prefect client's retried requests and the back-off it slept.

    A Prefect server on SQLite answers 503 when the database is locked by a
    concurrent write; the client then sleeps about 2, 4, 8 ... s (with jitter)
    and tries again. The client logs each retry at debug level on
    ``prefect.client``; this handler listens there (and stops those records
    from reaching Prefect's own handlers, which print nothing at this level).
    """

    PATTERN = re.compile(r"Another attempt will be made in (?P<seconds>[0-9.]+)s")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.seconds = 0.0
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.search(record.getMessage())
        if match:
            with self.lock_:
                self.count += 1
                self.seconds += float(match.group("seconds"))

    def install(self) -> None:
        logger = logging.getLogger("prefect.client")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)

    def measure(self, function: Callable[[], float]) -> tuple[float, int, float]:
        """Call ``function``; its result with the retries and back-off seconds during the call."""
        with self.lock_:
            count, seconds = self.count, self.seconds
        result = function()
        with self.lock_:
            return result, self.count - count, self.seconds - seconds


RETRIES = ClientRetries()


class ServerCpu:
    """CPU seconds of the server subprocess (Linux ``/proc``; None elsewhere or for a remote server).

    Used to wait, after each timed call, until the server has worked off what the
    call left it (its event and task-run backlogs), so that the next contender
    starts on an idle server, and to report what each call cost the server.
    """

    def __init__(self) -> None:
        self.pid = self._find()

    @staticmethod
    def _find() -> int | None:
        proc = Path("/proc")
        if not proc.is_dir():
            return None
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            parent = int(stat.rpartition(")")[2].split()[1])
            if parent == os.getpid() and "uvicorn" in cmdline:
                return int(entry.name)
        return None

    def seconds(self) -> float | None:
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, quiet: float = 0.05, interval: float = 0.25, longest: float = 15.0) -> None:
        """Return once the server used under ``quiet`` of a CPU over ``interval`` (or after ``longest`` s)."""
        before = self.seconds()
        if before is None:
            return
        deadline = time.monotonic() + longest
        while time.monotonic() < deadline:
            time.sleep(interval)
            now = self.seconds()
            if now is None or now - before < quiet * interval:
                return
            before = now


def status_transaction_cost(base: Path, text: str, count: int = 20) -> dict[str, Any]:
    """What one status.json transaction costs alone (no Prefect, one thread) at this plan's size.

    A run makes two per task (in_progress, completed), each under the plan's
    file lock: read and parse the whole file, change it, write it to a temporary
    file, fsync it, rename it, fsync the directory.
    """
    from plan_tasks.run.record import RunRecord
    from plan_tasks.status.paths import resolve_plan

    root, plan = _write_project(base, "status-cost", text)
    paths = resolve_plan(str(plan), str(root))
    record = RunRecord(paths, load_plan(str(plan)).plan)
    record.begin()
    task_ids = list(record.plan.task_by_id)[:count]
    start = time.perf_counter()
    for task_id in task_ids:
        record.started(task_id, 1)
        record.completed(task_id, None)
    seconds = (time.perf_counter() - start) / (2 * len(task_ids))
    return {"ms_per_transaction": seconds * 1e3, "transactions_per_task": 2,
            "status_json_bytes": paths.status_file.stat().st_size}


def run_overhead(contenders: Contenders, base: Path, rounds: int, tasks: int, workers: int, deps: bool,
                 server_url: str, skip_global: bool = False, dask: bool = False) -> dict:
    plain_text = overhead_plan(tasks)
    entries: dict[str, tuple[str, Callable[[], float]]] = {
        "a": (f"hand-written flow, {workers} threads", contenders.timed_hand_written(tasks)),
    }
    projects = {}
    variants = [("b", 0.0, None), ("c", 0.8, None)] + ([] if skip_global else [("d", 0.0, server_url)])
    for key, gate, url in variants:
        root, plan = _write_project(base, f"overhead-{key}", plain_text)
        projects[key] = (root, plan, url)
        label = f"plan-tasks, gate {gate:g}" + (", PREFECT_API_URL set" if url else "")
        entries[key] = (label, contenders.timed_plan(root, plan, tasks, gate, workers, url))
    entries["e"] = ("hand-written, a subflow per phase", contenders.timed_hand_written(tasks, subflows=True))
    entries["h"] = ("hand-written flow + 2 plan.task events/task", contenders.timed_hand_written(tasks, events=True))
    entries["i"] = ("hand-written, (e) and (h) together", contenders.timed_hand_written(tasks, subflows=True,
                                                                                         events=True))
    if dask:  # the same run on a LocalCluster of worker processes, started and closed by each run
        entries["k"] = ("plan-tasks, gate 0, --task-runner dask", contenders.timed_plan(
            projects["b"][0], projects["b"][1], tasks, 0.0, workers, None, "dask"))
    loaded = load_plan(str(projects["b"][1]))
    _check_calls(loaded, "bench_tasks:noop")
    if len(loaded.plan.tasks) != tasks or loaded.graph.edges:
        raise SystemExit(f"the overhead plan has {len(loaded.plan.tasks)} tasks and {len(loaded.graph.edges)} edges")
    deps_edges = None
    if deps:
        deps_root, deps_plan = _write_project(base, "overhead-deps", overhead_plan(tasks, deps=True))
        deps_edges = _edge_counts(load_plan(str(deps_plan)))
        entries["f"] = (f"hand-written flow, {workers} threads, deps", contenders.timed_hand_written(tasks, deps=True))
        entries["g"] = ("plan-tasks, gate 0, deps", contenders.timed_plan(deps_root, deps_plan, tasks, 0.0, workers))

    keys = list(entries)
    _progress(f"overhead: warm-up round ({', '.join(keys)})")
    for key in keys:
        entries[key][1]()
    samples: dict[str, list[float]] = {key: [] for key in keys}
    retries: dict[str, list[int]] = {key: [] for key in keys}
    backoff: dict[str, list[float]] = {key: [] for key in keys}
    client_cpu: dict[str, list[float]] = {key: [] for key in keys}
    server_cpu: dict[str, list[float]] = {key: [] for key in keys}
    server = ServerCpu()
    server.settle()
    for round_number in range(rounds):
        shift = round_number % len(keys)
        for key in keys[shift:] + keys[:shift]:
            server_before, client_before = server.seconds(), time.process_time()
            elapsed, count, slept = RETRIES.measure(entries[key][1])
            client_cpu[key].append(time.process_time() - client_before)
            server.settle()  # what this call left the server to do is its own cost, not the next one's
            if server_before is not None:
                server_cpu[key].append((server.seconds() or server_before) - server_before)
            samples[key].append(elapsed)
            retries[key].append(count)
            backoff[key].append(slept)
        _progress(f"overhead: round {round_number + 1}/{rounds}: "
                  + ", ".join(f"{key} {samples[key][-1]:.2f} s" for key in keys))

    breakdown = {}
    for key in [key for key in ("b", "d") if key in projects]:
        _progress(f"overhead: one untimed round of ({key}) with timers on plan-tasks' own work")
        breakdown[key] = _breakdown(contenders, *projects[key], tasks, workers)

    results = {key: {"label": entries[key][0], **_stats(samples[key]),
                     "median_ms_per_task": statistics.median(samples[key]) / tasks * 1e3,
                     "client_retries": retries[key], "client_backoff_s": backoff[key],
                     "client_cpu_s": statistics.median(client_cpu[key]),
                     "server_cpu_s": statistics.median(server_cpu[key]) if server_cpu[key] else None}
               for key in keys}

    def ratio(key: str, bottom: str = "a") -> dict[str, float]:
        return {"median": results[key]["median_s"] / results[bottom]["median_s"],
                "min": results[key]["min_s"] / results[bottom]["min_s"],
                "extra_ms_per_task": (results[key]["median_s"] - results[bottom]["median_s"]) / tasks * 1e3}

    ratios = {f"{key}/a": ratio(key) for key in ("b", "c", "d", "e", "h", "i", "k") if key in results}
    if "k" in results:
        ratios["k/i"] = ratio("k", "i")
    ratios["b/e"] = ratio("b", "e")
    ratios["b/h"] = ratio("b", "h")
    ratios["b/i"] = ratio("b", "i")
    if deps:
        ratios["g/f"] = ratio("g", "f")
    status_cost = status_transaction_cost(base, plain_text)
    status_cost["serial_floor_s"] = (status_cost["ms_per_transaction"] / 1e3
                                     * status_cost["transactions_per_task"] * tasks)
    return {
        "tasks": tasks,
        "phases": OVERHEAD_PHASES,
        "workers": workers,
        "deps_edges": deps_edges,
        "rounds": rounds,
        "results": results,
        "ratios": ratios,
        "target_ratio": OVERHEAD_TARGET,
        "target_met": results["b"]["median_s"] <= OVERHEAD_TARGET * results["i"]["median_s"],
        "breakdown": breakdown,
        "status_json": status_cost,
    }


class _Timers:
    """Thread-safe call counts and seconds spent, per label (summed over threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, list[float]] = {}

    def add(self, label: str, seconds: float) -> None:
        with self.lock:
            entry = self.data.setdefault(label, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        return wrapper

    def wrap_context(self, label: str, factory: Callable[..., Any]) -> Callable[..., Any]:
        """Time entering and leaving a context manager, not its body."""

        @contextlib.contextmanager
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            with factory(*args, **kwargs):
                self.add(f"{label}: acquire", time.perf_counter() - start)
                try:
                    yield
                finally:
                    start = time.perf_counter()
            self.add(f"{label}: release", time.perf_counter() - start)

        return wrapper


def _breakdown(contenders: Contenders, root: Path, plan: Path, server_url: str | None, tasks: int,
               workers: int) -> dict:
    """Run plan-tasks once more with timers around its own per-task work.

    Only attributes that exist are wrapped, and all are restored afterwards. The
    seconds are summed over threads (up to ``workers`` run at once), so they are
    thread time, not wall time; per task they show what each task pays.
    """
    import prefect.concurrency.sync as prefect_concurrency

    from plan_tasks.prefect.artifacts import ProgressTicker
    from plan_tasks.run.driver import RunDriver
    from plan_tasks.run.record import RunRecord
    from plan_tasks.run.report import RunReporter

    timers = _Timers()
    # Public methods only: what the driver does per task, on its own threads.
    targets: list[tuple[Any, str, str]] = [
        (RunRecord, "begin", "status.json: create/sync, run start"),
        (RunRecord, "started_all", "status.json: mark in_progress (a batch per hand-out)"),
        (RunRecord, "completed", "status.json: mark completed"),
        (RunRecord, "end", "status.json: run end"),
        (RunReporter, "task_event", "task event (line + Prefect event)"),
        (ProgressTicker, "stop", "progress artifact: last update"),
        (RunDriver, "start", "driver: start attempts (status, logs, requests)"),
        (RunDriver, "succeeded", "driver: settle a success (files, findings, event)"),
        (RunScheduler, "take", "scheduler.take"),
        (RunScheduler, "wait", "scheduler.wait (phase loops idle)"),
    ]
    saved = []
    for owner, name, label in targets:
        original = owner.__dict__.get(name)
        if original is None:
            continue
        saved.append((owner, name, original))
        setattr(owner, name, timers.wrap(label, original))
    saved.append((prefect_concurrency, "concurrency", prefect_concurrency.concurrency))
    prefect_concurrency.concurrency = timers.wrap_context("global slot", prefect_concurrency.concurrency)
    try:
        wall, count, slept = RETRIES.measure(
            lambda: contenders.call_plan(root, plan, tasks, 0.0, workers, server_url)[0])
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
    status_file = next(root.glob("docs/plan-outputs/*/status.json"), None)
    rows = {label: {"calls": int(count), "thread_s": seconds, "ms_per_task": seconds / tasks * 1e3}
            for label, (count, seconds) in timers.data.items()}
    return {"wall_s": wall, "rows": rows, "client_retries": count, "client_backoff_s": slept,
            "status_json_bytes": status_file.stat().st_size if status_file else None}


# -- part 2: makespan ------------------------------------------------------------


def lower_bound(loaded: LoadedPlan, durations: dict[str, float], slots: int) -> dict[str, Any]:
    graph = loaded.graph
    finish: dict[str, float] = {}
    came_from: dict[str, str | None] = {}
    for wave in graph.levels(0.0):
        for task_id in wave:
            start, previous = 0.0, None
            for upstream in graph.predecessors[task_id]:
                if finish[upstream] > start:
                    start, previous = finish[upstream], upstream
            finish[task_id] = start + durations[task_id]
            came_from[task_id] = previous
    last = max(finish, key=finish.__getitem__)
    path = []
    cursor: str | None = last
    while cursor is not None:
        path.append(cursor)
        cursor = came_from[cursor]
    work = sum(durations.values())
    weighted = sum(min(graph.weight[t], slots) * durations[t] for t in graph.task_ids)
    return {
        "critical_path_s": finish[last],
        "critical_path": path[::-1],
        "work_s": work,
        "weighted_work_s": weighted,
        "work_per_slot_s": work / slots,
        "weighted_work_per_slot_s": weighted / slots,
        "bound_s": max(finish[last], weighted / slots),
    }


def simulate_policy(loaded: LoadedPlan, durations: dict[str, float], slots: int, gate: float) -> float:
    """plan-tasks' RunScheduler with zero overhead: start whatever it hands out, at once."""
    graph = loaded.graph
    scheduler = RunScheduler(graph, graph.task_ids, files={t.id: t.files for t in loaded.plan.tasks},
                             max_parallel=slots, phase_gate=gate)
    now, running = 0.0, []
    while True:
        for task_id in scheduler.take(None):
            heapq.heappush(running, (now + durations[task_id], graph.order[task_id], task_id))
        if not running:
            break
        now, _, task_id = heapq.heappop(running)
        scheduler.finish(task_id, True)
        while running and running[0][0] <= now:
            scheduler.finish(heapq.heappop(running)[2], True)
    if not scheduler.all_settled():
        raise SystemExit(f"the scheduler simulation stalled at gate {gate}")
    return now


def simulate_seed(loaded: LoadedPlan, plan_text: str, durations: dict[str, float], slots: int) -> dict[str, Any]:
    """The seed's loop: `next N`, run the batch, wait for the slowest, mark completed, repeat."""
    plan, graph = loaded.plan, loaded.graph
    document = {"tasks": [{"id": t.id, "phase": plan.phase_of(t).name, "description": t.title,
                           "status": "pending"} for t in plan.tasks]}
    by_id = {task["id"]: task for task in document["tasks"]}
    done: set[str] = set()
    makespan, batches = 0.0, []
    broken = {"depends": 0, "sequential": 0, "file": 0}
    broken_batches = over_weight = 0
    while len(done) < len(by_id):
        batch = [entry["id"] for entry in select_next_seed(document, plan_text, slots)["tasks"]]
        if not batch:
            raise SystemExit(f"the seed policy offered nothing with {len(by_id) - len(done)} tasks pending")
        bad = 0
        for task_id in batch:
            for upstream in graph.predecessors[task_id]:
                if upstream not in done:
                    edge = graph.edge(upstream, task_id)
                    broken[edge.kind if edge else "depends"] += 1
                    bad += 1
        broken_batches += bool(bad)
        over_weight += sum(min(graph.weight[t], slots) for t in batch) > slots
        makespan += max(durations[task_id] for task_id in batch)
        for task_id in batch:
            by_id[task_id]["status"] = "completed"
        done.update(batch)
        batches.append(batch)
    return {"makespan_s": makespan, "batches": len(batches), "broken_edges": broken,
            "batches_breaking_edges": broken_batches, "batches_over_slots_by_weight": over_weight}


def check_schedule(loaded: LoadedPlan, spans: list[tuple[str, float, float]], slots: int) -> dict[str, Any]:
    """What the measured run did: peak weight in use, edges kept, tasks' span."""
    graph = loaded.graph
    start = {task_id: begin for task_id, begin, _ in spans}
    end = {task_id: finish for task_id, _, finish in spans}
    points = sorted([(begin, 1, task_id) for task_id, begin, _ in spans]
                    + [(finish, 0, task_id) for task_id, _, finish in spans])
    in_use = peak = 0
    for _, starting, task_id in points:  # ends sort before starts at the same instant
        in_use += min(graph.weight[task_id], slots) * (1 if starting else -1)
        peak = max(peak, in_use)
    broken = sum(1 for edge in graph.edges
                 if edge.source in end and edge.target in start and start[edge.target] < end[edge.source])
    return {"tasks_run": len(spans), "peak_weight": peak, "broken_edges": broken,
            "span_s": max(end.values()) - min(start.values()) if spans else 0.0}


def run_makespan(contenders: Contenders, base: Path, rounds: int, tasks: int, slots: int, seed: int) -> dict:
    text, durations, (phases, per_phase) = makespan_plan(tasks, seed)
    root, plan = _write_project(base, "makespan", text)
    loaded = load_plan(str(plan))
    _check_calls(loaded, "bench_tasks:sleep")
    if len(loaded.plan.tasks) != tasks or set(durations) != set(loaded.plan.task_by_id):
        raise SystemExit(f"the makespan plan has {len(loaded.plan.tasks)} tasks, expected {tasks}")
    for task in loaded.plan.tasks:
        if abs(bench_tasks.duration_of(task.body) - durations[task.id]) > 1e-9:
            raise SystemExit(f"task {task.id} does not carry its duration")
    weights: dict[int, int] = {}
    for task_id in loaded.graph.task_ids:
        weights[loaded.graph.weight[task_id]] = weights.get(loaded.graph.weight[task_id], 0) + 1
    bound = lower_bound(loaded, durations, slots)
    seed_loop = simulate_seed(loaded, text, durations, slots)
    policy = {gate: simulate_policy(loaded, durations, slots, gate) for gate in GATES}

    keys = [f"gate {gate:g}" for gate in GATES]
    walls: dict[str, list[float]] = {key: [] for key in keys}
    spans: dict[str, list[float]] = {key: [] for key in keys}
    retries: dict[str, list[int]] = {key: [] for key in keys}
    backoff: dict[str, list[float]] = {key: [] for key in keys}
    checks: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    # Warm-up, as in part 1: the first flow call of a process pays Prefect's one-off
    # costs (lazy imports, the first clients, registering the flows), about 0.9 s here.
    _progress("makespan: warm-up run (a 10-task no-op plan)")
    warm_root, warm_plan = _write_project(base, "makespan-warm-up", overhead_plan(10))
    contenders.call_plan(warm_root, warm_plan, 10, 0.0, slots)
    server = ServerCpu()
    bench_tasks.take_spans()
    for round_number in range(rounds):
        order = list(zip(keys, GATES))
        if round_number % 2:
            order.reverse()
        for key, gate in order:
            server.settle()
            wall, count, slept = RETRIES.measure(
                lambda gate=gate: contenders.call_plan(root, plan, tasks, gate, slots)[0])
            retries[key].append(count)
            backoff[key].append(slept)
            check = check_schedule(loaded, bench_tasks.take_spans(), slots)
            if check["tasks_run"] != tasks:
                raise SystemExit(f"{check['tasks_run']} of {tasks} sleep tasks ran at {key}")
            walls[key].append(wall)
            spans[key].append(check["span_s"])
            checks[key].append(check)
        _progress(f"makespan: round {round_number + 1}/{rounds}: "
                  + ", ".join(f"{key} {walls[key][-1]:.2f} s" for key in keys))

    measured = {}
    for key, gate in zip(keys, GATES):
        measured[key] = {
            "gate": gate,
            "wall": _stats(walls[key]),
            "span": _stats(spans[key]),
            "simulated_policy_s": policy[gate],
            "wall_over_bound": statistics.median(walls[key]) / bound["bound_s"],
            "span_over_bound": statistics.median(spans[key]) / bound["bound_s"],
            "wall_over_seed_loop": statistics.median(walls[key]) / seed_loop["makespan_s"],
            "simulated_policy_over_bound": policy[gate] / bound["bound_s"],
            "client_retries": retries[key],
            "client_backoff_s": backoff[key],
            "peak_weight": max(check["peak_weight"] for check in checks[key]),
            "broken_edges": max(check["broken_edges"] for check in checks[key]),
        }
    return {
        "tasks": tasks,
        "phases": phases,
        "tasks_per_phase": per_phase,
        "seed": seed,
        "slots": slots,
        "rounds": rounds,
        "edges": _edge_counts(loaded),
        "weights": {str(weight): count for weight, count in sorted(weights.items())},
        "sleep_range_s": list(SLEEP_RANGE),
        "bound": bound,
        "seed_loop": {**seed_loop, "over_bound": seed_loop["makespan_s"] / bound["bound_s"]},
        "measured": measured,
        "target_ratio": MAKESPAN_TARGET,
        "target_met": measured[keys[0]]["wall_over_bound"] <= MAKESPAN_TARGET,
    }


# -- the run, and the report -------------------------------------------------------


def _plan_tasks_version() -> str:
    """Where plan_tasks is imported from, and its git commit (with `+dirty` for uncommitted changes)."""
    import subprocess

    import plan_tasks

    package = Path(plan_tasks.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(package), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(package), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=True).stdout.strip()
        return f"{package} at {commit}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return str(package)


def run(args: argparse.Namespace) -> dict:
    report: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "load_average": os.getloadavg(), "plan_tasks": _plan_tasks_version()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="plan-tasks-bench-run-") as directory:
        base = Path(directory)
        with contextlib.ExitStack() as stack:
            # A fresh Prefect home (database, profiles) and parse cache; no configured server.
            stack.enter_context(_environ("PREFECT_HOME", str(base / "prefect-home")))
            stack.enter_context(_environ("PREFECT_API_URL", None))
            stack.enter_context(_environ("PREFECT_PROFILE", None))
            stack.enter_context(_environ("PLAN_TASKS_CACHE_DIR", str(base / "cache")))
            import prefect

            report["prefect"] = prefect.__version__
            report["server"] = args.server
            _progress(f"starting the server ({args.server})")
            report["server_start_s"], server_url = _start_server(args.server, stack)
            RETRIES.install()
            try:
                contenders = Contenders(args.workers)
                if args.only in (None, "overhead"):
                    report["overhead"] = run_overhead(contenders, base, args.rounds, args.tasks, args.workers,
                                                      args.deps, server_url, args.skip_global, args.dask)
                if args.only in (None, "makespan"):
                    report["makespan"] = run_makespan(contenders, base, args.rounds, args.makespan_tasks,
                                                      args.slots, args.seed)
            finally:
                if args.server == "prefect-ephemeral":
                    _stop_server()
    report["total_s"] = time.perf_counter() - started
    return report


def _retry_text(retries: list[int], backoff: list[float]) -> str:
    return f"{statistics.median(retries):g} ({statistics.median(backoff):.1f} s)"


def _overhead_table(part: dict) -> list[str]:
    results = part["results"]
    out = [
        f"overhead: {part['tasks']} no-op tasks ({part['phases']} phases, no dependencies), "
        f"{part['workers']} slots/threads; {part['rounds']} rounds (interleaved, rotating order, 1 warm-up round)",
        (f"{'':4}{'contender':42}{'median s':>10}{'min s':>8}{'ms/task':>9}{'CPU s: client':>15}{'server':>8}"
         "   client retries (back-off), median"),
    ]
    for key, result in results.items():
        server = result.get("server_cpu_s")
        out.append(f"({key}) {result['label']:42}{result['median_s']:10.2f}{result['min_s']:8.2f}"
                   f"{result['median_ms_per_task']:9.1f}{result['client_cpu_s']:15.2f}"
                   f"{server if server is None else format(server, '.2f'):>8}   "
                   + _retry_text(result["client_retries"], result["client_backoff_s"]))
    if part["deps_edges"]:
        out.append(f"    (f), (g): {part['deps_edges']['depends']} dependency edges, p.m after (p-1).m")
    for name, ratio in part["ratios"].items():
        out.append(f"{name}: {ratio['median']:.2f}x by median, {ratio['min']:.2f}x by min, "
                   f"{ratio['extra_ms_per_task']:+.1f} ms per task")
    verdict = "met" if part["target_met"] else "NOT met"
    out.append(f"target: (b) <= {part['target_ratio']:.2f}x (i): {verdict}")
    status = part["status_json"]
    out.append(f"status.json alone: {status['ms_per_transaction']:.1f} ms per transaction at {part['tasks']} tasks "
               f"({status['status_json_bytes'] / 1e3:.0f} kB), {status['transactions_per_task']} per task under one "
               f"file lock: a serial floor of {status['serial_floor_s']:.2f} s per run")
    breakdown = part["breakdown"]
    keys = list(breakdown)
    labels = list(dict.fromkeys(label for key in keys for label in breakdown[key]["rows"]))
    walls = ", ".join(f"({key}) {breakdown[key]['wall_s']:.2f} s, {breakdown[key]['client_retries']} client "
                      f"retries ({breakdown[key]['client_backoff_s']:.1f} s)" for key in keys)
    out += ["", f"where plan-tasks' time goes (one untimed round each: {walls});",
            f"thread time, summed over up to {part['workers']} threads at once:",
            f"    {'':42}" + "".join(f"{'(' + key + ') calls':>12}{'s':>8}{'ms/task':>9}" for key in keys)]
    for label in labels:
        line = f"    {label:42}"
        for key in keys:
            row = breakdown[key]["rows"].get(label)
            line += (f"{row['calls']:12d}{row['thread_s']:8.2f}{row['ms_per_task']:9.1f}" if row
                     else f"{'-':>12}{'-':>8}{'-':>9}")
        out.append(line)
    return out


def _makespan_table(part: dict) -> list[str]:
    bound, seed_loop, edges = part["bound"], part["seed_loop"], part["edges"]
    broken = seed_loop["broken_edges"]
    weights = ", ".join(f"{count} of weight {weight}" for weight, count in part["weights"].items())
    out = [
        f"makespan: {part['tasks']} sleep tasks ({part['phases']} phases x {part['tasks_per_phase']}, seed "
        f"{part['seed']}, {part['sleep_range_s'][0]}-{part['sleep_range_s'][1]} s each), {part['slots']} slots; "
        f"{part['rounds']} rounds; edges: {edges['depends']} depends, {edges['sequential']} sequential, "
        f"{edges['file']} file; {weights}",
        f"lower bound: {bound['bound_s']:.2f} s = max(critical path {bound['critical_path_s']:.2f} s "
        f"({len(bound['critical_path'])} tasks), weighted work / slots {bound['weighted_work_per_slot_s']:.2f} s); "
        f"unweighted work / slots {bound['work_per_slot_s']:.2f} s",
        f"seed batch loop (next {part['slots']}, simulated, no overhead): {seed_loop['makespan_s']:.2f} s = "
        f"{seed_loop['over_bound']:.2f}x bound, {seed_loop['batches']} batches; "
        f"{seed_loop['batches_breaking_edges']} batches break {sum(broken.values())} edges ({broken['depends']} "
        f"depends, {broken['sequential']} sequential, {broken['file']} file); "
        f"{seed_loop['batches_over_slots_by_weight']} batches exceed {part['slots']} slots by weight",
        f"{'plan-tasks':11}{'wall median':>12}{'min':>7}{'/bound':>8}{'/seed':>7}{'span median':>13}{'/bound':>8}"
        f"{'sim. policy':>13}{'/bound':>8}{'peak':>6}{'broken':>7}   client retries (back-off)",
    ]
    for key, result in part["measured"].items():
        out.append(f"{key:<11}{result['wall']['median_s']:12.2f}{result['wall']['min_s']:7.2f}"
                   f"{result['wall_over_bound']:7.2f}x{result['wall_over_seed_loop']:6.2f}x"
                   f"{result['span']['median_s']:13.2f}{result['span_over_bound']:7.2f}x"
                   f"{result['simulated_policy_s']:13.2f}{result['simulated_policy_over_bound']:7.2f}x"
                   f"{result['peak_weight']:4d}/{part['slots']}{result['broken_edges']:7d}   "
                   + _retry_text(result["client_retries"], result["client_backoff_s"]))
    first = next(iter(part["measured"].values()))
    verdict = "met" if part["target_met"] else "NOT met"
    out.append(f"target: gate 0 wall <= {part['target_ratio']:.2f}x bound: {first['wall_over_bound']:.2f}x, {verdict}"
               f" (tasks' own span: {first['span_over_bound']:.2f}x)")
    return out


def _table(report: dict) -> str:
    load = ", ".join(f"{value:.2f}" for value in report["load_average"])
    out = [f"python {report['python']}, prefect {report['prefect']}, {report['cpus']} CPUs, load average at start "
           f"{load}; server {report['server']} started in {report['server_start_s']:.1f} s; whole run {report['total_s']:.0f} s",
           f"plan_tasks: {report['plan_tasks']}"]
    if "overhead" in report:
        out += [""] + _overhead_table(report["overhead"])
    if "makespan" in report:
        out += [""] + _makespan_table(report["makespan"])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark `plan-tasks run`: overhead per task and makespan.")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per contender, both parts (default 5)")
    parser.add_argument("--tasks", type=int, default=500, help="no-op tasks in the overhead plan (default 500)")
    parser.add_argument("--workers", type=int, default=8,
                        help="overhead: max_workers of the hand-written flow = plan-tasks max_parallel (default 8)")
    parser.add_argument("--deps", action="store_true", help="overhead: also time a variant with dependencies")
    parser.add_argument("--dask", action="store_true",
                        help="overhead: also time (k), plan-tasks with --task-runner dask (a LocalCluster per run)")
    parser.add_argument("--skip-global", action="store_true",
                        help="overhead: leave out (d), the run through the global concurrency limit (slow on SQLite)")
    parser.add_argument("--makespan-tasks", type=int, default=200, help="sleep tasks in the makespan plan (default 200)")
    parser.add_argument("--slots", type=int, default=4, help="makespan: plan-tasks max_parallel (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="makespan: seed of the plan and the durations (default 0)")
    parser.add_argument("--server", default="local", metavar="local|prefect-ephemeral|URL",
                        help="the one server of every contender: the one `plan-tasks run` starts (default), "
                             "Prefect's own temporary server, or a running server's API URL")
    parser.add_argument("--only", choices=("overhead", "makespan"), help="run one part only")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.workers < 1 or args.slots < 1:
        parser.error("--rounds, --workers and --slots must be at least 1")
    if args.tasks < OVERHEAD_PHASES or args.makespan_tasks < 2:
        parser.error(f"--tasks must be at least {OVERHEAD_PHASES} and --makespan-tasks at least 2")
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
