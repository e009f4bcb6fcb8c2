"""Imported by every worker process of a run's own Dask LocalCluster (its ``preload``).

Ctrl-C reaches the whole terminal process group, the LocalCluster's worker
processes too, and each would print a KeyboardInterrupt traceback. They
ignore SIGINT instead; the run stops them by closing the cluster, which
ends their task processes with them (each worker's guard,
``executors.guard``).
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
