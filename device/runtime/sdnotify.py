"""sd_notify(3) in pure Python: tell systemd we are ready, alive, or stopping.

systemd passes ``$NOTIFY_SOCKET`` (a datagram socket path, or an abstract socket
when it starts with ``@``) to a ``Type=notify`` service; without it every call here
does nothing, so the daemon behaves the same from a terminal.

>>> Notifier(environ={}).notify(READY=1)
False
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """One connection to systemd's notification socket (or none)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # Linux abstract namespace
            address = "\0" + address[1:]
        self.address = address or None
        self._lock = threading.Lock()
        self._warned = False
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID, when set, names the process that must ping; honour it.
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, **fields) -> bool:
        """Send ``KEY=value`` lines in one datagram; True if it was sent."""
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        with self._lock:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                    sock.sendto(message, self.address)
                return True
            except OSError as exc:  # systemd gone or the socket unreadable: never fatal
                if not self._warned:
                    log.warning("cannot notify systemd at %r: %s", self.address, exc)
                    self._warned = True
                return False

    def ready(self, status: str = "") -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def stopping(self) -> bool:
        return self.notify(STOPPING=1)


class Watchdog:
    """Pings ``WATCHDOG=1`` every half watchdog period while ``alive()`` is true.

    When ``alive()`` turns false (a stuck or dead health loop), pings stop and systemd
    kills and restarts the service after ``WatchdogSec``.
    """

    def __init__(self, notifier: Notifier, alive: Callable[[], bool], *,
                 status: Callable[[], str] | None = None):
        self._notifier = notifier
        self._alive = alive
        self._status = status
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._notifier.watchdog_s is None or not self._notifier.enabled:
            return
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self._notifier.watchdog_s / 2
        while True:
            if self._alive():
                fields = {"WATCHDOG": 1}
                if self._status is not None:
                    fields["STATUS"] = self._status()
                self._notifier.notify(**fields)
            else:
                log.warning("health loop not alive: withholding the systemd watchdog ping")
            if self._stop.wait(interval):
                break

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
