"""Errors as clear JSON for the API (naming the field at fault) and as pages for people."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from device.actions import ActionRefused, RateLimited

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the API refuses: an HTTP status, a sentence, and the fields at fault."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None, *,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.fields, self.headers = status, message, fields or {}, headers or {}

    def body(self) -> dict:
        out = {"error": self.message}
        if self.fields:
            out["fields"] = self.fields
        return out


def bad_field(name: str, message: str, status: int = 400) -> ApiError:
    """A 4xx naming one field: ``{"error": "goal_ml: must be ...", "fields": {...}}``."""
    return ApiError(status, f"{name}: {message}", {name: message})


def wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        if not wants_json():
            return render_template("error.html", status=exc.status, message=exc.message), exc.status, exc.headers
        return jsonify(exc.body()), exc.status, exc.headers

    @app.errorhandler(ActionRefused)
    def action_refused(exc: ActionRefused):  # the action layer's refusal, with its status and field
        fields = {exc.field: str(exc).split(": ", 1)[-1]} if exc.field else None
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return api_error(ApiError(exc.status, str(exc), fields, headers=headers))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        headers = dict(exc.get_headers()) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        if wants_json():
            return jsonify({"error": f"{exc.name}: {message}"}), exc.code, headers
        return render_template("error.html", status=exc.code, message=message), exc.code, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("dashboard error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify({"error": "internal error; see the crampwatch log"}), 500
        return render_template("error.html", status=500, message="Something went wrong; see the crampwatch log."), 500
