"""Reading and writing the recorded-trace CSV files of DESIGN.md.

``t,grams`` (bottle), ``t,x,y,z`` (bed) and ``t,count`` (activity counts), with a
header row. Reading is fast (a C reader parses the numbers in one pass: polars when the
``fast`` extra is installed, numpy otherwise) and, when a row is bad, slow and exact: the
error names the file, the line and what is wrong.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

import numpy as np

from vocabulary.errors import TraceError

COLUMNS = {
    "bottle": ("t", "grams"),
    "bed": ("t", "x", "y", "z"),
    "counts": ("t", "count"),
}


def read_trace(path: str | os.PathLike, kind: str) -> np.ndarray:
    """Read a trace into a float64 array of shape (rows, columns).

    Raises TraceError naming the file and line for a missing file, wrong header,
    wrong column count, unparseable number or time going backwards. ``counts`` rows
    may have an empty or NaN count (a missing epoch); other kinds may not.
    """
    columns = COLUMNS[kind]
    path = Path(path)
    with _reading(path):
        with path.open(encoding="utf-8") as fh:
            first, more = fh.readline(), fh.read(4096)
    if not (first + more).strip():
        raise TraceError(f"{path}:1: empty file; expected header {','.join(columns)}")
    header = tuple(c.strip().lower() for c in first.lstrip("\ufeff").split(","))
    if header != columns:
        raise TraceError(f"{path}:1: header is {','.join(header)!r}; expected {','.join(columns)!r}")
    if not more.strip():
        return np.empty((0, len(columns)))
    data = _fast_parse(path, len(columns))
    if data is None:  # something to point at: read it again, line by line
        with _reading(path):
            rest = path.read_text(encoding="utf-8").partition("\n")[2].rstrip()
        data = _slow_parse(path, rest.splitlines(), len(columns), allow_missing=(kind == "counts"))
    _check_times(path, data[:, 0], allow_nan_values=(kind == "counts"), values=data[:, 1:])
    check_ranges(path, kind, data[:, 0], data[:, 1:])
    return data


@contextlib.contextmanager
def _reading(path: Path):
    """File errors as TraceError naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {exc}") from None


def _fast_parse(path: Path, ncols: int) -> np.ndarray | None:
    """The clean, common case (every row ``ncols`` numbers) in one pass of a C reader:
    polars when it is installed (the ``fast`` extra; several times quicker), else numpy's.
    None sends us to the exact, line-numbered reader."""
    data = _polars_parse(path, ncols)
    if data is not None:
        return data
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64, encoding="utf-8")
    except ValueError:
        return None
    return data if data.shape[1] == ncols else None


def _polars_parse(path: Path, ncols: int) -> np.ndarray | None:
    """polars' multi-threaded CSV reader; None when polars is absent or the file is not
    plainly ``ncols`` numbers a row (numpy's reader then decides, as without polars)."""
    if os.environ.get("CRAMPWATCH_TRACE_PARSER") == "numpy":
        return None
    try:
        import polars as pl
    except ImportError:
        return None
    schema = {f"c{i}": pl.Float64 for i in range(ncols)}
    try:
        frame = pl.read_csv(path, has_header=False, skip_rows=1, schema=schema, encoding="utf8",
                            truncate_ragged_lines=False, raise_if_empty=False)
    except Exception:  # polars' own errors (ragged rows, text in a number column, ...)
        return None
    if frame.height == 0 or frame.null_count().sum_horizontal().item():
        return None  # blank lines and empty fields: numpy's reader has the rules for those
    return frame.to_numpy()


def _slow_parse(path: Path, body: list[str], ncols: int, allow_missing: bool) -> np.ndarray:
    out = np.empty((len(body), ncols))
    for index, line in enumerate(body):
        number = index + 2
        fields = line.split(",")
        if len(fields) != ncols:
            raise TraceError(f"{path}:{number}: expected {ncols} columns, found {len(fields)}: {line[:60]!r}")
        for col, field in enumerate(fields):
            field = field.strip()
            if allow_missing and col == ncols - 1 and field in ("", "nan", "NaN", "NA"):
                out[index, col] = math.nan
                continue
            try:
                out[index, col] = float(field)
            except ValueError:
                raise TraceError(f"{path}:{number}: column {col + 1} is not a number: {field[:30]!r}") from None
    return out


def _check_times(path: Path, t: np.ndarray, *, allow_nan_values: bool, values: np.ndarray) -> None:
    bad = ~np.isfinite(t)
    if not allow_nan_values:
        bad |= ~np.isfinite(values).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise TraceError(f"{path}:{row + 2}: not a finite number")
    back = np.diff(t) <= 0
    if back.any():
        row = int(np.argmax(back)) + 1
        raise TraceError(f"{path}:{row + 2}: time {float(t[row])!r} does not increase (previous {float(t[row - 1])!r})")


