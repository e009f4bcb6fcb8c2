"""Everything that imports Prefect: the plan's flow and its tasks, artifacts and events,
global concurrency slots, task runners (threads, Dask) and the tuned local server.

Private Prefect names are used only in `plan_tasks.prefect.internals`, fenced by a test.
"""
