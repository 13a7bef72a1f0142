"""The dashboard password: a salted scrypt hash in a file of its own.

``crampwatch set-password`` writes the hash (werkzeug's ``scrypt:32768:8:1$salt$hash``)
to ``dashboard.password_file``, by default ``dashboard-password`` in the data
directory, readable by its owner only. The password itself is never stored or logged.
The dashboard re-reads the file when it changes, so a new password takes effect at
once and logs every session out.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from device.config import Config
from device.errors import ConfigError

FILE_NAME = "dashboard-password"
MIN_LENGTH = 8


def password_path(config: Config) -> Path | None:
    """Where the hash lives for this configuration (None: nowhere to keep one)."""
    if config.dashboard.password_file:
        return Path(config.dashboard.password_file).expanduser()
    if config.device.data_dir == ":memory:":
        return None
    return config.data_path / FILE_NAME


def hash_password(password: str) -> str:
    """A salted hash of ``password``; refuses ones too short to resist guessing."""
    if len(password) < MIN_LENGTH:
        raise ConfigError(f"the password must have at least {MIN_LENGTH} characters")
    return generate_password_hash(password, method="scrypt")


def write_hash(path: Path, hashed: str) -> None:
    """Replace the hash file atomically (mode 0600, owned like its directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dashboard-password.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(hashed + "\n")
        os.chmod(tmp, 0o600)
        if os.geteuid() == 0:  # root setting it for the service user: let the daemon read it
            st = path.parent.stat()
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_hash(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


class PasswordCheck:
    """Verifies passwords against the hash file (or a fixed hash, for tests)."""

    def __init__(self, path: Path | None = None, *, fixed_hash: str | None = None):
        self.path, self._fixed = path, fixed_hash
        self._cached: tuple[float, str | None] | None = None

    def current_hash(self) -> str | None:
        if self._fixed is not None or self.path is None:
            return self._fixed
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return None
        if self._cached is None or self._cached[0] != mtime:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
            self._cached = (mtime, text or None)
        return self._cached[1]

    @property
    def is_set(self) -> bool:
        return self.current_hash() is not None

    def verify(self, password: str) -> bool:
        hashed = self.current_hash()
        if hashed is None:
            return False
        try:
            return check_password_hash(hashed, password)
        except (ValueError, TypeError):  # a damaged file never lets anyone in
            return False

    def fingerprint(self) -> str:
        """Changes when the password changes (kept in sessions to end them)."""
        hashed = self.current_hash() or ""
        return hashlib.sha256(hashed.encode()).hexdigest()[:16]
