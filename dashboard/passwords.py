"""The dashboard password: a salted scrypt hash in a file of its own.

``crampwatch set-password`` writes the hash (werkzeug's ``scrypt:32768:8:1$salt$hash``)
to ``dashboard.password_file``, by default ``dashboard-password`` in the data
directory, readable by its owner only. The password itself is never stored or logged.
The dashboard re-reads the file when it changes, so a new password takes effect at
once and logs every session out. An empty file, or none, means no password.

Checking a password takes 32 MiB of memory (scrypt), so checks run one at a time: a
burst of logins waits its turn instead of filling the memory of a small Pi.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from device.config import Config
from device.storage.files import replace_file
from vocabulary.errors import ConfigError

FILE_NAME = "dashboard-password"
MIN_LENGTH = 8
VERIFY_WAIT_S = 10.0  # how long a login waits for its turn at the password check


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
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_private_file(path, hashed + "\n")


def replace_private_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically: mode 0600, owned like its directory
    (root runs ``crampwatch set-password`` in a directory the service user owns; see
    :func:`device.storage.files.replace_file`)."""
    replace_file(path, text, mode=0o600, owned_like_dir=True)


def remove_hash(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


class PasswordCheck:
    """Verifies passwords against the hash file (or a fixed hash, for tests), one at a time."""

    def __init__(self, path: Path | None = None, *, fixed_hash: str | None = None):
        self.path, self._fixed = path, fixed_hash
        self._cached: tuple[float, str | None] | None = None
        self._one_at_a_time = threading.Lock()

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

    def verify(self, password: str, *, wait_s: float = VERIFY_WAIT_S) -> bool:
        """True if ``password`` matches; raises TimeoutError when other checks kept it
        waiting longer than ``wait_s``."""
        if not self._one_at_a_time.acquire(timeout=wait_s):
            raise TimeoutError("other password checks are running")
        try:
            hashed = self.current_hash()
            if hashed is None:
                return False
            return check_password_hash(hashed, password)
        except (ValueError, TypeError):  # a damaged file never lets anyone in
            return False
        finally:
            self._one_at_a_time.release()

    def fingerprint(self) -> str:
        """Changes when the password changes (kept in sessions to end them)."""
        hashed = self.current_hash() or ""
        return hashlib.sha256(hashed.encode()).hexdigest()[:16]
