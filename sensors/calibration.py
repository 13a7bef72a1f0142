"""Scale calibration: raw HX711 counts to grams, and the sums that produce it.

Pure arithmetic. ``grams = (raw - offset) / counts_per_gram``. A load cell mounted
the other way round gives a negative ``counts_per_gram``, which is fine.

>>> cal = Calibration.from_points(tare_counts=8000, loaded_counts=8000 + 430 * 500, known_grams=500)
>>> cal.counts_per_gram
430.0
>>> round(cal.to_grams(8000 + 430 * 123.5), 3)
123.5
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import median

# A 5 kg bar load cell (1 mV/V at 5 V excitation) on an HX711 at gain 128 gives about
# 430 counts per gram; anything under 20 counts/g means the wiring or the known
# weight is wrong (it would resolve worse than 0.1 g per count of noise).
MIN_COUNTS_PER_GRAM = 20.0


@dataclass(frozen=True)
class Calibration:
    """How to turn raw counts into grams on the scale, plus the empty bottle's weight."""

    offset: float = 0.0
    counts_per_gram: float = 430.0
    empty_bottle_g: float | None = None

    def to_grams(self, raw: float) -> float:
        return (raw - self.offset) / self.counts_per_gram

    @classmethod
    def from_points(cls, tare_counts: float, loaded_counts: float, known_grams: float,
                    empty_bottle_g: float | None = None) -> Calibration:
        """Build from a tare reading and a reading with a known weight on the scale."""
        if known_grams <= 0:
            raise ValueError(f"known weight must be positive grams, got {known_grams!r}")
        per_gram = (loaded_counts - tare_counts) / known_grams
        if abs(per_gram) < MIN_COUNTS_PER_GRAM:
            raise ValueError(
                f"the known weight changed the reading by only {loaded_counts - tare_counts:.0f} counts "
                f"({per_gram:.1f} counts/g); check the load cell wiring and that the weight was on the scale")
        return cls(offset=float(tare_counts), counts_per_gram=float(per_gram), empty_bottle_g=empty_bottle_g)

    def with_tare(self, tare_counts: float) -> Calibration:
        """The same scale factor with a new zero."""
        return Calibration(float(tare_counts), self.counts_per_gram, self.empty_bottle_g)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Calibration:
        return cls(**data) if data else cls()


def robust_level(readings: list[float]) -> float:
    """The level of a batch of raw readings, immune to the HX711's occasional spikes."""
    if not readings:
        raise ValueError("no readings")
    return float(median(readings))
