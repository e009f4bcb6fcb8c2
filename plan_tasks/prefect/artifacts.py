"""What a run shows in Prefect besides its runs: artifacts and events.

A Markdown artifact with the plan's dependency graph (Mermaid), a progress
artifact updated as tasks settle, a table artifact of task outcomes, and the
``plan.task.*`` events with the task as resource. None of it may fail a task
or the run: a view that cannot be written is skipped. Imports Prefect lazily.
"""

from __future__ import annotations

from typing import Any

PROGRESS_INTERVAL_SECONDS = 1.0  # progress artifact updates, at most this often (and once at the end)


class ProgressTicker:
    """Keeps the progress artifact at the run's settled share, from one thread of its own.

    The thread first creates the run's artifacts; then once a second it sends
    the share if it changed, and once more when the run stops. Task threads
    never touch it: an update is an API call (a client to build, a request, a
    server write) that would hold a task's thread.
    """

    def __init__(self, create: Any, progress: Any, interval: float = PROGRESS_INTERVAL_SECONDS) -> None:
        """``create()`` makes the artifacts, in the ticker's thread, and returns the progress artifact's id."""
        import contextvars
        import threading

        self._create = create
        self._artifact_id: Any = None
        self._progress = progress
        self._interval = interval
        self._sent = 0.0  # the artifact is created at 0%
        self._stopping = threading.Event()
        context = contextvars.copy_context()  # the run's Prefect settings and client
        self._thread = threading.Thread(target=context.run, args=(self._loop,), name="plan-tasks-progress",
                                        daemon=True)
        self._thread.start()

    def _share(self) -> float:
        return 100.0 * self._progress.settled / max(1, self._progress.total)

    def _loop(self) -> None:
        from prefect.client.orchestration import get_client

        try:
            self._artifact_id = self._create()
            with get_client(sync_client=True) as client:
                while not self._stopping.wait(self._interval):
                    self._send(client)
                self._send(client)  # the final share
        except Exception:  # noqa: BLE001 - artifacts are a view; a run goes on without them
            return

    def _send(self, client: Any) -> None:
        from prefect.client.schemas.actions import ArtifactUpdate

        share = self._share()
        if share == self._sent:
            return
        try:
            client.update_artifact(artifact_id=self._artifact_id, artifact=ArtifactUpdate(data=share))
            self._sent = share
        except Exception:  # noqa: BLE001 - progress display must never fail a run
            pass

    def stop(self) -> None:
        """Send the final share and end the thread."""
        self._stopping.set()
        self._thread.join()


def artifact_key(plan_name: str, suffix: str) -> str:
    import re

    return (re.sub(r"[^a-z0-9-]+", "-", plan_name.lower()).strip("-")[:40] or "plan") + f"-{suffix}"


def emitter(run_name: str, runs_of: Any = None) -> Any:
    """A function that sends a run's task event as a Prefect event, the task as its resource.

    Related resources are named here: the task run and the flow run it ran in
    (``runs_of(task_id)`` gives their ids, either may be None; a task run's own
    context wins). The event is sent from a copy of the context without
    Prefect's run contexts (``prefect_internals.without_run_contexts``):
    otherwise Prefect's events worker gathers the flow, flow run, task run and
    their tags from the run context for every event, which doubled what sending
    one cost. PrefectInternalsMoved here, not at the first event, if Prefect
    moved those contexts.
    """
    from prefect.context import TaskRunContext
    from prefect.events import emit_event

    from plan_tasks.prefect.internals import run_context_variables, without_run_contexts

    run_context_variables()

    def run_ids(task_id: str) -> tuple[Any, Any]:
        task_run, flow_run = runs_of(task_id) if runs_of else (None, None)
        task_context = TaskRunContext.get()
        if task_context is not None:
            task_run, flow_run = task_context.task_run.id, task_context.task_run.flow_run_id
        return task_run, flow_run

    def send(record: dict[str, Any], related: list[dict[str, str]]) -> None:
        emit_event(
            event=record["event"],
            resource={"prefect.resource.id": f"plan-tasks.task.{run_name}.{record['task']}",
                      "prefect.resource.name": f"{record['task']} {record['title']}"[:200],
                      "plan-tasks.plan": run_name},
            related=related,
            payload={key: value for key, value in record.items() if key not in ("event",)},
        )

    def emit(kind: str, record: dict[str, Any]) -> None:
        try:
            task_run, flow_run = run_ids(record["task"])
            related = [{"prefect.resource.id": f"prefect.{role}.{run_id}", "prefect.resource.role": role}
                       for role, run_id in (("task-run", task_run), ("flow-run", flow_run)) if run_id]
            without_run_contexts(send, record, related)
        except Exception:  # noqa: BLE001 - an event that cannot be sent must not fail the task
            pass

    return emit


def start_artifacts(run: Any) -> None:
    """The plan's Mermaid graph and a progress artifact at 0%, created by
    ``run.progress_ticker``'s thread (two API calls the first task need not wait
    for), which then keeps the progress current."""

    def create() -> Any:
        from prefect.artifacts import create_markdown_artifact, create_progress_artifact

        from plan_tasks.export import to_mermaid
        from plan_tasks.redact import redact

        name = run.record.paths.name
        create_markdown_artifact(key=artifact_key(name, "graph"), description=f"Dependency graph of {name}",
                                 markdown=redact(f"# {run.loaded.plan.title}\n\n```mermaid\n{to_mermaid(run.loaded)}\n```\n"))
        return create_progress_artifact(progress=0.0, key=artifact_key(name, "progress"),
                                        description=f"Tasks of {name} settled")

    run.progress_ticker = ProgressTicker(create, run.scheduler.progress)


def outcome_table(run: Any) -> None:
    """A table artifact: what became of every task the run handled."""
    from prefect.artifacts import create_table_artifact

    rows = []
    for task_id in run.loaded.graph.task_ids:
        state = run.scheduler.state(task_id)
        if task_id not in run.runs.futures and state != "skipped":
            continue
        outcome = run.outcomes.get(task_id, {})
        usage = outcome["usage"].to_json() if outcome.get("usage") is not None else {}
        rows.append({"task": task_id, "title": run.loaded.plan.task_by_id[task_id].title, "outcome": state,
                     "attempts": outcome.get("attempts", 0), "cost_usd": usage.get("costUsd"),
                     "input_tokens": usage.get("inputTokens"), "output_tokens": usage.get("outputTokens"),
                     "turns": usage.get("turns"),
                     "detail": outcome.get("error") or run.scheduler.skip_reasons.get(task_id) or
                     ", ".join(outcome.get("files", []))})
    from plan_tasks.redact import redact_value

    description = f"Task outcomes of {run.loaded.plan.title}"
    report = getattr(run.driver, "report_path", None)
    if report is not None:  # written by the driver just before (`--report`)
        description += f"; timeline report: [{report.name}]({report.resolve().as_uri()})"
    try:
        create_table_artifact(table=redact_value(rows), key=artifact_key(run.record.paths.name, "outcomes"),
                              description=description)
    except Exception:  # noqa: BLE001
        pass
