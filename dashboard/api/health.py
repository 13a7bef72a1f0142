"""Health of sensors, MQTT, storage and the version."""

from __future__ import annotations

from flask import jsonify

from dashboard import state
from dashboard.api import bp
from dashboard.services import services


@bp.get("/health")
def health():
    """Every component's state and the storage's size."""
    return jsonify(state.health(services()))
