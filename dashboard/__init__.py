"""The local web dashboard: a Flask app factory, blueprints per area, services injected.

>>> from device.storage.store import Store
>>> app = create_app(store=Store(":memory:"))
>>> app.test_client().get("/api/v1/today").status_code
200
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, url_for

from dashboard.secret_key import SECRET_KEY_SETTING, secret_key  # noqa: F401  (the setting name: re-exported)
from device.actions import Actions
from device.config import Config
from device.health import Health
from device.storage.store import Store


def create_app(config: Config | None = None, *, store: Store | None = None, health: Health | None = None,
               scale=None, reminders=None, epochs=None, actions=None, clock=time.time,
               test_config: dict | None = None) -> Flask:
    """Build the dashboard for a daemon's parts (see :mod:`dashboard.services`).

    ``test_config`` overrides Flask settings and these: ``PASSWORD_HASH`` (instead of
    the password file), ``LOGIN_LIMIT`` (login attempts per client per 5 minutes),
    ``ALLOWED_HOSTS`` (more host names to answer to), ``LIVE`` (keyword arguments of
    :class:`dashboard.live.LiveHub`), ``DOWNLOAD_LIMIT`` (downloads per client per 5 minutes).
    """
    from dashboard import api, auth, data, errors, insights, pages, security
    from dashboard.calibration import CalibrationWizard
    from dashboard.intake import Totals
    from dashboard.live import LiveHub
    from dashboard.passwords import PasswordCheck, password_path
    from dashboard.ratelimit import AttemptLimit
    from dashboard.services import Services, package_version
    from device.settings import SettingsService

    config = config or Config()
    if store is None:
        store = Store(":memory:" if config.device.data_dir == ":memory:" else config.data_path)
    app = Flask(__name__)
    secret = secret_key(store)  # its own 0600 file beside the database (dashboard.secret_key)
    app.config.from_mapping(
        SECRET_KEY=secret, SESSION_COOKIE_NAME="crampwatch_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(days=30),
        MAX_CONTENT_LENGTH=64 * 1024, SEND_FILE_MAX_AGE_DEFAULT=7 * 86400, LOGIN_LIMIT=5, LIVE={})
    app.config.update(test_config or {})

    svc = Services(config=config, store=store, health=health or Health(), scale=scale, reminders=reminders,
                   actions=actions, epochs=epochs, clock=clock, version=package_version())
    if actions is None:  # a dashboard on its own: the actions over the parts it was given
        svc.actions = Actions(store, clock=lambda: svc.clock(), reminders=lambda: svc.reminders,
                              config=lambda: svc.effective)
    svc.extras["settings"] = SettingsService(config, store)
    svc.extras["totals"] = Totals(store)
    svc.extras["wizard"] = CalibrationWizard(store, scale)
    svc.extras["live"] = LiveHub(store, **app.config["LIVE"])
    app.extensions["crampwatch"] = svc
    passwords = PasswordCheck(password_path(config), fixed_hash=app.config.get("PASSWORD_HASH"))
    app.extensions["crampwatch.passwords"] = passwords
    app.extensions["crampwatch.login_limit"] = AttemptLimit(per_client=app.config["LOGIN_LIMIT"])
    app.extensions["crampwatch.nav"] = list(pages.NAV)

    errors.init_app(app)
    security.init_app(app, passwords)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    insights.init_app(app)  # the Insights page and /api/v1/insights, nav entry after Nights
    data.init_app(app)  # downloads: the report, CSV and JSON lines exports, a backup (on the Health page)
    _template_helpers(app, svc)
    return app


def register_nav(app: Flask, endpoint: str, label: str, *, after: str | None = None) -> None:
    """Add a page to the navigation (after ``after``'s entry, else at the end)."""
    nav = app.extensions["crampwatch.nav"]
    names = [e for e, _ in nav]
    nav.insert(names.index(after) + 1 if after in names else len(nav), (endpoint, label))


def _template_helpers(app: Flask, svc) -> None:
    @app.context_processor
    def helpers():
        return {"nav": app.extensions["crampwatch.nav"], "version": svc.version,
                "asset": lambda path: url_for("static", filename=path, v=svc.version),
                "overall": svc.health.overall}

    @app.template_filter("ml")
    def ml(value) -> str:
        return "–" if value is None else f"{round(value):,}\u202fmL".replace(",", "\u202f")

    @app.template_filter("bytes")
    def size(value) -> str:
        if value is None:
            return "–"
        for unit in ("B", "kB", "MB", "GB"):
            if value < 1024 or unit == "GB":
                return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
            value /= 1024
