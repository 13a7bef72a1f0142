"""Drinks not from the bottle, corrections of stored drinks, and the daily factors.

Each change is an action of :mod:`device.actions` (``log_drink``, ``correct_drink``,
``delete_drink``, ``set_factors``) from the ``dashboard`` surface, with its checks and
its rate limit (a 429 with Retry-After); a refused value is a 400 naming the field.
Bodies are strict: a key the route does not know is a 400 naming it.
"""

from __future__ import annotations

from datetime import date

from flask import jsonify

from dashboard import intake
from dashboard.api import bp, date_arg, json_body
from dashboard.errors import bad_field
from dashboard.services import services
from device.drinks import apply_changes
from device.factors import FACTORS

DRINK_KEYS = {"ml", "kind", "t"}
CORRECTION_KEYS = {"ml", "kind"}


def _body(allowed: set[str]) -> dict:
    """The JSON object of the request, with no key outside ``allowed`` and no null (leave a key out instead)."""
    data = json_body()
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise bad_field(unknown[0][:40], f"unknown; allowed: {', '.join(sorted(allowed))}")
    for key, value in data.items():
        if value is None:
            raise bad_field(key, "must not be null (leave it out instead)")
    return data


@bp.post("/drinks")
def log_drink():
    """Log a drink not from the bottle: ``{"ml": 250, "kind": "tea"}`` now, or at ``t`` (the same
    ``t`` again is the same drink: 200 instead of 201)."""
    svc = services()
    data = _body(DRINK_KEYS)
    if "ml" not in data:
        raise bad_field("ml", "is required (a number of mL)")
    event, created = svc.actions.log_drink(data["ml"], data.get("kind", "water"), data.get("t"), source="dashboard")
    drink = apply_changes([{"id": event.id, **event.to_dict()}], [])[0]
    return jsonify(intake.drink_view(drink, svc.effective.tz) | {"created": created}), 201 if created else 200


@bp.patch("/drinks/<drink_id>")
def correct_drink(drink_id: str):
    """Correct a stored drink (bottle or by hand): ``{"ml": 180}``, ``{"kind": "coffee"}`` or both."""
    svc = services()
    data = _body(CORRECTION_KEYS)
    drink, changed = svc.actions.correct_drink(drink_id, data.get("ml"), data.get("kind"), source="dashboard")
    return jsonify(intake.drink_view(drink, svc.effective.tz) | {"changed": changed})


@bp.delete("/drinks/<drink_id>")
def delete_drink(drink_id: str):
    """Delete a stored drink; it stays in the store, left out of every total."""
    svc = services()
    drink, changed = svc.actions.delete_drink(drink_id, source="dashboard")
    return jsonify(intake.drink_view(drink, svc.effective.tz) | {"deleted": True, "changed": changed})


@bp.get("/factors")
def get_factors():
    """A day's factors (``day``, today by default) and its electrolyte drinks; null where never set."""
    svc = services()
    day = date_arg("day", svc.actions.today())
    return jsonify(intake.day_factors(svc.store, svc.effective, day) | {"today": svc.actions.today().isoformat()})


@bp.patch("/factors")
def set_factors():
    """Record factors for a day: ``{"day": "2026-12-07", "exercise": "hard", ...}`` (today without ``day``)."""
    svc = services()
    data = _body({"day", *FACTORS})
    values = {k: v for k, v in data.items() if k != "day"}
    view, changed = svc.actions.set_factors(values, data.get("day"), source="dashboard")
    day = intake.day_factors(svc.store, svc.effective, date.fromisoformat(view["day"]))
    return jsonify(day | {"today": svc.actions.today().isoformat(), "changed": changed})
