"""``crampwatch install-service``: put the packaged systemd unit in place.

The unit ships inside the package (``device/systemd/crampwatch.service``); installing
it fills in ``ExecStart`` with this installation's ``crampwatch`` command, keeps only
the supplementary groups that exist on this machine, optionally creates the dedicated
system user, and says which ``systemctl`` commands to run next.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

from device.storage.files import replace_file
from vocabulary.errors import ConfigError

UNIT_NAME = "crampwatch.service"
SYSTEM_DIR = Path("/etc/systemd/system")
USER = "crampwatch"


def packaged_unit() -> str:
    """The unit file as shipped in the package."""
    return (resources.files("device") / "systemd" / UNIT_NAME).read_text(encoding="utf-8")


def crampwatch_command() -> str:
    """How systemd should start this installation's daemon (absolute paths)."""
    beside = Path(sys.executable).parent / "crampwatch"
    if beside.is_file() and os.access(beside, os.X_OK):
        return shlex.quote(str(beside.absolute()))
    return f"{shlex.quote(str(Path(sys.executable).absolute()))} -m device.cli"


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def render_unit(command: str, *, group_exists=_group_exists) -> tuple[str, list[str]]:
    """The unit with ``ExecStart`` and ``SupplementaryGroups`` fitted to this machine.

    Returns the text and the notes to print (groups left out).
    """
    notes = []
    lines = []
    for line in packaged_unit().splitlines():
        if line.startswith("ExecStart="):
            line = f"ExecStart={command} run"
        elif line.startswith("SupplementaryGroups="):
            wanted = line.split("=", 1)[1].split()
            present = [g for g in wanted if group_exists(g)]
            for missing in sorted(set(wanted) - set(present)):
                notes.append(f"group {missing!r} does not exist here; left out of SupplementaryGroups "
                             "(Raspberry Pi OS has it)")
            if not present:
                continue
            line = "SupplementaryGroups=" + " ".join(present)
        lines.append(line)
    return "\n".join(lines) + "\n", notes


def create_user(name: str = USER, groups: tuple[str, ...] = ("gpio", "i2c"), *, run=subprocess.run) -> str:
    """Create the system user (if missing) and add it to the groups that exist."""
    try:
        pwd.getpwnam(name)
        created = False
    except KeyError:
        run(["useradd", "--system", "--user-group", "--home-dir", "/var/lib/crampwatch", "--no-create-home",
             "--shell", "/usr/sbin/nologin", "--comment", "crampwatch daemon", name], check=True)
        created = True
    present = [g for g in groups if _group_exists(g)]
    if present:
        run(["usermod", "--append", "--groups", ",".join(present), name], check=True)
    return (f"{'created' if created else 'found'} user {name!r}"
            + (f", member of {', '.join(present)}" if present else ""))


def install(dest: Path = SYSTEM_DIR, *, command: str | None = None, make_user: bool = False,
            out=None) -> Path:
    """Write the unit into ``dest``; print what was done and the commands to run next."""
    out = sys.stdout if out is None else out
    text, notes = render_unit(command or crampwatch_command())
    dest = Path(dest)
    target = dest / UNIT_NAME
    try:
        dest.mkdir(parents=True, exist_ok=True)
        replace_file(target, text, mode=0o644)  # systemd reads it whatever root's umask
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}; run it as root (sudo), "
                          "or give --dest DIR") from None
    print(f"wrote {target}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    if make_user:
        try:
            print(create_user(), file=out)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise ConfigError(f"cannot create user {USER!r}: {exc}; run it as root (sudo)") from None
    else:
        print(f"the unit runs as user {USER!r}; create it with --create-user, or: "
              f"sudo useradd --system --user-group --groups gpio,i2c --shell /usr/sbin/nologin {USER}", file=out)
    print("next:", file=out)
    for step in ("sudo systemctl daemon-reload", "sudo systemctl enable --now crampwatch",
                 "systemctl status crampwatch", "journalctl -u crampwatch -f",
                 "sudo -u crampwatch crampwatch status --data-dir /var/lib/crampwatch"):
        print(f"  {step}", file=out)
    return target