# What a trace's numbers may be. Beyond these a file is damaged or not what its header
# says, and the detectors would overflow or (a counts grid) allocate without bound.
TIME_RANGE_S = (0.0, 253402300800.0)  # Unix seconds from 1970 to the end of 9999
VALUE_LIMIT = {"bottle": 1e6, "bed": 1e3, "counts": 1e9}  # largest size: grams, g, counts an epoch
COUNTS_EPOCH_S = (10.0, 60.0)  # DESIGN.md: any fixed epoch from 10 s to 60 s
COUNTS_MAX_DAYS = 366


def check_ranges(path, kind: str, t: np.ndarray, values: np.ndarray, lines=None) -> None:
    """Raise TraceError naming the line of the first number out of range for ``kind``.

    Times are Unix seconds from 1970 to 9999; values are within ``VALUE_LIMIT``, counts
    never negative (NaN: a missing epoch); counts come at a fixed epoch of 10 to 60 s
    (their median spacing) and span at most ``COUNTS_MAX_DAYS``. ``lines`` are the
    rows' line numbers in the file (default: the header, then one row a line).
    """
    t = np.asarray(t, dtype=float)
    values = np.asarray(values, dtype=float).reshape(len(t), -1)

    def where(i: int) -> str:
        return f"{path}:{int(lines[i]) if lines is not None else i + 2}"

    bad = ~((t >= TIME_RANGE_S[0]) & (t < TIME_RANGE_S[1]))
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceError(f"{where(i)}: time {float(t[i])!r} is not a Unix time between 1970 and 9999")
    limit = VALUE_LIMIT[kind]
    with np.errstate(invalid="ignore"):  # NaN counts compare False: missing is fine
        out = (np.abs(values) > limit) | ((values < 0) if kind == "counts" else False)
    if out.any():
        i = int(np.argmax(out.any(axis=1)))
        col = int(np.argmax(out[i]))
        name, value = COLUMNS[kind][col + 1], float(values[i, col])
        if kind == "counts" and value < 0:
            raise TraceError(f"{where(i)}: {name} {value:g} is negative (a missing epoch is an empty count)")
        raise TraceError(f"{where(i)}: {name} {value:g} is out of range (-{limit:g} to {limit:g} in a {kind} trace)")
    if kind != "counts" or len(t) < 2:
        return
    gaps = np.diff(t)
    epoch = float(np.median(gaps))
    low, high = COUNTS_EPOCH_S
    if not low <= epoch <= high:
        i = int(np.argmax(gaps < low if epoch < low else gaps > high)) + 1
        raise TraceError(f"{where(i)}: rows are {epoch:g} s apart (the median spacing); "
                         f"activity counts need a fixed epoch of {low:g} to {high:g} s")
    far = t - t[0] > COUNTS_MAX_DAYS * 86400.0
    if far.any():
        i = int(np.argmax(far))
        raise TraceError(f"{where(i)}: time {float(t[i])!r} is {(t[i] - t[0]) / 86400:.0f} days after the first "
                         f"row's; a counts recording spans at most {COUNTS_MAX_DAYS} days")


def write_trace(path: str | os.PathLike, kind: str, data: np.ndarray, decimals: tuple[int, ...] | None = None) -> Path:
    """Write a trace with its header; ``decimals`` per column (default 3 for t, 4 else)."""
    columns = COLUMNS[kind]
    decimals = decimals or (3,) + (4,) * (len(columns) - 1)
    path = Path(path)
    with open(path, "wb") as fh:
        fh.write((",".join(columns) + "\n").encode())
        fh.write(format_rows([data[:, k] for k in range(len(columns))], list(decimals)))
    return path


def format_rows(columns: list[np.ndarray], decimals: list[int]) -> bytes:
    """CSV lines for equal-length float columns, like ``%.{d}f`` per column, vectorised.

    About 20 times faster than ``np.savetxt``: simulated traces of millions of rows are
    written in seconds.
    """
    n = len(columns[0])
    if n == 0:
        return b""
    parts: list[np.ndarray] = []
    for k, (x, d) in enumerate(zip(columns, decimals)):
        if k:
            parts.append(_const(",", n))
        scaled = np.rint(np.asarray(x) * 10**d).astype(np.int64)
        whole, frac = np.divmod(np.abs(scaled), 10**d)
        parts += [np.where(scaled < 0, ord("-"), 0).astype(np.uint8)[:, None],
                  _digits(whole, len(str(int(whole.max()))), True), _const(".", n), _digits(frac, d, False)]
    parts.append(_const("\n", n))
    flat = np.concatenate(parts, axis=1).ravel()
    return flat[flat != 0].tobytes()


def _const(ch: str, n: int) -> np.ndarray:
    return np.full((n, 1), ord(ch), np.uint8)


def _digits(x: np.ndarray, width: int, strip: bool) -> np.ndarray:
    """ASCII digits of non-negative ints, one row each; stripped leading zeros become 0 bytes."""
    p = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    out = ((x[:, None] // p) % 10 + 48).astype(np.uint8)
    if strip:
        out[(x[:, None] < p) & (p > 1)] = 0
    return out
