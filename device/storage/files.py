"""Replacing a small file atomically and safely: the one way crampwatch writes its own
files (the dashboard password hash and session key, the health file, the systemd unit).

>>> import tempfile; from pathlib import Path
>>> d = Path(tempfile.mkdtemp()); replace_file(d / "x", "hello\\n", mode=0o600)
>>> (d / "x").read_text(), oct((d / "x").stat().st_mode & 0o777)
('hello\\n', '0o600')
"""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, text: str, *, mode: int, owned_like_dir: bool = False, fsync: bool = True) -> None:
    """Replace ``path`` with ``text``: readers see the old file or the new one, never half.

    Root may write into a directory that someone else owns (the service user, or any
    user for a ``--dest`` given to install-service), where any name can be swapped for a
    symlink at any moment. So nothing is done by name but creating a new temporary file
    with an unpredictable name (O_EXCL: never an existing one; O_NOFOLLOW: never through
    a symlink) and renaming it over ``path`` (a symlink there is replaced, not followed).
    ``mode`` is set on the open descriptor, whatever the umask; with ``owned_like_dir``
    a root caller also gives the file to the directory's owner (the daemon must read it).
    ``fsync`` False for a file rewritten every few seconds (flash wear, no durability
    needed).
    """
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        tmp = f".{path.name}.{os.urandom(6).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), mode)
                if owned_like_dir and os.geteuid() == 0:
                    owner = os.fstat(directory)
                    os.fchown(fh.fileno(), owner.st_uid, owner.st_gid)
                fh.write(text)
                if fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path.name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=directory)
            except FileNotFoundError:
                pass
            raise
    finally:
        os.close(directory)
