"""A sliding-window limit on login attempts, one budget per client.

An attempt counts from the moment it starts (:meth:`AttemptLimit.begin`), before the
password is checked, so parallel attempts cannot slip past the limit while the slow
check runs; a successful login forgets the client's attempts (:meth:`succeed`). There
is no device-wide budget: one client's failures never lock another client out.

>>> limit = AttemptLimit(per_client=2, window_s=60, clock=lambda: 0.0)
>>> limit.begin("a"), limit.begin("a"), limit.begin("a"), limit.begin("b")
(0, 0, 60, 0)
>>> limit.succeed("a"); limit.begin("a")
0
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class AttemptLimit:
    """At most ``per_client`` attempts per key in the last ``window_s`` seconds."""

    MAX_KEYS = 1000  # beyond this many clients, idle ones are forgotten

    def __init__(self, *, per_client: int = 5, window_s: float = 300.0, clock=time.monotonic):
        self.per_client, self.window_s, self._clock = per_client, window_s, clock
        self._lock = threading.Lock()
        self._by_key: dict[str, deque[float]] = {}

    def begin(self, key: str) -> int:
        """Count an attempt by ``key`` and return 0, or return the seconds it must wait
        (and count nothing) when its budget is spent."""
        now = self._clock()
        with self._lock:
            q = self._by_key.setdefault(key, deque())
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.per_client:
                return max(1, math.ceil(q[0] + self.window_s - now))
            q.append(now)
            if len(self._by_key) > self.MAX_KEYS:
                self._forget_idle(now)
        return 0

    def cancel(self, key: str) -> None:
        """Take back ``key``'s latest attempt (it never reached the password check)."""
        with self._lock:
            q = self._by_key.get(key)
            if q:
                q.pop()

    def succeed(self, key: str) -> None:
        """Forget ``key``'s attempts (it knew the password)."""
        with self._lock:
            self._by_key.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        for k in [k for k, q in self._by_key.items() if not q or q[-1] <= now - self.window_s]:
            del self._by_key[k]
