"""How a bed feels its night, drawn from wide ranges: domain randomization of the nights.

The night simulator's own defaults (:mod:`simulator.night_scenario`) describe one kind
of bed: a sensor screwed firmly to a frame that carries breathing well. A detector
tuned there alone failed on an independent physics model (issue 13). :func:`draw`
gives each night its own physics, far wider than any one bed:

============  ==============================  ==========================================
parameter      range                           why
============  ==============================  ==========================================
rate_hz        25, 50, 100 Hz                  the configurable output rates
noise_mg       1-10 mg rms per axis            a quiet MPU-6050 to a cheap ADXL345 on a
                                               vibrating floor (log-uniform)
breath_mg      0.2-5 mg                        the sleeper's breathing at the sensor: a
                                               soft mattress on a heavy frame to a light
                                               slatted bed (log-uniform)
heart_ratio    0.05-0.6 of the breathing       ballistocardiogram coupling
posture        x0.3-1 to x1-2.5                how much a turnover changes the coupling
occupant_mg    0.3-8 mg                        the frame's tilt under the sleeper's weight
tilt_deg       0-40 degrees                    mounting tilt off the chip's axis
frame_hz       5-30 Hz                         the frame's resonance (ringing after a jolt)
move_scale     x0.3-x3                         movements as the frame feels them
dropout        0-2 % of samples                I2C errors and FIFO overruns, in bursts of
                                               1-40 samples
partner        40 % of nights                  someone else on the bed
chip           ADXL345 (3.9 mg steps) or MPU-6050
============  ==============================  ==========================================

Seeds are split: :data:`TUNE_SEEDS` for tuning, :data:`REPORT_SEEDS` held back for the
figures that are reported (``benchmarks/night_envelope.py``).

>>> p = draw(7)
>>> 1.0 <= p.noise_mg <= 10.0 and p.rate_hz in (25.0, 50.0, 100.0)
True
>>> draw(7) == p
True
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Physics", "draw", "drop_samples", "TUNE_SEEDS", "REPORT_SEEDS"]

TUNE_SEEDS = range(0, 5000)
REPORT_SEEDS = range(100_000, 200_000)


@dataclass(frozen=True)
class Physics:
    """One night's physics (see the module's table)."""

    rate_hz: float
    noise_mg: float
    breath_mg: float
    heart_ratio: float
    posture: tuple[float, float]
    occupant_mg: float
    tilt_deg: float
    frame_hz: float
    move_scale: float
    dropout: float
    partner: bool
    chip: str

    def to_dict(self) -> dict:
        return asdict(self)


def _logu(r: random.Random, lo: float, hi: float) -> float:
    return math.exp(r.uniform(math.log(lo), math.log(hi)))


def draw(seed: int) -> Physics:
    """The physics of night ``seed`` (deterministic)."""
    r = random.Random(f"crampwatch.night.domain.{seed}")
    lo = r.uniform(0.3, 1.0)
    return Physics(
        rate_hz=r.choice((25.0, 50.0, 100.0)),
        noise_mg=_logu(r, 1.0, 10.0),
        breath_mg=_logu(r, 0.2, 5.0),
        heart_ratio=r.uniform(0.05, 0.6),
        posture=(lo, r.uniform(max(1.0, lo), 2.5)),
        occupant_mg=_logu(r, 0.3, 8.0),
        tilt_deg=r.uniform(0.0, 40.0),
        frame_hz=_logu(r, 5.0, 30.0),
        move_scale=_logu(r, 0.3, 3.0),
        dropout=r.uniform(0.0, 0.02) if r.random() < 0.7 else 0.0,
        partner=r.random() < 0.4,
        chip=r.choice(("adxl345", "mpu6050")),
    )


def drop_samples(t: np.ndarray, xyz: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(t, xyz)`` without about ``fraction`` of the samples, lost in bursts of 1-40.

    A burst is what a failed I2C transaction or an overrun FIFO loses: consecutive
    samples. The rest keep their times (the analysis sees a gap).
    """
    n = len(t)
    if fraction <= 0 or n == 0:
        return t, xyz
    rng = np.random.default_rng([abs(seed), 0xD40])
    mean_burst = 20.5
    bursts = rng.poisson(fraction * n / mean_burst)
    keep = np.ones(n, bool)
    starts = rng.integers(0, n, bursts)
    lengths = rng.integers(1, 41, bursts)
    for s, length in zip(starts.tolist(), lengths.tolist()):
        keep[s : s + length] = False
    return t[keep], xyz[keep]
