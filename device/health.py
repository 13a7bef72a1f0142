"""Health: what each part of the daemon is doing, readable by people and programs.

Components (``bottle``, ``bed``, ``mqtt``, ``storage``) report their state here
instead of crashing; the CLI, the dashboard and MQTT show it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Literal

State = Literal["starting", "ok", "degraded", "failed", "off"]


@dataclass(frozen=True)
class ComponentHealth:
    """One component's health: a state, a human sentence, counters, last sample time."""

    state: State = "starting"
    detail: str = ""
    errors: int = 0
    glitches: int = 0
    last_sample_t: float | None = None  # the sample's own (wall-clock) time
    last_sample_mono: float | None = None  # when it arrived, on the monotonic clock
    since: float = field(default_factory=time.time)
    metrics: tuple[tuple[str, float | int | None], ...] = ()  # e.g. storage's writes_per_hour

    def to_dict(self, mono_now: float | None = None) -> dict:
        # The age is a duration, so it is measured on the monotonic clock: a step of the
        # wall clock (NTP's first sync, ``date -s``) must not make it an hour old or
        # -3600 s until the sensor threads notice the step.
        mono_now = time.monotonic() if mono_now is None else mono_now
        age = None if self.last_sample_mono is None else round(mono_now - self.last_sample_mono, 3)
        out = {"state": self.state, "detail": self.detail, "errors": self.errors,
               "glitches": self.glitches, "last_sample_age_s": age, "since": round(self.since, 3)}
        out.update(self.metrics)
        return out


class Health:
    """A thread-safe registry of component health."""

    def __init__(self, clock=time.time, monotonic=time.monotonic):
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._parts: dict[str, ComponentHealth] = {}

    def set(self, name: str, state: State, detail: str = "") -> None:
        with self._lock:
            old = self._parts.get(name, ComponentHealth())
            since = old.since if old.state == state else self._clock()
            self._parts[name] = replace(old, state=state, detail=detail, since=since)

    def sample(self, name: str, t: float | None = None) -> None:
        """A good sample arrived: remember when (cheap; called at the sensor rate)."""
        with self._lock:
            old = self._parts.get(name, ComponentHealth())
            self._parts[name] = replace(old, last_sample_t=self._clock() if t is None else t,
                                        last_sample_mono=self._monotonic())

    def count(self, name: str, *, errors: int = 0, glitches: int = 0) -> None:
        with self._lock:
            old = self._parts.get(name, ComponentHealth())
            self._parts[name] = replace(old, errors=old.errors + errors, glitches=old.glitches + glitches)

    def measure(self, name: str, **metrics: float | int | None) -> None:
        """Set a part's figures (``writes_per_hour=12``); they appear beside its state."""
        with self._lock:
            old = self._parts.get(name, ComponentHealth())
            self._parts[name] = replace(old, metrics=tuple(sorted({**dict(old.metrics), **metrics}.items())))

    def get(self, name: str) -> ComponentHealth:
        with self._lock:
            return self._parts.get(name, ComponentHealth(state="off"))

    def snapshot(self) -> dict[str, dict]:
        mono_now = self._monotonic()
        with self._lock:
            return {name: part.to_dict(mono_now) for name, part in sorted(self._parts.items())}

    @property
    def overall(self) -> State:
        states = {p.state for p in self._parts.values()}
        for worst in ("failed", "degraded", "starting"):
            if worst in states:
                return worst
        return "ok"
