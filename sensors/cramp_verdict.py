"""Layer 3 of the night analysis: a wake episode's features to a cramp verdict and score.

No black box: the score is a logistic function of a handful of features a person can
read, with hand-set coefficients listed below with their reasons. The verdict is
``score >= 0.5``. The features travel with the wake in its JSON (``"features"``), so a
user who disagrees can see why.

Bed sensor (:data:`BED`). A leg cramp strikes: the calf or foot contracts within a
fraction of a second and the leg kicks, spasms follow, and the sleeper stretches and
flexes the foot without pause for minutes, in bed or walking it off. A bathroom trip
starts with a turn or two and then the bed is left; a restless spell is turns and
adjustments every few seconds to tens of seconds. So the score weighs:

- ``moving_first_min``: the share of the episode's first minute with movement (cramps
  mostly 0.4-0.65 on simulated nights, bathroom trips and restless spells 0.12-0.4);
- ``moving_3_min``: the same share over the first three minutes (a cramp is stretched
  and flexed without pause; a bathroom trip walks off and lies still again);
- ``log_ring_rel``: log10 of the strongest ringing of the frame in the first minute
  (``max_ring_mg``: the rms above the noise of what changes within 0.1 s, which a kick
  or a spasm excites and a turnover does not) over ``ref_mg``, the median peak swing
  of the night's movement bouts: beds carry movement ten times better or worse, so the
  ringing is judged against the night's own turnovers;
- ``onset_share``: how much of the first minute's strongest swing the first 3 s reach
  (a cramp strikes at once; a bathroom trip starts with a turn or two).

Also reported, not weighed: ``log_ring`` (the ringing over a fixed 100 mg), ``ring_s`` (seconds of that minute ringing over 8 mg),
``max_jump_mg`` (the fastest change between 0.1 s means), ``peak_mg`` (strongest
swing), ``bed_exit``,
``to_exit_s`` (seconds from the first movement to leaving the bed, when seen),
``duration_s``, ``hours_asleep`` (since sleep onset).

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
    # fitted (logistic, lightly regularised, then rounded) on the matched wakes of
    # tuning seeds 0-399 of the domain-randomized nights (simulator.night_physics:
    # coupling, noise, rate and movement scale drawn per night); F1 0.93 on those 623
    # wakes (fitted on 0-199 alone, 0.96 on 200-399). The ringing is taken against the
    # night's own movements (log_ring_rel), so that a bed that carries movement three
    # times as well does not make every wake a cramp, nor a soft one none.
    bias=-6.3,
    weights={"moving_first_min": 4.2, "moving_3_min": 9.9, "log_ring_rel": 6.3, "onset_share": 1.7},
    clip={"moving_first_min": (0.0, 1.0), "moving_3_min": (0.0, 1.0), "log_ring_rel": (-1.5, 1.5),
          "onset_share": (0.0, 1.0)},
    notes={
        "moving_first_min": "a cramp keeps the leg moving: stretching, flexing, shaking",
        "moving_3_min": "...for minutes, while a bathroom trip or a restless spell has pauses",
        "log_ring_rel": "log10(max_ring_mg / ref_mg): a kick and spasms make the frame ring, turning over "
                        "does not; ref_mg is the night's median movement peak (how well this bed carries movement)",
        "onset_share": "a cramp strikes: its strongest swing comes in the first seconds",
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
