"""How often a person's actions may run: a token bucket per action and surface.

A surface that a program can drive (MQTT, the dashboard's API) could otherwise store
thousands of cramps a second, and those feed the insights and the doctor note. Each
action has a :class:`Limit`: ``burst`` at once, then one more every ``every_s``
seconds. Each surface (the ``source`` of the action: ``mqtt``, ``dashboard``,
``button``) has its own bucket, so a flood on one surface never blocks the others.
The limits themselves are rules of the actions (:data:`device.actions.RATE_LIMITS`).

>>> now = [0.0]
>>> limits = RateLimits({"cramp": Limit(burst=2, every_s=60)}, clock=lambda: now[0])
>>> limits.take("cramp", "mqtt"), limits.take("cramp", "mqtt"), limits.take("cramp", "mqtt")
(0.0, 0.0, 60.0)
>>> limits.take("cramp", "dashboard")  # its own bucket
0.0
>>> now[0] = 45.0; limits.take("cramp", "mqtt")  # three quarters of a token so far
15.0
>>> now[0] = 60.0; limits.take("cramp", "mqtt")
0.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``burst`` actions at once, then one more every ``every_s`` seconds."""

    burst: int
    every_s: float

    def __str__(self) -> str:
        return f"{self.burst} at once, then one every {self.every_s:g} s"


class TokenBucket:
    """Holds up to ``limit.burst`` tokens and gains one every ``limit.every_s``; not thread-safe."""

    def __init__(self, limit: Limit, now: float):
        self.limit = limit
        self.tokens = float(limit.burst)
        self.last = now

    def take(self, now: float) -> float:
        """Take a token: 0.0, or (taking nothing) the seconds until one is there."""
        elapsed = max(0.0, now - self.last)  # a clock that went back refills nothing
        self.tokens = min(float(self.limit.burst), self.tokens + elapsed / self.limit.every_s)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) * self.limit.every_s


class RateLimits:
    """A bucket per ``(name, source)`` for every name in ``limits``; thread-safe.

    Names without a limit are never limited. ``clock`` is monotonic seconds.
    """

    def __init__(self, limits: Mapping[str, Limit], *, clock: Callable[[], float] = time.monotonic):
        self.limits = dict(limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, name: str, source: str = "") -> float:
        """Take a turn for ``name`` from ``source``: 0.0, or the seconds to wait (nothing taken)."""
        limit = self.limits.get(name)
        if limit is None:
            return 0.0
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get((name, source))
            if bucket is None:  # sources are names in the code, not input: a handful of buckets
                bucket = self._buckets[(name, source)] = TokenBucket(limit, now)
            return bucket.take(now)
