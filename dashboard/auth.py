"""Logging in and out (only when a dashboard password is set).

Login attempts are limited per client (``LOGIN_LIMIT`` per 5 minutes): by address,
except that a browser which has logged in before has a budget of its own, so others
failing at its address never lock it out; this machine (loopback) is not limited. An
attempt counts before the password is checked. Logging out ends every session.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from urllib.parse import quote, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from dashboard.security import end_all_sessions, is_loopback_peer, session_generation

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

BUSY_RETRY_S = 5
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


def _safe_next(target: str | None) -> str:
    """Only ever redirect to a path on this dashboard.

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so a target
    with any control character, space or backslash is refused along with ``//host``
    and ``scheme:`` targets; other non-ASCII characters are percent-encoded.
    """
    if (target and target.startswith("/") and not target.startswith("//")
            and not any(c <= " " or c in "\x7f\\" for c in target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return quote(target, safe=_PRINTABLE_ASCII)
    return url_for("pages.today")


def _limit_key() -> str | None:
    """Whose budget a login attempt spends (None: this machine, never limited)."""
    addr = request.remote_addr or "?"
    if is_loopback_peer(addr):
        return None
    browser = session.get("browser")
    return f"browser:{browser}" if isinstance(browser, str) else f"addr:{addr}"


def _form(target: str, error: str | None, status: int = 200, headers: dict | None = None):
    return render_template("login.html", next=target, error=error), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a correct password starts a session, attempts are rate-limited."""
    passwords = current_app.extensions["crampwatch.passwords"]
    limit = current_app.extensions["crampwatch.login_limit"]
    if not passwords.is_set:
        return redirect(url_for("pages.today"))
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return _form(target, None)
    client, key = request.remote_addr or "?", _limit_key()
    wait = limit.begin(key) if key else 0
    if wait:
        return _form(target, f"Too many attempts. Try again in {wait} s.", 429, {"Retry-After": str(wait)})
    try:
        ok = passwords.verify(request.form.get("password", ""))
    except TimeoutError:  # other logins kept the password check busy
        if key:
            limit.cancel(key)
        return _form(target, f"The dashboard is busy checking other logins. Try again in {BUSY_RETRY_S} s.", 429,
                     {"Retry-After": str(BUSY_RETRY_S)})
    if not ok:
        log.warning("dashboard: failed login from %s", client)
        return _form(target, "That password is not right.", 401)
    if key:
        limit.succeed(key)
    _start_session(passwords)
    log.info("dashboard: login from %s", client)
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    """End every session (this browser's and any other's)."""
    browser = session.get("browser")
    session.clear()
    if browser:  # no login: only the key of this browser's own budget of attempts
        session.permanent = True
        session["browser"] = browser
    try:
        end_all_sessions(current_app.extensions["crampwatch"].store)
    except sqlite3.Error as exc:
        log.error("dashboard: logged out here, but could not end other sessions: %s", exc)
    return redirect(url_for("auth.login"))


def _start_session(passwords) -> None:
    browser = session.get("browser")
    session.clear()
    session.permanent = True
    session["auth"] = passwords.fingerprint()
    session["gen"] = session_generation(current_app.extensions["crampwatch"].store)
    session["csrf"] = secrets.token_urlsafe(32)
    session["browser"] = browser if isinstance(browser, str) else secrets.token_urlsafe(16)
