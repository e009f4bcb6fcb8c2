"""What a run shows in Prefect besides its runs: artifacts and events.

A Markdown artifact with the plan's dependency graph (Mermaid), a progress
artifact updated as tasks settle, a table artifact of task outcomes, and the
``plan.task.*`` events with the task as resource. None of it may fail a task
or the run: a view that cannot be written is skipped. Imports Prefect lazily.
"""

from __future__ import annotations

import time
from typing import Any

PROGRESS_INTERVAL_SECONDS = 1.0  # progress artifact updates, at most this often (and once at the end)


def update_progress_artifact(run: Any, final: bool = False) -> None:
    """The progress artifact follows the settled count: at most once a second, and once at the end."""
    artifact_id = run.progress_artifact
    if artifact_id is None:
        return
    from prefect.artifacts import update_progress_artifact as send_progress

    progress = run.scheduler.progress
    if not final and time.monotonic() - run.progress_sent_at < PROGRESS_INTERVAL_SECONDS:
        return  # one API write per task would cost more than the task on a busy server
    # Read and send under one lock: tasks settle in several threads at once, and an
    # older value sent last would leave a finished run's progress below 100%. A task
    # thread never queues for it (the next update or the final one carries its count);
    # the final update does.
    if not run.progress_lock.acquire(blocking=final):
        return
    try:
        now = time.monotonic()
        if not final and now - run.progress_sent_at < PROGRESS_INTERVAL_SECONDS:
            return
        run.progress_sent_at = now
        try:
            send_progress(artifact_id=artifact_id,
                          progress=100.0 * progress.settled / max(1, progress.total))
        except Exception:  # noqa: BLE001 - progress display must never fail a task
            pass
    finally:
        run.progress_lock.release()


def artifact_key(plan_name: str, suffix: str) -> str:
    import re

    return (re.sub(r"[^a-z0-9-]+", "-", plan_name.lower()).strip("-")[:40] or "plan") + f"-{suffix}"


def emitter(run_name: str) -> Any:
    """A function that sends a run's task event as a Prefect event, the task as its resource."""
    from prefect.events import emit_event

    def emit(kind: str, record: dict[str, Any]) -> None:
        try:
            emit_event(
                event=record["event"],
                resource={"prefect.resource.id": f"plan-tasks.task.{run_name}.{record['task']}",
                          "prefect.resource.name": f"{record['task']} {record['title']}"[:200],
                          "plan-tasks.plan": run_name},
                payload={key: value for key, value in record.items() if key not in ("event",)},
            )
        except Exception:  # noqa: BLE001 - an event that cannot be sent must not fail the task
            pass

    return emit


def start_artifacts(run: Any) -> None:
    """The plan's Mermaid graph and a progress artifact at 0%, on the plan's flow run."""
    from prefect.artifacts import create_markdown_artifact, create_progress_artifact

    from plan_tasks.export import to_mermaid

    name = run.record.paths.name
    try:
        create_markdown_artifact(key=artifact_key(name, "graph"), description=f"Dependency graph of {name}",
                                 markdown=f"# {run.loaded.plan.title}\n\n```mermaid\n{to_mermaid(run.loaded)}\n```\n")
        run.progress_artifact = create_progress_artifact(progress=0.0, key=artifact_key(name, "progress"),
                                                         description=f"Tasks of {name} settled")
    except Exception:  # noqa: BLE001 - artifacts are a view; a run goes on without them
        run.progress_artifact = None


def outcome_table(run: Any) -> None:
    """A table artifact: what became of every task the run handled."""
    from prefect.artifacts import create_table_artifact

    rows = []
    for task_id in run.loaded.graph.task_ids:
        state = run.scheduler.state(task_id)
        if task_id not in run.futures and state != "skipped":
            continue
        outcome = run.outcomes.get(task_id, {})
        rows.append({"task": task_id, "title": run.loaded.plan.task_by_id[task_id].title, "outcome": state,
                     "attempts": outcome.get("attempts", 0),
                     "detail": outcome.get("error") or run.scheduler.skip_reasons.get(task_id) or
                     ", ".join(outcome.get("files", []))})
    try:
        create_table_artifact(table=rows, key=artifact_key(run.record.paths.name, "outcomes"),
                              description=f"Task outcomes of {run.loaded.plan.title}")
    except Exception:  # noqa: BLE001
        pass
