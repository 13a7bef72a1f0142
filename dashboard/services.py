"""What the dashboard is given by the daemon, held in ``app.extensions["crampwatch"]``.

The dashboard only reads the store and calls the services it is handed; it owns no
sensors. Every service but the store may be None (the part of the page says so).

``reminders`` (the reminder service), duck-typed:
    ``active() -> dict | object | None``: the active reminder; a dict or an object with
    ``to_dict()``, with at least ``kind`` ("hydration" or "stretch") and ``message``;
    ``t`` (Unix s), ``id`` and ``snoozed_until`` are shown when present.
    ``ack() -> None`` and ``snooze(minutes: int) -> None``; optionally ``next_planned() ->
    dict | None``: the next reminder planned (``t``, ``kind``, ``reason``), for Today.
``scale`` (the bottle scale, see :mod:`dashboard.scale`):
    ``latest() -> Reading | None`` (``t``, ``grams``), ``state() -> BottleState | None``
    (the bottle detector's: present, contents), ``level() -> float`` (a robust raw
    level in counts; blocks a few seconds), ``calibration() -> Calibration`` and
    ``use(calibration)`` to start converting with a new one.
``epochs`` (night movement): ``epochs(start, end) -> iterable of (t, count)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from device.config import Config
from device.health import Health
from device.storage.store import Store


@dataclass
class Services:
    """The daemon's parts the dashboard uses, plus the dashboard's own shared state."""

    config: Config
    store: Store
    health: Health
    scale: Any = None
    reminders: Any = None
    actions: Any = None  # device.actions.Actions: every change a person makes goes through it
    epochs: Callable | None = None
    clock: Callable[[], float] = time.time
    version: str = "unknown"
    extras: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def settings(self):
        return self.extras["settings"]

    @property
    def effective(self) -> Config:
        """The configuration with the dashboard's saved overrides applied."""
        return self.settings.effective()


def services() -> Services:
    """The services of the app handling the current request."""
    return current_app.extensions["crampwatch"]


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crampwatch")
    except PackageNotFoundError:
        return "unknown"
