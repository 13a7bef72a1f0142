"""The JSON API under ``/api/v1``: what the pages show, and every change they make.

Errors are JSON ``{"error": "...", "fields": {"name": "..."}}`` with a 4xx status that
names the field at fault (429 with Retry-After for an action asked for too often). The
OpenAPI 3 document is at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import math
from datetime import date

from flask import Blueprint, request

from dashboard.errors import ApiError, bad_field
from device.guards import json_input

bp = Blueprint("api", __name__, url_prefix="/api/v1")
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2100, 12, 31)


def json_body() -> dict:
    """The request's JSON object (a 400 naming the body otherwise: not JSON, NaN, nested too deeply)."""
    if not request.is_json:
        raise ApiError(415, "send JSON (Content-Type: application/json)", {"body": "must be JSON"})
    try:
        data = json_input.loads(request.get_data(cache=True))
    except json_input.BadJson as exc:
        raise ApiError(400, f"the body is {exc}", {"body": f"is {exc}"}) from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", {"body": "must be a JSON object"})
    return data


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_field(name, f"must be a whole number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise bad_field(name, f"must be from {lo} to {hi}")
    return value


def date_arg(name: str, default: date) -> date:
    raw = request.args.get(name)
    return default if raw is None else date_value(name, raw)


def date_value(name: str, raw) -> date:
    """``raw`` as a date from :data:`FIRST_DATE` to :data:`LAST_DATE` (a 400 naming ``name`` otherwise)."""
    try:
        value = date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise bad_field(name, "must be a date like 2026-11-24") from None
    if not FIRST_DATE <= value <= LAST_DATE:
        raise bad_field(name, f"must be from {FIRST_DATE} to {LAST_DATE}")
    return value


def number(data: dict, name: str, *, lo: float | None = None, hi: float | None = None, required: bool = True,
           integer: bool = False):
    """A JSON number field (booleans are not numbers), within bounds."""
    if name not in data:
        if required:
            raise bad_field(name, "is required")
        return None
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise bad_field(name, "must be a number")
    if isinstance(value, float) and not math.isfinite(value):  # JSON's 1e400 parses as inf
        raise bad_field(name, "must be a finite number")
    if integer and value != int(value):
        raise bad_field(name, "must be a whole number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise bad_field(name, f"must be from {lo:g} to {hi:g}")
    return value


def boolean(data: dict, name: str, default: bool | None = None) -> bool:
    if name not in data and default is not None:
        return default
    value = data.get(name)
    if not isinstance(value, bool):
        raise bad_field(name, "must be true or false")
    return value


from dashboard.api import (  # noqa: E402,F401
    calibration, day, drinks, health, nights, openapi, reminders, settings, stream, trends,
)
