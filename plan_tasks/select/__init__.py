"""`next N` policies: which tasks to hand out next.

* ``seed``: the seed system's ``cmdNext``, reproduced exactly, quirks included,
  for scripts and agent prompts that depend on its answers;
* ``ready``: the default; the seed's own recommendations made real: dependency
  graph, file conflicts, retry budget, a tunable phase gate and critical-path
  priority.

Both read a status document and the plan; neither writes anything.
"""

BATCH_TABLE = ((10, 3), (31, 4))  # < 10 tasks: 3, 10-30: 4, > 30: 5 (the seed's batch table)
DEFAULT_COUNT = 3  # the seed's `next` default


def batch_size(task_count: int) -> int:
    """The seed's batch-size table by plan size."""
    for limit, size in BATCH_TABLE:
        if task_count < limit:
            return size
    return 5
