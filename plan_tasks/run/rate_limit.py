"""A process-wide rate limit for agent calls (``--rate-limit N/min``).

Calls are spaced evenly: at most ``rate`` per second, each waiting for its
turn. It lives in the process that runs the plan, so it works the same on the
ephemeral server, a real server, or none.
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / per_second
        self._lock = threading.Lock()
        self._next_slot = time.monotonic()

    def acquire(self) -> float:
        """Wait for the next free slot; returns how long this call waited."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
        return delay
