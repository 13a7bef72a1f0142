"""Reading trace CSVs: fast for good files, exact line numbers for bad ones."""

import numpy as np
import pytest

from vocabulary.errors import TraceError
from vocabulary.traces import read_trace, write_trace


@pytest.fixture(autouse=True, params=["polars", "numpy"])
def parser(request, monkeypatch):
    """Every test reads with both C readers (polars when installed, numpy's otherwise)."""
    if request.param == "polars":
        import polars  # noqa: F401  (the test extra installs it: a missing one fails, never skips)
    else:
        monkeypatch.setenv("CRAMPWATCH_TRACE_PARSER", "numpy")
    return request.param


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


@pytest.mark.parametrize("body", [
    "t,x,y,z\r\n0,0.1,-0.2,1\r\n0.01,0.1,-0.2,1.0005\r\n",   # Windows line ends
    "\ufefft, x, y, z\n0, 0.1, -0.2, 1\n0.01 ,0.1,-0.2,1e-3\n",  # BOM, spaces, exponent
    "t,x,y,z\n0,0.1,-0.2,1\n\n0.01,0.1,-0.2,1\n",               # a blank line
    "t,x,y,z\n0,0.1,-0.2,1\n0.01,0.1,-0.2,1",                      # no final newline
])
def test_both_readers_agree_on_untidy_files(tmp_path, body, monkeypatch):
    path = tmp_path / "bed.csv"
    path.write_text(body, newline="")
    fast = read_trace(path, "bed")
    monkeypatch.setenv("CRAMPWATCH_TRACE_PARSER", "numpy")
    np.testing.assert_array_equal(fast, read_trace(path, "bed"))
    assert fast.shape == (2, 4)


def test_a_long_trace_reads_the_same_with_either_reader(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    n = 20_000
    data = np.c_[1.7e9 + np.arange(n) / 100, rng.normal(0, 0.01, (n, 2)), 1 + rng.normal(0, 0.01, n)]
    path = write_trace(tmp_path / "bed.csv", "bed", data)
    first = read_trace(path, "bed")
    monkeypatch.setenv("CRAMPWATCH_TRACE_PARSER", "numpy")
    np.testing.assert_array_equal(first, read_trace(path, "bed"))
    np.testing.assert_allclose(first, data, atol=5e-4)
