"""status.json: where it lives, how it is written, what a change to it does.

The seed system's status file stays the source of truth, in its schema and its
place (``docs/plan-outputs/<plan>/status.json`` under the project root), so
agent prompts and scripts written for ``status-cli.js`` keep working.

* ``paths``: where a plan's status, findings and lock live;
* ``atomic``: crash-safe writes (temp file, fsync, rename);
* ``document``: the schema and every change to it, as pure functions on dicts;
* ``store``: the lock, loading (a corrupt file is reported, never replaced) and
  read-modify-write transactions.

Nothing here imports pydantic, markdown-it-py or Prefect: `next` and the
marking commands must start fast.
"""
