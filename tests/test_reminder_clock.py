"""Wall-clock sanity: no planning from an unset clock, and steps of the clock noticed."""

import subprocess
from types import SimpleNamespace

from scheduler.clock import EARLIEST_PLAUSIBLE, ClockSanity, JumpDetector, build_floor, ntp_synchronized

NOW = 1_793_602_800.0  # 2026-11-02 07:00 UTC


def test_a_clock_before_2024_or_before_this_build_is_not_trusted():
    sanity = ClockSanity(floor=NOW - 86400, ntp=lambda: True)
    verdict = sanity.check(0.0)
    assert not verdict.ok and "1970-01-01 00:00 UTC" in verdict.detail
    assert not sanity.check(NOW - 2 * 86400).ok  # fake-hwclock's stale time, from before the build
    assert sanity.check(NOW).ok
    assert build_floor() >= EARLIEST_PLAUSIBLE


def test_an_unsynchronised_clock_gets_ntp_some_minutes_then_is_used_anyway():
    uptime, synced, calls = [30.0], [False], []

    def ntp():
        calls.append(1)
        return synced[0]

    sanity = ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=ntp, ntp_grace_s=600, uptime=lambda: uptime[0])
    assert "waiting for NTP" in sanity.check(NOW).detail
    uptime[0] = 600.0
    verdict = sanity.check(NOW)
    assert verdict.ok and "anyway" in verdict.detail
    assert sanity.check(NOW).ok and len(calls) == 2  # trusted once: timedatectl is not asked again
    assert not sanity.check(100.0).ok  # but a clock thrown back to 1970 is still refused


def test_an_ntp_synchronised_or_unknown_clock_is_trusted_at_once():
    assert ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=lambda: True).check(NOW).detail == "clock synchronised"
    assert ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=lambda: None).check(NOW).ok  # no systemd: cannot tell


def test_timedatectl_answers_are_read_and_failures_mean_unknown():
    def runner(stdout="", returncode=0, exc=None):
        def run(*args, **kwargs):
            if exc:
                raise exc
            return SimpleNamespace(stdout=stdout, returncode=returncode)
        return run

    assert ntp_synchronized(runner("yes\n")) is True
    assert ntp_synchronized(runner("no\n")) is False
    assert ntp_synchronized(runner("", returncode=1)) is None  # no systemd in a container
    assert ntp_synchronized(runner(exc=FileNotFoundError("timedatectl"))) is None
    assert ntp_synchronized(runner(exc=subprocess.TimeoutExpired("timedatectl", 3))) is None


def test_steps_of_the_wall_clock_are_told_from_slewing():
    wall, mono = [NOW], [500.0]
    jumps = JumpDetector(wall=lambda: wall[0], mono=lambda: mono[0], tolerance_s=60)
    assert jumps.check() == 0.0
    for _ in range(100):  # NTP slewing: half a second a minute for 100 minutes is no step
        wall[0] += 60.5
        mono[0] += 60.0
        assert jumps.check() == 0.0
    wall[0] += 3 * 3600 + 15
    mono[0] += 15
    assert jumps.check() == 3 * 3600
    assert jumps.check() == 0.0
    wall[0] -= 7200
    assert jumps.check() == -7200
