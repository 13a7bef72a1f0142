"""Which device this is: the id in its MQTT topics, its client id and Home Assistant's ids.

A configured ``device.id`` always wins. Without one, the id is chosen once, from this
machine and the data directory, and kept in the data directory (``device-id``, beside
the database), so it never changes afterwards, whatever happens to the host name:

    <host name>-<8 hex digits>

The host name (lower case; anything but letters, digits and ``-`` becomes ``-``) makes
it readable. The digits are a hash of this machine's id (``/etc/machine-id``), the host
name and the data directory's absolute path, so that

- two machines differ (their machine ids differ), even with the same host name (every
  Raspberry Pi OS install starts as ``raspberrypi``);
- two daemons on one machine differ: each needs a data directory of its own (a
  database is never shared), so their paths differ;
- containers that share a machine id (one baked into the image, or the host's
  bind-mounted) differ when their host names or data directory paths differ;
- a reinstall on the same machine with the same data directory path gets the same id
  again, so Home Assistant keeps its entities and their history.

An install from before ids were chosen (a database in the data directory, no
``device-id`` beside it) keeps the old default id ``crampwatch``: its topics and Home
Assistant's entities, with their history, stay as they were. Set ``device.id`` to move
it to a new one.

A copied SD card (same machine id, host name and data directory, and the ``device-id``
file copied with it) is the same device until one of them gets a new identity: set
``device.id``, or give the copy its own machine id (``sudo rm /etc/machine-id
/var/lib/dbus/machine-id && sudo systemd-machine-id-setup``) and delete its
``device-id``. The machine id itself is never published: only 32 bits of a hash salted
with this program's name, as machine-id(5) asks of applications.

>>> chosen_id("/var/lib/crampwatch", machine="0123456789abcdef0123456789abcdef", hostname="Kitchen.Pi.lan")
'kitchen-765c170a'
>>> chosen_id("/var/lib/crampwatch2", machine="0123456789abcdef0123456789abcdef", hostname="Kitchen.Pi.lan")
'kitchen-5e4cd2be'
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
from pathlib import Path

from device.config import DEVICE_ID_PATTERN, Config
from device.storage.files import replace_file
from device.storage.store import DB_NAME
from vocabulary.errors import ConfigError

log = logging.getLogger(__name__)

FILE_NAME = "device-id"
LEGACY_ID = "crampwatch"  # every device's id before ids were chosen per machine
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
SALT = "crampwatch device id"
HOST_PART_MAX = 40


def machine_id(paths: tuple[str, ...] = MACHINE_ID_FILES) -> str | None:
    """This machine's id (32 hex digits), or None when no readable, initialised one exists."""
    for path in paths:
        try:
            text = Path(path).read_text(encoding="ascii").strip().lower()
        except (OSError, UnicodeDecodeError):
            continue
        if re.fullmatch(r"[0-9a-f]{32}", text):
            return text
    return None


def host_part(hostname: str) -> str:
    """The host name as the readable, topic-safe start of an id.

    >>> host_part("Bed Room.local"), host_part("---"), host_part("a" * 70) == "a" * 40
    ('bed-room', 'crampwatch', True)
    """
    name = re.sub(r"[^a-z0-9-]+", "-", hostname.split(".")[0].lower()).strip("-")[:HOST_PART_MAX].strip("-")
    return name or "crampwatch"


def chosen_id(data_dir: str, *, machine: str | None, hostname: str) -> str:
    """The id this machine and data directory get (see the module docstring)."""
    place = data_dir if data_dir == ":memory:" else os.path.abspath(os.path.expanduser(data_dir))
    digest = hashlib.sha256("\0".join((SALT, machine or "", hostname, place)).encode()).hexdigest()
    return f"{host_part(hostname)}-{digest[:8]}"


def id_file(config: Config) -> Path | None:
    """Where the chosen id is kept: beside the database (None for an in-memory one)."""
    data_dir = config.device.data_dir
    if data_dir == ":memory:":
        return None
    path = config.data_path
    if path.is_dir() or not path.name.endswith((".sqlite3", ".db")):  # as device.storage.store.Store places it
        return path / FILE_NAME
    return path.with_name(FILE_NAME)


def database_exists(config: Config) -> bool:
    """Whether the data directory already holds a database (as device.storage.store.Store places it)."""
    path = id_file(config)
    return path is not None and path.with_name(DB_NAME).is_file()


def device_id(config: Config, *, keep: bool = True, machine_id_files: tuple[str, ...] = MACHINE_ID_FILES,
              hostname: str | None = None, earlier_database: bool = False) -> str:
    """The configured id, else the kept one, else one chosen now (and kept, with ``keep``,
    once the data directory exists: the daemon opens its store first). With
    ``earlier_database`` (the store held data before this start, and no id was kept) the
    id is the old default, :data:`LEGACY_ID` (see the module docstring)."""
    if config.device.id:
        return config.device.id
    path = id_file(config)
    kept = _read(path) if path is not None else None
    if kept is not None:
        return kept
    if earlier_database:
        chosen, why = LEGACY_ID, "kept from the install before ids were chosen per machine (set device.id to change it)"
    else:
        chosen = chosen_id(config.device.data_dir, machine=machine_id(machine_id_files),
                           hostname=hostname or socket.gethostname())
        why = "chosen from this machine"
    if keep and path is not None and path.parent.is_dir():
        try:
            replace_file(path, chosen + "\n", mode=0o600)
            log.info("device id %s %s; kept in %s", chosen, why, path)
        except OSError as exc:  # chosen again, the same, at the next start
            log.warning("device id %s could not be kept in %s: %s", chosen, path, exc.strerror or exc)
    return chosen


def with_device_id(config: Config, **kwargs) -> Config:
    """``config`` with ``device.id`` set (see :func:`device_id`)."""
    if config.device.id:
        return config
    chosen = device_id(config, **kwargs)
    return config.model_copy(update={"device": config.device.model_copy(update={"id": chosen})})


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the kept device id: {exc}") from None
    if not text:
        return None  # an emptied file: choose again
    if not re.fullmatch(DEVICE_ID_PATTERN, text):
        problem = (f"{path} holds {text[:70]!r}, which is no device id ([A-Za-z0-9_-], 1-64 characters); "
                   "correct or delete it (a new one is then chosen), or set device.id")
        raise ConfigError(problem, [problem])
    return text
