"""Can the wall clock be trusted? A Raspberry Pi has no real-time clock.

At boot a Pi's clock reads 1970, or the time it last shut down (``fake-hwclock``),
until NTP steps it, possibly by days. Reminders planned from such a clock fire at the
wrong hours, so :class:`ClockSanity` refuses an obviously wrong clock and, where
systemd can tell, waits a while for NTP; :class:`JumpDetector` notices a later step of
the wall clock against the monotonic clock, so that the jobs can be planned again.

>>> sanity = ClockSanity(floor=1_704_067_200.0, ntp=lambda: None)
>>> sanity.check(86_400.0).ok, sanity.check(1_793_602_800.0).ok
(False, True)
>>> wall = [1_793_602_800.0]
>>> jumps = JumpDetector(wall=lambda: wall[0], mono=lambda: 100.0)
>>> jumps.check(), wall.__setitem__(0, wall[0] + 7200), jumps.check()
(0.0, None, 7200.0)
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

EARLIEST_PLAUSIBLE = 1_704_067_200.0  # 2024-01-01 UTC: no crampwatch ran before this
NTP_GRACE_S = 600.0  # how long after boot to wait for NTP before trusting the clock anyway
JUMP_TOLERANCE_S = 60.0  # smaller steps do not matter for reminders timed in minutes


def build_floor() -> float:
    """The earliest believable time: 2024, or the day before this package was built or installed."""
    try:
        built = Path(__file__).stat().st_mtime - 86_400.0
    except OSError:
        built = 0.0
    return max(EARLIEST_PLAUSIBLE, built)


def ntp_synchronized(run=subprocess.run) -> bool | None:
    """systemd's NTPSynchronized (``timedatectl``): True, False, or None when it cannot tell."""
    try:
        out = run(["timedatectl", "show", "--property=NTPSynchronized", "--value"],
                  capture_output=True, text=True, timeout=3)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip() if out.returncode == 0 else ""
    return {"yes": True, "no": False}.get(value)


@dataclass(frozen=True)
class ClockVerdict:
    """Whether reminders may be planned from the wall clock, and a sentence why (not)."""

    ok: bool
    detail: str


class ClockSanity:
    """Decides whether the wall clock is good enough to plan reminders from.

    - Before ``floor`` (2024, or this build's date): never; wait until it is set.
    - NTP known unsynchronised (``ntp()`` is False): wait until it is, or until
      ``ntp_grace_s`` after boot (``uptime``, CLOCK_MONOTONIC on Linux), then go ahead
      with a warning: a Pi without network still deserves reminders.
    - NTP synchronised or unknown (no systemd): yes.

    Once trusted it stays trusted (only the floor is checked again), so ``ntp`` runs at
    most until the first success.
    """

    def __init__(self, *, floor: float | None = None, ntp: Callable[[], bool | None] = ntp_synchronized,
                 ntp_grace_s: float = NTP_GRACE_S, uptime: Callable[[], float] = time.monotonic):
        self.floor = build_floor() if floor is None else floor
        self._ntp = ntp
        self._grace = ntp_grace_s
        self._uptime = uptime
        self._trusted: ClockVerdict | None = None

    def check(self, wall: float) -> ClockVerdict:
        if wall < self.floor:
            return ClockVerdict(False, f"the clock reads {_iso(wall)}, before {_iso(self.floor)}: "
                                       "not set yet; reminders wait for the time")
        if self._trusted is not None:
            return self._trusted
        synced = self._ntp()
        if synced is False:
            if self._uptime() < self._grace:
                return ClockVerdict(False, "waiting for NTP to set the clock before planning reminders")
            self._trusted = ClockVerdict(True, f"clock not NTP-synchronised {self._grace / 60:.0f} min after "
                                               "boot; planning reminders from it anyway")
        else:
            self._trusted = ClockVerdict(True, "clock synchronised" if synced else "clock plausible")
        return self._trusted


class JumpDetector:
    """Notices steps of the wall clock: the offset between wall and monotonic time changes.

    ``check()`` returns the step in seconds since the previous check (0.0 when it is
    within ``tolerance_s``). Slow NTP slewing is followed without being reported.
    """

    def __init__(self, wall: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic,
                 tolerance_s: float = JUMP_TOLERANCE_S):
        self._wall, self._mono, self._tolerance = wall, mono, tolerance_s
        self._offset: float | None = None

    def check(self) -> float:
        offset = self._wall() - self._mono()
        previous, self._offset = self._offset, offset
        if previous is None:
            return 0.0
        step = offset - previous
        return step if abs(step) > self._tolerance else 0.0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
