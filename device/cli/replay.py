"""``crampwatch replay``: run a detector over a recorded trace, events as JSON lines."""

from __future__ import annotations

import json
from typing import TextIO

import numpy as np

from device.cli.progress import Progress
from vocabulary.traces import check_ranges, read_trace

# Feed the detector an hour of samples at a time when showing progress; the result
# does not depend on the chunking (the detectors guarantee that).
_PROGRESS_CHUNK_S = 3600.0


def replay_bottle(path, out: TextIO, *, density: float = 1.0, progress: Progress | None = None) -> int:
    """Detect drinks and refills in a ``t,grams`` trace; return the number of events.
    With ``progress`` (:mod:`device.cli.progress`) the trace is fed an hour at a time, each shown."""
    from sensors.bottle_detector import BottleDetector

    data = read_trace(path, "bottle")
    detector = BottleDetector(density_g_per_ml=density)
    count = 0
    for t, grams in _chunks(data, progress):
        count += _emit(detector.feed(t, grams), out)
    count += _emit(detector.finish(), out)
    return count


def _chunks(data: np.ndarray, progress: Progress | None):
    t = data[:, 0]
    if progress is None or len(t) == 0:
        yield t, data[:, 1]
        return
    bounds = np.searchsorted(t, np.arange(t[0], t[-1] + _PROGRESS_CHUNK_S, _PROGRESS_CHUNK_S))
    bounds = np.append(bounds[1:], len(t))
    start = 0
    for stop in bounds:
        if stop > start:
            yield t[start:stop], data[start:stop, 1]
            progress(stop / len(t))
        start = stop


def _emit(events, out: TextIO) -> int:
    for event in events:
        out.write(json.dumps({**event.to_dict(), "id": event.id}) + "\n")
    return len(events)


def replay_bed(path, out: TextIO, *, rate_hz: float | None = None, progress: Progress | None = None) -> int:
    """Sleep periods and wakes (with cramp verdicts) of a ``t,x,y,z`` trace; ``progress``
    shows each stage (reading, analysing)."""
    from sensors.night_analysis import analyze_bed

    if progress is not None:
        progress.step(f"reading {path}")
    data = read_trace(path, "bed")
    if len(data) < 2:
        return 0
    if progress is not None:
        hours = (data[-1, 0] - data[0, 0]) / 3600.0
        progress.step(f"analysing {hours:.1f} h of movement ({len(data):,} samples)")
    return _emit(analyze_bed(data[:, 0], data[:, 1:4], rate_hz), out)


def replay_counts(path, out: TextIO) -> int:
    """Sleep periods and wakes of activity counts: a ``t,count`` CSV or an Actiware RPX export."""
    from sensors.night_analysis import analyze_counts

    if _is_actiware(path):
        from sensors.actiware import load_actiware

        rec = load_actiware(path)
        t, counts = rec.t, rec.counts
        # what read_trace checks in a t,count file: plausible times and counts, a 10-60 s epoch
        check_ranges(path, "counts", t, counts, lines=rec.lines)
    else:
        data = read_trace(path, "counts")
        t, counts = data[:, 0], data[:, 1]
    if len(t) < 2:
        return 0
    return _emit(analyze_counts(t, counts), out)


def _is_actiware(path) -> bool:
    """An Actiware export starts with its own header block (a quoted title such as
    ``"Actiware Export File"``, or ``"Key:","Value"`` lines), not with ``t,count``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline().lstrip("\ufeff").strip().lower()
    except OSError:
        return False  # read_trace reports the missing file with its own message
    if not first or first.replace(" ", "").startswith("t,count"):
        return False
    # a plain header of other names (time,count) is a t,count file with a wrong header
    return first.startswith('"') or ":" in first or "actiware" in first
