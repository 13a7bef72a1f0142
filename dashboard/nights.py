"""Nights from stored events: the sleep period, wake-ups, cramps and the person's labels.

A night is named by its evening and runs noon to noon. The person's ``cramp`` events
(:class:`vocabulary.events.CrampLog`) label the wake-ups as :func:`device.labels.apply_labels`
says (the one rule, which the insights, the reminders and MQTT use too): the latest
label wins over the detector's verdict, and a confirmed cramp that labels no wake-up is
a cramp of its own (pressed or added when the detector saw no wake-up).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dashboard.localtime import clock, night_bounds, night_of
from device.labels import apply_labels

AXES = ((time(20), 14, 2), (time(18), 18, 3), (time(12), 24, 4))  # start, hours, tick step
MOVEMENT_BINS = 280
EVENING_S = 8 * 3600.0


def sureness(sleep: dict) -> str | None:
    """How sure the night's analysis is, in words, from its evidence and signal quality."""
    evidence = sleep.get("evidence")
    quality = sleep.get("quality") or {}
    coverage = quality.get("coverage")
    gaps = f"; {100 * (1 - coverage):.0f} % of the night's readings were lost" if coverage is not None \
        and coverage < 0.97 else ""
    if evidence == "breathing+movement":
        return f"clear: breathing and movement were both measured{gaps}"
    if evidence == "movement":
        return ("from movement alone (breathing did not reach the sensor): the times of falling asleep and "
                f"getting up may be off, as with a wrist actigraph{gaps}")
    if evidence == "counts":
        return "from activity counts"
    return None


def newest_night(store, now: float, tz: ZoneInfo) -> date:
    """The newest night to show: tonight from 20:00, or earlier once it has a sleep period.

    Before 20:00 tonight is usually empty and last night is what people look for; but a
    nap that was a sleep period, or a demo's ten-minute nights, belong to tonight (a
    night runs noon to noon) and must not be hidden until the evening.
    """
    tonight = night_of(now, tz)
    if next(store.events(types=["sleep"], since=night_bounds(tonight, tz)[0], until=now + 1), None) is not None:
        return tonight
    return night_of(now - EVENING_S, tz)


def nights(store, tz: ZoneInfo, last: date, count: int, *, epochs=None, timeline: bool = True) -> list[dict]:
    """The ``count`` nights up to the one of ``last``, newest first (with their drawing if ``timeline``)."""
    first = last - timedelta(days=count - 1)
    since, until = night_bounds(first, tz)[0], night_bounds(last, tz)[1]
    by_night: dict[date, dict] = {}
    for k in range(count):
        d = first + timedelta(days=k)
        by_night[d] = {"date": d.isoformat(), "label": d.strftime("%a %d %b"), "sleep": None, "wakes": [], "cramps": []}
    stored_wakes = []
    for e in store.events(types=["sleep", "wake"], since=since, until=until):
        night = by_night.get(night_of(e["start"], tz))
        if night is None:
            continue
        if e["type"] == "sleep":
            night["sleep"] = _span(e, tz) | {"hours": round((e["end"] - e["start"]) / 3600, 1),
                                     "evidence": e.get("evidence"), "quality": e.get("quality"),
                                     "sureness": sureness(e)}
        else:
            stored_wakes.append(e)
    labelled, alone = apply_labels(stored_wakes, store.events(types=["cramp"], since=since))  # labels come later
    for e in labelled:
        by_night[night_of(e["start"], tz)]["wakes"].append(_span(e, tz) | {
            "id": e["id"], "minutes": max(1, round((e["end"] - e["start"]) / 60)), "bed_exit": e["bed_exit"],
            "detector": e["cramp"], "score": e["score"], "label": e["cramp_label"],
            "labelled_at": e["cramp_label_t"], "label_source": e["cramp_label_source"], "cramp": e["cramp_final"]})
    for e in alone:
        night = by_night.get(night_of(e["t"], tz)) if e["t"] < until else None
        if night is not None:
            night["cramps"].append({"id": e["id"], "t": e["t"], "time": clock(e["t"], tz), "source": e.get("source")})
    for night in by_night.values():
        night["wake_count"] = len(night["wakes"])
        night["cramp_count"] = sum(w["cramp"] for w in night["wakes"]) + len(night["cramps"])
        night["recorded"] = bool(night["sleep"] or night["wakes"] or night["cramps"])
        if timeline:
            night["timeline"] = _timeline(night, tz, epochs)
    return sorted(by_night.values(), key=lambda n: n["date"], reverse=True)


def _span(e: dict, tz: ZoneInfo) -> dict:
    return {"start": e["start"], "end": e["end"], "from": clock(e["start"], tz), "to": clock(e["end"], tz)}


