"""The calibration wizard's steps: tare, known weight, empty bottle."""

from __future__ import annotations

from flask import jsonify, request

from dashboard.api import boolean, bp, json_body, number
from dashboard.calibration import WizardError
from dashboard.errors import ApiError
from dashboard.services import services

MAX_KNOWN_G = 50_000


def _wizard():
    return services().extras["wizard"]


def _run(step, *args):
    try:
        return jsonify(step(*args))
    except WizardError as exc:
        raise ApiError(exc.status, str(exc), {exc.field: str(exc)} if exc.field else None) from None


@bp.get("/calibration")
def calibration_state():
    """The current calibration and the wizard's step."""
    return jsonify(_wizard().state())


@bp.post("/calibration/tare")
def calibration_tare():
    """Step 1: nothing is on the scale; read its zero."""
    return _run(_wizard().tare)


@bp.post("/calibration/known")
def calibration_known():
    """Step 2: ``{"grams": N}`` is on the scale; read the scale factor."""
    grams = number(json_body(), "grams", lo=1, hi=MAX_KNOWN_G)
    return _run(_wizard().known, float(grams))


@bp.post("/calibration/empty")
def calibration_empty():
    """Step 3: the empty bottle is on the scale (or ``{"skip": true}``); save."""
    skip = boolean(json_body(), "skip", default=False) if request.content_length else False
    return _run(_wizard().empty, skip)


@bp.post("/calibration/reset")
def calibration_reset():
    """Start the wizard again (the saved calibration stays)."""
    _wizard().reset()
    return jsonify(_wizard().state())
