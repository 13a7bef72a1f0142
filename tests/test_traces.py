"""Reading trace CSVs: fast for good files, exact line numbers for bad ones."""

import numpy as np
import pytest

from device.errors import TraceError
from device.traces import read_trace, write_trace


def test_round_trip(tmp_path):
    data = np.c_[np.arange(5) / 10 + 1.7e9, np.linspace(0, 500, 5)]
    path = write_trace(tmp_path / "b.csv", "bottle", data)
    assert path.read_text().splitlines()[0] == "t,grams"
    np.testing.assert_allclose(read_trace(path, "bottle"), data, atol=1e-3)


@pytest.mark.parametrize("body, message", [
    ("t,grams\n1,2\n2,x\n", r":3: column 2 is not a number"),
    ("t,grams\n1,2\n2,3,4\n", r":3: expected 2 columns, found 3"),
    ("t,kg\n1,2\n", r":1: header is 't,kg'"),
    ("", r":1: empty file"),
    ("t,grams\n1,2\n1,3\n", r":3: time 1.0 does not increase"),
    ("t,grams\n1,2\n2,nan\n", r":3: not a finite number"),
])
def test_bad_files_name_the_line(tmp_path, body, message):
    path = tmp_path / "b.csv"
    path.write_text(body)
    with pytest.raises(TraceError, match=message):
        read_trace(path, "bottle")


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="no such file"):
        read_trace(tmp_path / "none.csv", "bottle")


def test_counts_allow_missing_epochs(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("t,count\n0,5\n30,\n60,NaN\n90,7\n")
    data = read_trace(path, "counts")
    assert data[0, 1] == 5 and np.isnan(data[1, 1]) and np.isnan(data[2, 1]) and data[3, 1] == 7
