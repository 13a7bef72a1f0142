"""Who may do what: the peer and Host checks, login sessions, CSRF tokens and security headers.

- Every request must name this dashboard in its Host header: a loopback name or
  address, the configured ``dashboard.host``, this machine's host name (also as
  ``<name>.local``) or one of its addresses. This stops DNS rebinding from turning a
  web page into a remote control (or into a password-guessing machine).
- Without a password (no password file, or an empty one) only this machine is
  answered: the peer address itself must be loopback, checked on every request, so
  removing the password of a running daemon closes the dashboard to the network at
  once (403), whatever address it listens on.
- With a password set, every page and API call but the login page, static files and
  the OpenAPI document needs a logged-in session. A session holds a fingerprint of the
  password hash and the session generation kept in the store; a new password changes
  the first, logging out (or ``crampwatch set-password``) increases the second, and
  either ends every session at once, old cookies included.
- Every change of state (POST, PUT, PATCH, DELETE) carries the session's CSRF token in
  the ``X-CSRF-Token`` header or a ``csrf_token`` form field, and a foreign ``Origin``
  is refused.
- No other page may show the dashboard in a frame (clickjacking), except the origins of
  ``dashboard.embed_origins`` (Home Assistant's iframe panel): see :func:`security_headers`.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, redirect, request, session, url_for

from dashboard.errors import ApiError, wants_json

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN_ENDPOINTS = {"auth.login", "static", "api.openapi"}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}
GENERATION_SETTING = "dashboard.session_generation"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors {ancestors}")
HEADERS = {
    "Content-Security-Policy": CSP.format(ancestors="'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def security_headers(embed_origins: Iterable[str] = ()) -> dict[str, str]:
    """The headers of every response. With ``embed_origins`` (validated origins: http or
    https, no wildcards; see :func:`device.config.web_url`) those pages, and only they,
    may frame the dashboard: CSP ``frame-ancestors`` names them, and X-Frame-Options,
    which cannot name an origin (its ALLOW-FROM is gone from browsers), is left out.

    >>> security_headers()["X-Frame-Options"]
    'DENY'
    >>> h = security_headers(["http://homeassistant.local:8123"])
    >>> h["Content-Security-Policy"].endswith("frame-ancestors http://homeassistant.local:8123"), "X-Frame-Options" in h
    (True, False)
    """
    origins = list(embed_origins)
    if not origins:
        return dict(HEADERS)
    headers = {k: v for k, v in HEADERS.items() if k != "X-Frame-Options"}
    headers["Content-Security-Policy"] = CSP.format(ancestors=" ".join(origins))
    return headers


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def session_generation(store) -> int:
    """The current session generation (0 until the first logout or password change)."""
    value = store.get_setting(GENERATION_SETTING, 0)
    return value if type(value) is int else 0


def end_all_sessions(store) -> int:
    """Increase the session generation, ending every session; returns the new one."""
    generation = session_generation(store) + 1
    store.set_setting(GENERATION_SETTING, generation)
    return generation


def logged_in(passwords, store) -> bool:
    """True with a valid session, or always when no password is set (loopback only)."""
    if not passwords.is_set:
        return True
    return (hmac.compare_digest(str(session.get("auth", "")), passwords.fingerprint())
            and session.get("gen", 0) == session_generation(store))


def is_loopback_peer(addr: str | None) -> bool:
    """True if the connection's peer address is this machine's loopback."""
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return False
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


class HostAllowList:
    """The names and addresses this dashboard answers to (see the module docstring)."""

    def __init__(self, configured: Iterable[str] = ()):
        own = socket.gethostname().lower()
        names = {*LOOPBACK_NAMES, own, own.split(".")[0] + ".local", *(h.lower() for h in configured)}
        self.names = {n.strip("[]").rstrip(".") for n in names} - WILDCARD_HOSTS

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this Host header is for us (none or empty: not from a browser)."""
        if not host_header:
            return True
        try:
            host = (urlsplit("//" + host_header).hostname or "").rstrip(".")
        except ValueError:  # e.g. an unclosed "[" bracket
            return False
        return host in self.names or _own_address(host)


def _own_address(host: str) -> bool:
    """True for a loopback address or one this machine has (it can bind to it)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    if ip.is_unspecified or ip.is_multicast:
        return False
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
    except OSError:
        return False
    return True


def init_app(app: Flask, passwords) -> None:
    store = app.extensions["crampwatch"].store
    configured = app.extensions["crampwatch"].config.dashboard.host
    response_headers = security_headers(app.extensions["crampwatch"].config.dashboard.embed_origins)
    hosts = HostAllowList([configured, *app.config.get("ALLOWED_HOSTS", ())])
    app.extensions["crampwatch.hosts"] = hosts
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["password_set"] = lambda: passwords.is_set

    @app.before_request
    def guard():
        host = request.environ.get("HTTP_HOST")
        if not hosts.allows(host):
            raise ApiError(400, f"this dashboard does not answer to the name {host!r} (a guard against DNS "
                                "rebinding): open it by this machine's name or address, or as localhost on the "
                                "machine itself")
        if not passwords.is_set and not is_loopback_peer(request.remote_addr):
            raise ApiError(403, "no dashboard password is set, so the dashboard answers only on this machine; "
                                "set one with `crampwatch set-password` to open it from other devices")
        if request.endpoint not in OPEN_ENDPOINTS and not logged_in(passwords, store):
            if wants_json() or request.method not in SAFE_METHODS:
                raise ApiError(401, "log in first", headers={"WWW-Authenticate": 'Session realm="crampwatch"'})
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.method not in SAFE_METHODS:
            _check_csrf()
        return None

    @app.after_request
    def headers(response):
        for name, value in response_headers.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _check_csrf() -> None:
    origin = request.headers.get("Origin")
    if origin and origin != "null" and _netloc(origin) != request.host:
        raise ApiError(403, f"cross-site request refused (Origin {origin})")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), str(expected).encode()):
        raise ApiError(403, "missing or stale CSRF token; reload the page")


def _netloc(url: str) -> str | None:
    try:
        return urlsplit(url).netloc
    except ValueError:  # a malformed Origin is a foreign one
        return None
