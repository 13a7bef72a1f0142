"""The bottle detector's state machine: where the bottle is, and what changed.

It walks the rests and unrest gaps that :class:`sensors.bottle_detector.BottleDetector`
cuts the filtered readings into. Modes: ``unknown`` (nothing seen yet), ``present``
(the bottle rests on the scale at ``base``), ``away`` (the scale reads its zero; the
bottle weighed ``before`` when it left) and ``returned`` (a load is back; its volume is
measured once it has settled, then the event is emitted).

- A rest near the zero, or a gap that reads the zero for ``lift_min_s``, is a lift.
- The first loaded rest after a lift is the bottle back; its rest start is the event's
  ``t``. A lower rest soon after means a hand was still on it: the rest starts there.
- Rests above or below the bottle without a lift (a phone on the cap, a push) are
  ignored unless they last ``persist_s`` (``lower_persist_s`` for a lower one: only
  what rested on the bottle can come off it without a lift).
- A light load that leaves the empty scale again soon, well after the lift, is taken
  for keys on the coaster; when the bottle is back it is judged again, and if it was not
  much lighter than the bottle it was the bottle, put down and picked up again.
- Zero drift while the bottle was away (zero read at the start and end of the away
  time) corrects the volume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vocabulary.events import Drink, Refill

if TYPE_CHECKING:
    from sensors.bottle_detector import BottleParams

__all__ = ["LiftTracker"]


class LiftTracker:
    """The state machine over rest pieces and unrest gaps.

    ``piece`` gets each piece of a rest (its level, end time and the time the rest
    began), ``gap`` each stretch of unrest; events collect in ``events``.
    """

    def __init__(self, p: BottleParams, density: float):
        self.p = p
        self.density = density
        self.events: list = []
        self.min_empty = 2  # readings at the zero that make a gap a lift (set per rate)
        self.mode = "unknown"  # unknown | present | away | returned
        self.zero = p.initial_zero_g
        self.base: float | None = None  # bottle level on the scale (raw reading)
        self.before: float | None = None  # bottle level before the current lift
        self.rest_t = 0.0  # when the returned bottle came to rest
        self.base_seen = 0.0  # how long the returned bottle has been seen at base since
        self.away_t0 = 0.0
        self.zero_first: float | None = None
        self.zero_first_final = False
        self.zero_last: float | None = None
        self.alt_level: float | None = None  # a different level without a lift ...
        self.alt_t0 = 0.0  # ... since when
        self.lightest: float | None = None  # lightest settled bottle seen (zero removed)
        # loads taken for objects on the empty scale during this lift: (level, rest t, zero)
        self.ghosts: list[tuple[float, float, float | None]] = []

    # -- inputs ---------------------------------------------------------------------
    def piece(self, level: float, t_end: float, rest_t: float) -> None:
        rel = level - self.zero
        if abs(rel) <= self.empty_tol():
            self._empty(level, t_end, rest_t)
        elif rel > 0:
            self._loaded(level, t_end, rest_t)
        # far below the zero: a burst of spikes that outlived the median, or a knock on
        # the platform from below; nothing rests there

    def empty_tol(self) -> float:
        """How far from the tracked zero a reading may be and still be the empty scale."""
        if self.mode in ("present", "returned"):
            bottle = self.base
        elif self.mode == "away" and self.zero_last is None:
            bottle = self.before  # just lifted: the zero is not seen again yet
        else:
            bottle = None
        if bottle is None:
            return self.p.empty_tol_g
        return max(self.p.empty_tol_g, self.p.empty_frac * (bottle - self.zero))

    def gap(self, t0: float, n_empty: int, data_gap: bool) -> None:
        """An unrest stretch from ``t0`` with ``n_empty`` readings at the zero."""
        if self.mode in ("present", "returned") and (data_gap or n_empty >= self.min_empty):
            self._lift(t0)

    def finish(self) -> None:
        if self.mode == "returned":
            self._emit()

    # -- transitions ----------------------------------------------------------------
    def _empty(self, level: float, t_end: float, rest_t: float) -> None:
        if self.mode in ("present", "returned"):
            self._lift(rest_t)
        elif self.mode == "unknown":
            self.mode = "away"
            self.before = None
            self.away_t0 = rest_t
        self.zero = level
        if not self.zero_first_final:
            self.zero_first = level
            self.zero_first_final = t_end >= self.away_t0 + self.p.zero_settle_s
        self.zero_last = level

    def _lift(self, t: float) -> None:
        if self.mode == "returned":
            if self._object(t):
                # something was set on the empty scale and taken off again: still away
                self.mode = "away"
                self.alt_level = None
                self.ghosts.append((self.base, self.rest_t, self.zero_last))
                return
            self._emit()
        self.before = self.base
        self.mode = "away"
        self.away_t0 = t
        self.zero_first = self.zero_last = None
        self.zero_first_final = False
        self.alt_level = None

    def _loaded(self, level: float, t_end: float, rest_t: float) -> None:
        p = self.p
        if self.mode == "unknown":
            self.mode, self.base = "present", level
            self.lightest = level - self.zero
            return
        if self.mode == "away":
            self.mode, self.base, self.rest_t = "returned", level, rest_t
            self.base_seen = t_end - rest_t
            self.alt_level = None
        elif abs(level - self.base) <= p.same_tol_g:
            self.base = level
            self.base_seen = t_end - self.rest_t
            self.alt_level = None
        elif (
            self.mode == "returned"
            and t_end - rest_t >= p.rebase_min_s
            and (level < self.base or self.base_seen < p.brief_rest_s)
        ):
            # the first rest was a hand still on the bottle, pressing it down or holding
            # it up a little (only briefly: a level that held a while was the bottle, and
            # what comes on top of it later is an object): the bottle rests from here
            self.base, self.rest_t = level, rest_t
            self.base_seen = t_end - rest_t
            self.alt_level = None
        else:
            if self.alt_level is None or abs(level - self.alt_level) > p.same_tol_g:
                self.alt_t0 = rest_t
            self.alt_level = level
            hold = p.lower_persist_s if level < self.base else p.persist_s
            if t_end - self.alt_t0 >= hold:
                if self.mode == "returned":
                    self._emit()  # the bottle's own level, from before the object
                self.base = level  # something stays on (or came off) the bottle
                self.alt_level = None
            return
        if self.mode == "returned" and t_end - self.rest_t >= self._wait():
            self._emit()

    def _light(self) -> bool:
        """Could the load that came back be an object rather than the bottle?"""
        if self.rest_t - self.away_t0 < self.p.item_after_s:
            return False
        if self.lightest is None:
            return True
        return self.base - self.zero < self.p.item_frac * self.lightest

    def _object(self, t_lift: float) -> bool:
        """Was the load now lifted again an object on the empty scale?"""
        return self._light() and t_lift - self.rest_t < self.p.confirm_s

    def _wait(self) -> float:
        return max(self.p.settle_s, self.p.confirm_s) if self._light() else self.p.settle_s

    def _emit(self) -> None:
        """The returned bottle has settled (or is lifted again): report the change.

        Loads taken for objects on the empty scale since the lift are judged again now
        that the bottle is back: one not much lighter than the bottle was the bottle,
        put down and picked up again, and gets its own event.
        """
        self.mode = "present"
        if self.base is None:
            return
        weight = self.base - self.zero
        stops = [
            g for g in self.ghosts if g[0] - self.zero >= self.p.item_frac * weight
        ]
        stops.append((self.base, self.rest_t, self.zero_last))
        self.ghosts = []
        level, zero = self.before, self.zero_first
        for lv, t, z in stops:
            w = lv - self.zero
            self.lightest = w if self.lightest is None else min(self.lightest, w)
            if level is not None:
                self._event(level, lv, zero, z, t)
            level, zero = lv, z

    def _event(self, before: float, after: float, z0, z1, t: float) -> None:
        net = before - after
        if z0 is not None and z1 is not None:
            net += z1 - z0  # the zero moved while the bottle was away
        ml = abs(net) / self.density
        if ml < self.p.min_event_ml:
            return
        contents = None
        if self.p.tare_g is not None:
            contents = round((after - self.zero - self.p.tare_g) / self.density, 1)
        cls = Drink if net > 0 else Refill
        self.events.append(cls(t=t, ml=round(ml, 1), contents_ml=contents))
