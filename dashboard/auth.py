"""Logging in and out (only when a dashboard password is set)."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Only ever redirect to a path on this dashboard."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.today")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a correct password starts a session, wrong ones are rate-limited."""
    passwords = current_app.extensions["crampwatch.passwords"]
    limit = current_app.extensions["crampwatch.login_limit"]
    if not passwords.is_set:
        return redirect(url_for("pages.today"))
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None)
    client = request.remote_addr or "?"
    wait = limit.retry_after(client)
    if wait:
        message = f"Too many attempts. Try again in {wait} s."
        return render_template("login.html", next=target, error=message), 429, {"Retry-After": str(wait)}
    if not passwords.verify(request.form.get("password", "")):
        limit.fail(client)
        log.warning("dashboard: failed login from %s", client)
        return render_template("login.html", next=target, error="That password is not right."), 401
    limit.succeed(client)
    session.clear()
    session.permanent = True
    session["auth"] = passwords.fingerprint()
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("dashboard: login from %s", client)
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session."""
    session.clear()
    return redirect(url_for("auth.login"))
