"""A run, without Prefect: its settings, its preparation, the scheduler, the driver that owns
every side effect (status.json, files, findings), the lock, the report and the interruption.

Nothing in this package imports Prefect at module level, so `run --dry-run` and the CLI's
checks stay fast; `plan_tasks.prefect` builds the flow on top of it.
"""
