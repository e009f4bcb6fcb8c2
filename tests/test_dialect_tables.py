"""Task tables (``plan_tasks.parse.tables``) and GSD plans (``plan_tasks.parse.gsd``)."""

from __future__ import annotations

import pytest

from plan_tasks.model import Plan
from plan_tasks.parse import gsd, tables
from plan_tasks.parse.source import Source

TABLE = """# Board

## Phase 1: Core

### Track A: API

| ID | Task | Priority | Status | Deps |
|----|------|----------|--------|------|
| API-1 | Routes in `src/api/routes.ts` | High | ✅ Done | — |
| API-2 | Filter with `a \\| b` syntax | Low | Ready | API-1 |
| ~~API-3~~ | Dropped idea | Low | | |

| Phase | Tasks |
|-------|-------|
| 1 | 3 |

## Phase 2: UI

| ID | Task | Deps |
|----|------|------|
| UI-1 | Screens | All Track A |
| UI-2 | Polish | All phases |
| UI-3 | Later | All Track Z |

```markdown
| ID | Task |
|----|------|
| EX-1 | An example in a fence |
```
"""


def _table_plan() -> tuple[Plan, list[str]]:
    plan, problems = tables.parse(Source(TABLE, "board.md"))
    return plan, [problem.format() for problem in problems]


def test_rows_of_tables_with_an_id_column_are_tasks() -> None:
    plan, _ = _table_plan()
    assert [task.id for task in plan.tasks] == ["API-1", "API-2", "API-3", "UI-1", "UI-2", "UI-3"]
    assert [phase.name for phase in plan.phases] == ["Phase 1: Core", "Phase 2: UI"]
    assert (plan.tasks[0].line, plan.tasks[0].column) == (9, 3)


def test_row_cells_give_status_weight_files_and_title() -> None:
    plan, _ = _table_plan()
    first, second, third = plan.tasks[:3]
    assert (first.initial_status, first.complexity, first.files) == ("completed", "HIGH", ("src/api/routes.ts",))
    assert second.title == "Filter with `a \\| b` syntax"  # a pipe in a code span does not split the row
    assert [ref.id for ref in second.depends_on] == ["API-1"]
    assert third.initial_status == "skipped"  # a struck-through id


def test_all_track_and_all_phases_name_groups_of_tasks() -> None:
    plan, problems = _table_plan()
    assert [ref.id for ref in plan.task_by_id["UI-1"].depends_on] == ["API-1", "API-2", "API-3"]
    assert [ref.id for ref in plan.task_by_id["UI-2"].depends_on] == ["API-1", "API-2", "API-3"]
    assert problems == ["board.md:23:18: error: `All Track Z` names no tasks\n  hint: name a heading that holds tasks"]


def test_a_document_without_task_tables_is_an_error() -> None:
    _, problems = tables.parse(Source("# Board\n\n| Phase | Tasks |\n|---|---|\n| 1 | 3 |\n", "board.md"))
    assert [p.message for p in problems] == ["no task table found"]


GSD = """---
phase: 02-api
plan: 01
depends_on: []
---

<tasks>

<task type="auto">
  <name>Task 1: Add routes</name>
  <files>src/routes.ts</files>
  <action>
Write the routes.

Keep them small.
  </action>
  <verify>npm test</verify>
</task>

```xml
<task type="auto">
  <name>Task 9: Only an example</name>
</task>
```

<task type="checkpoint:human-verify">
  <name>Check the routes by hand</name>
</task>

</tasks>
"""


def test_gsd_tasks_outside_fences_in_order_with_ids_from_their_names() -> None:
    plan, problems = gsd.parse(Source(GSD, "02-01-PLAN.md"))
    assert problems == []
    assert [(task.id, task.title) for task in plan.tasks] == [("1", "Add routes"), ("2", "Check the routes by hand")]
    assert plan.phases[0].name == "Phase 2: api (plan 02-01)"
    assert plan.tasks[0].body == "Action:\nWrite the routes.\n\nKeep them small.\n\nVerify:\nnpm test"
    assert plan.tasks[0].line == 9


@pytest.mark.parametrize(("text", "message"), [
    ("---\nphase: 01-x\n---\n<tasks>\n</tasks>\n", "no `<task>` elements found"),
    ("---\nphase: 01-x\n---\n<task>\n  <files>a.ts</files>\n</task>\n", "task 1 has no `<name>`"),
])
def test_gsd_problems(text: str, message: str) -> None:
    _, problems = gsd.parse(Source(text, "plan.md"))
    assert [p.message for p in problems] == [message]


def test_gsd_phase_from_the_file_layout_when_the_front_matter_is_blanked() -> None:
    # plan_tasks.parse may blank front matter (as empty lines) before a dialect reads the text.
    blanked = "\n" * 5 + GSD.split("---\n", 2)[2]
    plan, problems = gsd.parse(Source(blanked, ".planning/phases/02-api/02-01-PLAN.md"))
    assert (plan.phases[0].name, problems) == ("Phase 2: api (plan 02-01)", [])
    assert gsd.detect(Source(blanked, "02-01-PLAN.md")) is not None
    plan, _ = gsd.parse(Source(blanked, "02-01-PLAN.md"))
    assert plan.phases[0].name == "Phase 2: plan 02-01"
    assert plan.tasks[0].line == 9  # line numbers stay put
