"""Who may do what: login sessions, CSRF tokens, the Host check and security headers.

- With a password set, every page and API call but the login page, static files and
  the OpenAPI document needs a logged-in session; the session remembers a fingerprint
  of the password hash, so changing the password logs everyone out.
- Without one the dashboard only listens on loopback (the daemon refuses anything
  else) and only answers requests whose Host is a loopback name, which stops DNS
  rebinding from turning a web page into a remote control.
- Every change of state (POST, PUT, PATCH, DELETE) carries the session's CSRF token in
  the ``X-CSRF-Token`` header or a ``csrf_token`` form field, and a foreign ``Origin``
  is refused.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, redirect, request, session, url_for

from dashboard.errors import ApiError, wants_json

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN_ENDPOINTS = {"auth.login", "static", "api.openapi"}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def logged_in(passwords) -> bool:
    """True with a valid session, or always when no password is set (loopback only)."""
    if not passwords.is_set:
        return True
    return hmac.compare_digest(session.get("auth", ""), passwords.fingerprint())


def init_app(app: Flask, passwords) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["password_set"] = lambda: passwords.is_set

    @app.before_request
    def guard():
        if not passwords.is_set and not _loopback_host(app):
            raise ApiError(400, "this dashboard answers only on localhost until a password is set "
                                "(crampwatch set-password)")
        if request.endpoint not in OPEN_ENDPOINTS and not logged_in(passwords):
            if wants_json() or request.method not in SAFE_METHODS:
                raise ApiError(401, "log in first", headers={"WWW-Authenticate": 'Session realm="crampwatch"'})
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.method not in SAFE_METHODS:
            _check_csrf()
        return None

    @app.after_request
    def headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _loopback_host(app: Flask) -> bool:
    host = urlsplit("//" + request.host).hostname or ""
    return host in LOOPBACK_NAMES or host in app.config.get("ALLOWED_HOSTS", ())


def _check_csrf() -> None:
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise ApiError(403, f"cross-site request refused (Origin {origin})")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise ApiError(403, "missing or stale CSRF token; reload the page")
