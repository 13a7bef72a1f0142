"""``crampwatch calibrate`` against the simulated scale, answered on standard input."""

import subprocess
import sys

from device.storage.store import Store
from device.workers.calibration import load_calibration
from simulator.rigs import SimulatedBottle


def calibrate(tmp_path, answers):
    return subprocess.run([sys.executable, "-m", "device.cli", "calibrate", "--simulate", "--data-dir", str(tmp_path)],
                          input=answers, capture_output=True, text=True, timeout=120)


def test_wizard_finds_the_load_cells_true_factors_and_the_empty_bottle(tmp_path):
    run = calibrate(tmp_path, "\n500\n\n")
    assert run.returncode == 0, run.stderr
    assert "saved:" in run.stdout
    with Store(tmp_path) as store:
        cal = load_calibration(store)
    for grams in (0, 250, 1000):  # the scale reads true weights to within a gram
        raw = SimulatedBottle.OFFSET_COUNTS + SimulatedBottle.COUNTS_PER_GRAM * grams
        assert abs(cal.to_grams(raw) - grams) < 1.0
    assert abs(cal.empty_bottle_g - SimulatedBottle.empty_bottle_g) < 1.0


def test_a_word_instead_of_grams_is_asked_again(tmp_path):
    run = calibrate(tmp_path, "\nfive hundred\n500\nskip\n")
    assert run.returncode == 0, run.stderr
    assert "'five hundred' is not a number" in run.stderr
    with Store(tmp_path) as store:
        assert load_calibration(store).empty_bottle_g is None


def test_input_ending_early_cancels_and_stores_nothing(tmp_path):
    run = calibrate(tmp_path, "\n")
    assert run.returncode == 2
    assert "calibration cancelled" in run.stderr
    with Store(tmp_path) as store:
        assert store.get_setting("bottle.calibration") is None
