"""Serving the dashboard with waitress in a background thread of the daemon.

>>> from device.storage.store import Store
>>> from dashboard import create_app
>>> server = DashboardServer(create_app(store=Store(":memory:")), "127.0.0.1", 0)
>>> server.start(); server.url.startswith("http://127.0.0.1:")
True
>>> server.stop(); server.stop()  # idempotent
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

from vocabulary.errors import ConfigError

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to them (``localhost``)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_bind(host: str, password_set: bool) -> None:
    """Refuse to serve beyond this machine without a password (ConfigError says what to do)."""
    if not password_set and not is_loopback(host):
        raise ConfigError(
            f"dashboard.host = {host!r} would let anyone on the network see your health data, and no dashboard "
            "password is set. Run `crampwatch set-password` first, or keep dashboard.host = '127.0.0.1'.")


def _probe(host: str, port: int) -> None:
    """Raise OSError now if ``host:port`` cannot be bound (as waitress binds it)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host.strip("[]"), port))


class DashboardServer:
    """A waitress server for ``app`` on ``host:port`` in its own thread (``port`` 0: any free port)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, *, threads: int | None = None):
        self.app, self.host, self.port = app, host, port
        hub = app.extensions["crampwatch"].extras["live"]
        # Each live stream holds a thread; keep some for pages and API calls.
        self.threads = threads or hub.max_streams + 4
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if host in ("0.0.0.0", "[::]"):
            host = socket.gethostname()
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind (raises OSError if the port is taken) and serve in a background thread."""
        from waitress.server import create_server

        _probe(self.host, self.port)  # waitress leaks its sockets when its own bind fails
        self._server = create_server(self.app, host=self.host, port=self.port, threads=self.threads,
                                     ident="crampwatch", clear_untrusted_proxy_headers=True,
                                     # a TLS proxy on this machine (docs/reverse-proxy.md) says
                                     # who its client is: that address, not loopback, is the
                                     # peer the access rules and the login limit see
                                     trusted_proxy="127.0.0.1", trusted_proxy_count=1,
                                     trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
                                     channel_timeout=60, connection_limit=64,
                                     # keep reading while a request runs, so a live stream
                                     # learns at once that its browser went away
                                     channel_request_lookahead=1)
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._serve, args=(self._server,), name="dashboard", daemon=True)
        self._thread.start()
        log.info("dashboard at %s", self.url)

    @staticmethod
    def _serve(server) -> None:
        try:
            server.run()
        except Exception:  # the loop died: say so (the daemon's health shows the dashboard gone)
            log.exception("dashboard: the server loop stopped")
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """End live streams, close every connection and join the thread; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self.app.extensions["crampwatch"].extras["live"].close()
        from waitress import wasyncore

        server.task_dispatcher.shutdown(timeout=timeout)
        done = threading.Event()

        def close_all():  # runs in the server's own loop thread
            wasyncore.close_all(server._map)
            done.set()

        loop_alive = self._thread is not None and self._thread.is_alive()
        try:
            server.trigger.pull_trigger(close_all)
        except OSError:  # the loop's wake-up pipe is already closed
            loop_alive = False
        if not (loop_alive and done.wait(timeout)):
            wasyncore.close_all(server._map)
        if self._thread is not None:
            self._thread.join(timeout)


def for_daemon(daemon) -> DashboardServer | None:
    """The dashboard of a running :class:`device.daemon.Daemon` (its store, health, scale,
    reminders), bound as configured; None if it is disabled or its port is taken.

    Raises ConfigError when the host is not loopback and no password is set.
    """
    from dashboard import create_app
    from dashboard.passwords import PasswordCheck, password_path
    from dashboard.scale import WorkerScale

    config, health = daemon.config, daemon.health
    section = config.dashboard
    if not section.enabled:
        health.set("dashboard", "off", "disabled in the configuration")
        return None
    check_bind(section.host, PasswordCheck(password_path(config)).is_set)
    scale = None
    worker = getattr(daemon, "bottle", None)
    if worker is not None:
        scale = WorkerScale(worker, lambda: worker.calibration,
                            lambda cal: daemon.actions.calibrate(cal, source="dashboard"))
    # The dashboard's settings start from the file (as the daemon's own do), not from the
    # overrides read at start: both then apply the same saved overrides on top.
    settings = getattr(daemon, "settings", None)
    app = create_app(settings.config if settings is not None else config, store=daemon.store, health=health,
                     scale=scale,
                     reminders=getattr(daemon, "reminders", None), actions=daemon.actions,
                     epochs=getattr(daemon, "epochs", None) or _store_epochs(daemon.store))
    server = DashboardServer(app, section.host, section.port)
    try:
        server.start()
    except OSError as exc:  # the daemon keeps recording; the dashboard says why it is not there
        health.set("dashboard", "failed", f"cannot listen on {section.host}:{section.port}: {exc.strerror or exc}")
        log.error("dashboard: cannot listen on %s:%s: %s", section.host, section.port, exc)
        return None
    health.set("dashboard", "ok", server.url)
    return server


def _store_epochs(store):
    """Night movement from the store's per-epoch bed activity, when it keeps any."""
    if not hasattr(store, "epochs"):
        return None
    return lambda start, end: [(row[0], row[1]) for row in store.epochs(start, end)]
