"""Logging set-up: journald-friendly lines, and secrets never reach the log.

Under systemd (``JOURNAL_STREAM`` set) lines carry a ``<N>`` syslog priority prefix
and no timestamp (journald adds its own); on a terminal they carry the time.
"""

from __future__ import annotations

import logging
import os
import re
import sys

_SECRET = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key)(\W{1,3})(\S+)")
_AUTHORIZATION = re.compile(r"(?i)(authorization)(\W{1,3})(?:(?:basic|bearer|digest)\s+)?(\S+)")
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def redact(text: str) -> str:
    """Replace anything that looks like a secret's value with ``***``."""
    hide = lambda m: f"{m.group(1)}{m.group(2)}***"  # noqa: E731
    return _AUTHORIZATION.sub(hide, _SECRET.sub(hide, text))


class RedactingFormatter(logging.Formatter):
    """Formats a record and removes secrets from the whole line (message and args)."""

    def __init__(self, journald: bool):
        fmt = "%(name)s: %(message)s" if journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        super().__init__(fmt)
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        if self.journald:
            line = f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once for the daemon and the CLI (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # sensor glitches are warnings; they belong in the log
    # Libraries chatter at INFO; keep them to warnings unless we debug.
    for noisy in ("apscheduler", "waitress", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
