"""Imports point down: the import-linter contracts of pyproject.toml hold (DESIGN.md, "Layout")."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, f"import-linter found imports that point the wrong way:\n{run.stdout}{run.stderr}"
    assert "0 broken" in run.stdout


@pytest.mark.parametrize("contract", ["device-parts", "scheduler-parts"])
def test_each_package_is_layered_as_in_the_whole(contract):
    """A package's exhaustive contract (every module placed) lists its parts in the order of the layers contract."""
    own = contracts()[contract]
    prefix = own["containers"][0] + "."

    def parts(layer: str, prefix: str = "") -> set[str]:
        return {p.strip().removeprefix(prefix) for p in layer.replace(":", "|").split("|")
                if p.strip().startswith(prefix)}

    whole = [parts(layer, prefix) for layer in contracts()["layers"]["layers"]]
    assert [layer for layer in whole if layer] == [parts(layer) for layer in own["layers"]]
