"""Settings: read every section, change some, validated like the configuration file."""

from __future__ import annotations

from flask import jsonify

from dashboard.api import bp, json_body
from dashboard.errors import ApiError
from dashboard.services import services
from device.actions import GOAL_SETTING
from device.settings import SettingsError


@bp.get("/settings")
def get_settings():
    """Every section and setting: schema, effective value, file value, overridden or not."""
    svc = services()
    return jsonify({"sections": svc.settings.describe(svc.health)})


@bp.patch("/settings")
def patch_settings():
    """Change settings: ``{"section": {"key": value}}``; saved durably as overrides.

    ``hydration.goal_ml`` is the goal action's (rate-limited: a 429 with Retry-After).
    """
    svc = services()
    # the goal is the goal action's, as from MQTT: its range check and rate limit
    live = {GOAL_SETTING: lambda ml: svc.actions.set_goal(ml, source="dashboard")}
    try:
        svc.settings.update(json_body(), live=live)
    except SettingsError as exc:
        raise ApiError(400, f"invalid settings: {exc}", exc.fields) from None
    return jsonify({"sections": svc.settings.describe(svc.health)})