def doctor_flag(store, config, now: float) -> dict:
    """The doctor flag: :func:`device.insights.analysis.doctor_flag_at`, the one evaluation that the
    Insights page, the report and the MQTT state (and its Home Assistant entity) use too.

    It looks at the configured number of nights up to last night, whichever page of
    nights is on the screen; its ``message`` is the plain word (never a diagnosis).
    """
    from device.insights.analysis import doctor_flag_at

    return doctor_flag_at(store, config, now)


def _axis(night: dict, tz: ZoneInfo) -> tuple[float, float, list[str]]:
    """The night's fixed evening-to-morning axis (the first of :data:`AXES` that holds all its
    times): its start and end (Unix s) and the hour labels of its ticks."""
    d = date.fromisoformat(night["date"])
    times = [x for w in night["wakes"] for x in (w["start"], w["end"])] + [c["t"] for c in night["cramps"]]
    if night["sleep"]:
        times += [night["sleep"]["start"], night["sleep"]["end"]]
    for start, hours, step in AXES:
        a = datetime.combine(d, start, tz).timestamp()
        b = a + hours * 3600.0
        if all(a <= x <= b for x in times):
            break
    ticks = [(datetime.combine(d, start, tz) + timedelta(hours=h)).strftime("%H") for h in range(0, hours + 1, step)]
    return a, b, ticks


def movement(epochs, a: float, b: float, bins: int) -> list[tuple[float, float]]:
    """The movement from ``a`` to ``b`` in at most ``bins`` equal slices: each slice's middle and
    its busiest epoch (a wake-up's burst survives the downsampling), empty slices left out.

    ``epochs(a, b)`` gives ``(t, activity)`` pairs (:mod:`dashboard.services`); missing or
    NaN activity counts as no epoch.

    >>> movement(lambda a, b: [(0.0, 1.0), (10.0, 5.0), (60.0, 2.0)], 0.0, 100.0, 4)
    [(12.5, 5.0), (62.5, 2.0)]
    """
    slices: dict[int, float] = {}
    for t, c in epochs(a, b):
        if c is not None and c == c and a <= t < b:
            k = min(bins - 1, int((t - a) / (b - a) * bins))
            slices[k] = max(slices.get(k, 0.0), float(c))
    return [(a + (k + 0.5) * (b - a) / bins, c) for k, c in sorted(slices.items())]


def movement_view(store, tz: ZoneInfo, night: date, epochs, points: int) -> dict:
    """One night's movement, downsampled to at most ``points`` (:func:`movement`), on its axis,
    with its sleep period, wake-ups and cramps (:func:`nights`): the JSON API's night chart."""
    n = nights(store, tz, night, 1, timeline=False)[0]
    a, b, _ = _axis(n, tz)
    trace = movement(epochs, a, b, points) if epochs is not None else []
    sleep = n["sleep"]
    return {"night": n["date"], "label": n["label"], "tz": str(tz), "start": a, "end": b,
            "movement": epochs is not None, "points": [[round(t, 1), round(c, 4)] for t, c in trace],
            "sleep": None if sleep is None else {"start": sleep["start"], "end": sleep["end"]},
            "wakes": [{k: w[k] for k in ("id", "start", "end", "from", "to", "bed_exit", "cramp")} for w in n["wakes"]],
            "cramps": [{"id": c["id"], "t": c["t"], "time": c["time"]} for c in n["cramps"]]}


def _timeline(night: dict, tz: ZoneInfo, epochs) -> dict:
    """Positions (0-1000) of the night's parts on a fixed evening-to-morning axis."""
    a, b, ticks = _axis(night, tz)

    def x(t):
        return round(min(1000.0, max(0.0, (t - a) / (b - a) * 1000.0)), 1)

    out = {"ticks": ticks, "grid": [round(k * 1000 / (len(ticks) - 1), 1) for k in range(1, len(ticks) - 1)],
           "sleep": None, "wakes": [], "cramps": [], "movement": None}
    if night["sleep"]:
        out["sleep"] = (x(night["sleep"]["start"]), x(night["sleep"]["end"]))
    for w in night["wakes"]:
        x0 = x(w["start"])
        out["wakes"].append({"x": x0, "w": max(6.0, x(w["end"]) - x0), "cramp": w["cramp"], "exit": w["bed_exit"],
                             "title": f"{w['from']}-{w['to']} awake{' (cramp)' if w['cramp'] else ''}"})
    out["cramps"] = [{"x": x(c["t"]), "title": f"{c['time']} cramp"} for c in night["cramps"]]
    trace = movement(epochs, a, b, MOVEMENT_BINS) if epochs is not None else []  # at most MOVEMENT_BINS points
    if trace:
        peak = max(c for _, c in trace) or 1.0
        out["movement"] = " ".join(f"{x(t)},{round(62 - 22 * min(1.0, c / peak), 1)}" for t, c in trace)
    return out
