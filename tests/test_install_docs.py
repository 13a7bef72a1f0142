"""The install commands in README.md and docs/raspberry-pi.md match pyproject's extras.

A person follows the guide word for word on a Pi: every extra it names must exist, the
`pi` extra may only ask pip for packages that have a wheel where its marker lets pip try
(an sdist-only package such as RPi.GPIO needs a compiler and headers the guide would have
to name), and the commands for the systems without an lgpio wheel must bring apt's.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from device.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "raspberry-pi.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]

# What PyPI offers, from its file lists (lgpio 0.2.2.0: cp39-cp312 manylinux_2_34 aarch64
# and x86_64, armv7l only for cp312; RPi.GPIO 0.7.1: the source only).
WHEELS = {"lgpio": {("aarch64", v) for v in ("3.9", "3.10", "3.11", "3.12")} | {("armv7l", "3.12")}}
SDIST_ONLY = {"rpi-gpio"}
# (machine, Python) of the Raspberry Pi OS releases the guide covers.
RASPBERRY_PI_OS = {
    "Bookworm 64-bit": ("aarch64", "3.11"), "Bookworm 32-bit": ("armv7l", "3.11"),
    "Bookworm 32-bit, Pi Zero/1": ("armv6l", "3.11"),
    "Trixie 64-bit": ("aarch64", "3.13"), "Trixie 32-bit": ("armv7l", "3.13"),
}


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)


def extras_named(text: str) -> set[str]:
    found = set()
    for group in re.findall(r"pip install '\.\[([^\]]+)\]'", text):
        found.update(name.strip() for name in group.split(","))
    return found


def pi_os(machine: str, python: str) -> dict[str, str]:
    env = default_environment()
    env.update(platform_system="Linux", sys_platform="linux", platform_machine=machine,
               python_version=python, python_full_version=f"{python}.0", implementation_name="cpython")
    return env


@pytest.mark.parametrize("text", [GUIDE, README], ids=["guide", "readme"])
def test_every_extra_the_docs_name_exists(text):
    named = extras_named(text)
    assert named, "the install section names no extra"
    assert named <= set(EXTRAS), f"the docs name extras pyproject lacks: {sorted(named - set(EXTRAS))}"


def test_the_pi_extra_has_no_sdist_only_package():
    names = {canonicalize_name(Requirement(r).name) for r in EXTRAS["pi"]}
    assert not names & SDIST_ONLY, f"the pi extra needs a compiler for {sorted(names & SDIST_ONLY)}"


@pytest.mark.parametrize("release", RASPBERRY_PI_OS)
def test_the_pi_extra_asks_pip_only_for_wheels_that_exist(release):
    machine, python = RASPBERRY_PI_OS[release]
    for line in EXTRAS["pi"]:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(pi_os(machine, python)):
            assert (machine, python) in WHEELS.get(req.name, set()), (
                f"on {release} pip would build {req.name} from source: narrow its marker and give the "
                f"guide an apt route")


def test_the_pi_extra_installs_lgpio_on_64_bit_bookworm():
    env = pi_os(*RASPBERRY_PI_OS["Bookworm 64-bit"])
    assert [Requirement(r).name for r in EXTRAS["pi"] if Requirement(r).marker.evaluate(env)] == ["lgpio"]


def test_rpi_gpio_is_in_the_legacy_extra_and_its_build_packages_are_named():
    assert [Requirement(r).name for r in EXTRAS["legacy"]] == ["RPi.GPIO"]
    blocks = [b for b in shell_blocks(GUIDE) if "'.[legacy]'" in b]
    assert blocks and all("sudo apt install python3-dev gcc" in b for b in blocks)
    assert "python3-dev gcc" in README


@pytest.mark.parametrize("text", [GUIDE, README], ids=["guide", "readme"])
def test_a_venv_with_system_packages_comes_with_apt_lgpio(text):
    commands = [line for b in shell_blocks(text) for line in b.splitlines()]
    system = [i for i, line in enumerate(commands) if "python3 -m venv --system-site-packages .venv" in line]
    assert system, "no command for the systems without an lgpio wheel (Trixie, 32-bit)"
    for i in system:
        assert any(line.startswith("sudo apt install") and "python3-lgpio" in line for line in commands[:i])
        assert "pip install ." in commands[i] and "[pi]" not in commands[i]


def test_the_readme_commands_are_the_guides():
    guide_lines = {line.strip() for b in shell_blocks(GUIDE) for line in b.splitlines()}
    for block in shell_blocks(README[README.index("## Install on a Raspberry Pi"):README.index("## Wiring")]):
        for line in block.splitlines():
            if line.startswith(("sudo apt", "python3 -m venv")):
                assert line.strip() in guide_lines, f"README's {line!r} is not in docs/raspberry-pi.md"


@pytest.mark.parametrize("text", [GUIDE, README], ids=["guide", "readme"])
def test_every_crampwatch_command_in_the_docs_exists(text):
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    used = set(re.findall(r"crampwatch ([a-z][a-z-]+)", "\n".join(shell_blocks(text))))
    assert "doctor" in used and used <= commands, sorted(used - commands)
