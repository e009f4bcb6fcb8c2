"""One status vocabulary: the model, the status document, `show`, `next` and the
run's scheduler all take their status words from ``plan_tasks.statuses``."""

from __future__ import annotations

from typing import get_args

import pytest

from plan_tasks import model, statuses
from plan_tasks.load import load_text
from plan_tasks.run import preview, scheduler
from plan_tasks.select import ready
from plan_tasks.status import document

SHARED = {
    "model's TaskStatus": (model.TaskStatus, statuses.TaskStatus),
    "status document's STATUSES": (document.STATUSES, statuses.STATUSES),
    "status document's FINISHED": (document.FINISHED, statuses.FINISHED),
    "status document's DONE_STATUSES": (document.DONE_STATUSES, statuses.ENDED),
    "show's FINISHED": (preview.FINISHED, statuses.FINISHED),
    "next's FINISHED": (ready.FINISHED, statuses.FINISHED),
    "the scheduler's WAITING": (scheduler.WAITING, statuses.WAITING),
    "the scheduler's INTERRUPTED": (scheduler.INTERRUPTED, statuses.INTERRUPTED),
}


@pytest.mark.parametrize(("used", "defined"), list(SHARED.values()), ids=list(SHARED))
def test_each_layer_uses_the_one_vocabulary(used: object, defined: object) -> None:
    assert used is defined


def test_the_named_words_are_exactly_the_two_vocabularies() -> None:
    names = {name: value for name, value in vars(statuses).items() if name.isupper() and isinstance(value, str)}
    assert set(names.values()) == set(get_args(statuses.TaskStatus)) | set(get_args(statuses.RunState))
    assert statuses.STATUSES == ("pending", "in_progress", "completed", "failed", "skipped")  # status.json's order
    assert statuses.SETTLED == set(statuses.RUN_STATES) - {statuses.WAITING, statuses.RUNNING}
    assert statuses.FINISHED < statuses.ENDED < statuses.SETTLED


def test_every_state_the_scheduler_reports_is_a_run_state() -> None:
    loaded = load_text("## Phase 1: A\n- [ ] 1.1 One\n- [ ] 1.2 Two (depends: 1.1)\n- [ ] 1.3 Three\n- [ ] 1.4 Four\n", "plan.md")
    run = scheduler.RunScheduler(loaded.graph, ["1.1", "1.2", "1.3", "1.4"], files={}, max_parallel=1, phase_gate=1.0)
    seen = {run.state(task_id) for task_id in loaded.graph.task_ids}
    run.finish(run.take()[0], succeeded=False)
    seen |= {run.state(task_id) for task_id in loaded.graph.task_ids}
    run.take()
    still_running = run.cancel()
    seen |= {run.state(task_id) for task_id in loaded.graph.task_ids}
    run.finish(still_running[0], succeeded=False, interrupted=True)
    seen |= {run.state(task_id) for task_id in loaded.graph.task_ids}
    assert seen == {"waiting", "running", "failed", "skipped", "cancelled", "interrupted"}
    assert seen <= set(statuses.RUN_STATES)
