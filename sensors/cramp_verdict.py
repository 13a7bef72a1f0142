"""Layer 3 of the night analysis: a wake episode's features to a cramp verdict and score.

No black box: the score is a logistic function of a handful of features a person can
read, with hand-set coefficients listed below with their reasons. The verdict is
``score >= 0.5``. The features travel with the wake in its JSON (``"features"``), so a
user who disagrees can see why.

Bed sensor (:data:`BED`). A leg cramp strikes: the calf or foot contracts within a
fraction of a second and the leg kicks, then a few more spasm jerks follow, and the
sleeper stretches and flexes the foot for minutes, in bed or walking it off. A bathroom
trip or a restless spell starts with a turnover or an adjustment that builds up over a
second or two, and the movements after it are turns, not jerks. So:

- ``jerks``: movements in the first 60 s of the episode that rise sharply (most of
  their change within 0.12 s) and strongly (>= 40 mg): the kick and the spasms;
- ``onset_sharpness``: how much of the first movement's peak is reached within 0.12 s;
- ``peak_mg``: the strongest movement of the first minute (milli-g);
- ``bed_exit``, ``duration_s``, ``hours_asleep`` (time since sleep onset) are reported
  and may weigh in (a bathroom trip leaves the bed within a minute; a cramp may, later).

Activity counts (:data:`COUNTS`). A wrist actigraph gives one number per epoch; the
verdict can only use how abruptly the episode starts (its first active epoch is its
strongest) and how strong it is. It has not been validated against cramps; treat it
as a hint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Model", "Verdict", "judge", "BED", "COUNTS"]


@dataclass(frozen=True)
class Model:
    """A logistic model: ``score = 1 / (1 + exp(-(bias + sum(w * f))))``.

    Features are clipped to ``clip`` before weighting, so that no single extreme value
    can decide alone. ``notes`` say why each weight has its sign and size.
    """

    bias: float
    weights: dict[str, float]
    clip: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    cramp: bool
    score: float
    features: dict[str, float | bool]


def judge(features: dict[str, float | bool], model: Model) -> Verdict:
    """Score one episode's features with ``model``."""
    z = model.bias
    for name, w in model.weights.items():
        v = float(features.get(name, 0.0))
        if not math.isfinite(v):
            v = 0.0
        lo, hi = model.clip.get(name, (-math.inf, math.inf))
        z += w * min(max(v, lo), hi)
    score = 1.0 / (1.0 + math.exp(-z))
    return Verdict(cramp=score >= 0.5, score=round(score, 3), features=dict(features))


BED = Model(
    bias=-2.5,
    weights={"jerks": 1.6, "onset_sharpness": 1.5, "log_peak": 0.8},
    clip={"jerks": (0.0, 4.0), "onset_sharpness": (0.0, 1.0), "log_peak": (-1.0, 1.5)},
    notes={
        "jerks": "kick and spasms: sharp, strong movements in the first minute",
        "onset_sharpness": "a cramp strikes; a turnover builds up over a second or two",
        "log_peak": "log10(peak_mg / 100): the kick is the strongest movement of the night",
    },
)

COUNTS = Model(
    bias=-2.0,
    weights={"onset_is_peak": 1.5, "log_peak": 1.0},
    clip={"onset_is_peak": (0.0, 1.0), "log_peak": (-1.0, 1.5)},
    notes={
        "onset_is_peak": "1 when the episode's first active epoch is its strongest",
        "log_peak": "log10(peak count / 300): an unvalidated guess at a kick's strength",
    },
)
