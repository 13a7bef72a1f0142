"""A sliding-window limit on failed logins, per client and for the whole device.

>>> limit = FailureLimit(per_client=2, overall=10, window_s=60, clock=lambda: 0.0)
>>> limit.fail("a"); limit.fail("a")
>>> limit.retry_after("a"), limit.retry_after("b")
(60, 0)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class FailureLimit:
    """Counts failures in the last ``window_s``; a key over its budget must wait."""

    def __init__(self, *, per_client: int = 5, overall: int = 30, window_s: float = 300.0, clock=time.monotonic):
        self.per_client, self.overall, self.window_s, self._clock = per_client, overall, window_s, clock
        self._lock = threading.Lock()
        self._by_key: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _prune(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window_s:
            q.popleft()

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            waits = []
            q = self._by_key.get(key)
            if q is not None:
                self._prune(q, now)
                if len(q) >= self.per_client:
                    waits.append(q[0] + self.window_s - now)
            self._prune(self._all, now)
            if len(self._all) >= self.overall:
                waits.append(self._all[0] + self.window_s - now)
        return max((math.ceil(w) for w in waits), default=0)

    def fail(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            q = self._by_key.setdefault(key, deque())
            self._prune(q, now)
            q.append(now)
            self._all.append(now)
            if len(self._by_key) > 1000:  # forget idle clients
                for k in [k for k, v in self._by_key.items() if not v or v[-1] <= now - self.window_s]:
                    del self._by_key[k]

    def succeed(self, key: str) -> None:
        with self._lock:
            self._by_key.pop(key, None)
