"""``crampwatch calibrate``: the interactive tare / known weight / empty bottle wizard."""

from __future__ import annotations

import sys
from collections.abc import Callable

from device.config import Config
from device.storage.store import Store
from device.workers.calibration import READS_PER_STEP, save_calibration
from sensors.calibration import Calibration, robust_level
from vocabulary.errors import ConfigError


def run_calibration(config: Config, *, simulate: bool = False, ask: Callable[[str], str] = input,
                    say: Callable[[str], None] = print) -> int:
    """Walk the user through calibration and store the result; return the exit status."""
    from device.hardware.rigs import rig

    hardware = rig(config, simulate=simulate).bottle(scripted=True)
    driver = hardware.open_driver()
    try:
        with Store(config.data_path) as store:
            calibration = _wizard(lambda: _level(driver), hardware, ask, say)
            save_calibration(store, calibration)
    finally:
        driver.close()
        hardware.close()
    say(f"saved: offset {calibration.offset:.0f} counts, {calibration.counts_per_gram:.2f} counts/g"
        + (f", empty bottle {calibration.empty_bottle_g:.0f} g" if calibration.empty_bottle_g else ""))
    return 0


def _level(driver) -> float:
    from sensors.hx711 import is_saturated

    reads = [r for r in (driver.read_raw(timeout=2.0) for _ in range(READS_PER_STEP)) if not is_saturated(r)]
    if len(reads) < READS_PER_STEP // 2:
        raise ConfigError("the scale reads saturated values; check the load cell wiring")
    return robust_level(reads)


def _wizard(level: Callable[[], float], hardware, ask, say) -> Calibration:
    _prompt(ask, "1/3 Take everything off the scale, then press Enter. ")
    hardware.place(0.0)
    tare = level()
    known = _number(ask, "2/3 Put a known weight on the scale and type its mass in grams: ", positive=True)
    hardware.place(known)
    loaded = level()
    try:
        calibration = Calibration.from_points(tare, loaded, known)
    except ValueError as exc:
        raise ConfigError(f"calibration failed: {exc}") from None
    answer = _prompt(ask, "3/3 Put the EMPTY bottle on the scale and press Enter (or type 'skip'): ")
    if answer.strip().lower() != "skip":
        hardware.place(hardware.empty_bottle_g)
        empty = calibration.to_grams(level())
        calibration = Calibration(calibration.offset, calibration.counts_per_gram, round(empty, 1))
    return calibration


def _prompt(ask, text: str) -> str:
    try:
        return ask(text)
    except EOFError:
        raise ConfigError("calibration cancelled: input ended") from None


def _number(ask, text: str, *, positive: bool) -> float:
    for _ in range(5):
        answer = _prompt(ask, text).strip()
        try:
            value = float(answer)
        except ValueError:
            print(f"  '{answer}' is not a number of grams; try again", file=sys.stderr)
            continue
        if positive and value <= 0:
            print("  the known weight must be more than 0 g; try again", file=sys.stderr)
            continue
        return value
    raise ConfigError("calibration cancelled: no valid weight given")
