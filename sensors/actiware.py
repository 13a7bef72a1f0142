"""Reading the CSV export of Philips Respironics Actiware (an "RPX" export file).

An Actiwatch recording exported by Actiware is one CSV file in sections: the header
(subject and device properties, among them the epoch length and the time-zone offset
of the local times used everywhere in the file), the analysis inputs, the statistics
(one row per REST, ACTIVE, SLEEP and DAILY interval, then summary rows), a marker list
and the epoch-by-epoch table (line, date, time, activity counts, marker, light,
``Sleep/Wake`` score with 0 = sleep and 1 = wake, interval status).

:func:`read_actiware` gives what the night analysis needs, in UTC Unix seconds::

    t, counts, rest, scoring = read_actiware("recording.csv")
    events = analyze_counts(t, counts)       # sensors.night_analysis

- ``t``: start of each epoch; ``counts``: activity counts (NaN where Actiware has none);
- ``rest``: the REST intervals of the statistics section, shape ``(n, 2)``, start and end;
- ``scoring``: Actiware's own epoch score, 0 sleep, 1 wake, NaN unscored.

Dates are day-first (English UK, the sample exports) or month-first (US); the reader
takes the order under which the epochs follow each other one epoch apart. Headings may
be in English, French or German (the three languages of the exports we have seen).
Nothing here is specific to one recording; the parser only reads, it never scores.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from vocabulary.errors import TraceError

__all__ = ["ActiwareRecording", "load_actiware", "read_actiware"]

# Column and key names by language (compared lower-case, without accents' variants).
_LINE = ("line", "ligne", "zeile")
_DATE = ("date", "datum")
_TIME = ("time", "heure", "zeit")
_ACTIVITY = ("activity", "activité", "aktivität")
_SCORE = ("sleep/wake", "sommeil/éveil", "schlaf/wach")
_STATUS = ("interval status", "statut de l’intervalle", "statut de l'intervalle", "intervallstatus")
_EPOCH_KEYS = ("epoch length:", "longueur de la période :", "epochenlänge:")
_OFFSET_KEYS = ("time zone offset:", "décalage du fuseau horaire :", "zeitzonenverschiebung:")
_REST = ("rest", "repos", "ruhe")


@dataclass(frozen=True)
class ActiwareRecording:
    """One Actiware export: epochs, Actiware's intervals and scores, and its header."""

    t: np.ndarray  # epoch starts, UTC Unix seconds
    counts: np.ndarray  # activity counts, NaN where missing
    scoring: np.ndarray  # Actiware's sleep/wake score: 0 sleep, 1 wake, NaN unscored
    status: list[str]  # interval status per epoch (ACTIVE, REST, REST-S, EXCLUDED ...)
    rest: np.ndarray  # REST intervals, (n, 2) UTC Unix seconds
    sleep: np.ndarray  # SLEEP intervals (Actiware's sleep onset to offset), (n, 2)
    epoch_s: float
    utc_offset_s: float  # local time = UTC + offset
    header: dict[str, str]
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # file line of each epoch


def read_actiware(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t, counts, rest_intervals, scoring)`` of an Actiware export (see the module)."""
    rec = load_actiware(path)
    return rec.t, rec.counts, rec.rest, rec.scoring


def load_actiware(path: str | os.PathLike) -> ActiwareRecording:
    """Parse an Actiware CSV export; raise TraceError naming the line when it cannot."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    rows = list(csv.reader(io.StringIO(text)))
    rows = [[c.strip() for c in r] for r in rows]
    header = _header(rows)
    if not header:
        raise TraceError(f"{path}:1: not an Actiware export (no 'Key:','Value' header lines)")
    epoch_s = _epoch_length(header, path, rows)
    offset = _utc_offset(header, path, rows)
    table_at = _epoch_table(rows)
    if table_at is None:
        raise TraceError(f"{path}: no epoch-by-epoch table (a row starting 'Line','Date','Time')")
    cols = [c.lower() for c in rows[table_at]]
    i_date, i_time = _index(cols, _DATE), _index(cols, _TIME)
    i_act, i_score, i_status = _index(cols, _ACTIVITY), _index(cols, _SCORE), _index(cols, _STATUS)
    if None in (i_date, i_time, i_act):
        raise TraceError(f"{path}:{table_at + 1}: epoch table without Date, Time and Activity columns")
    body = [(n, r) for n, r in enumerate(rows[table_at + 1 :], start=table_at + 2) if r and any(r)]
    dates, times, counts, scoring, status = [], [], [], [], []
    for number, r in body:
        if len(r) <= max(i_date, i_time, i_act):
            raise TraceError(f"{path}:{number}: epoch row with {len(r)} columns")
        dates.append(r[i_date])
        times.append(r[i_time])
        counts.append(_number(r[i_act], path, number))
        scoring.append(_number(r[i_score], path, number) if i_score is not None and i_score < len(r) else np.nan)
        status.append(r[i_status] if i_status is not None and i_status < len(r) else "")
    if not body:
        raise TraceError(f"{path}:{table_at + 1}: the epoch table is empty")
    day_first = _day_first(dates, times, epoch_s, path, body[0][0])
    local = np.array([_local(d, tm, day_first, path, n) for d, tm, (n, _) in zip(dates, times, body)])
    t = local - offset
    if np.any(np.diff(t) <= 0):
        n = body[int(np.argmax(np.diff(t) <= 0)) + 1][0]
        raise TraceError(f"{path}:{n}: epoch time does not increase")
    rest, sleep = _intervals(rows, table_at, day_first, offset, path)
    return ActiwareRecording(
        t=t,
        counts=np.array(counts, dtype=float),
        scoring=np.array(scoring, dtype=float),
        status=status,
        rest=rest,
        sleep=sleep,
        epoch_s=epoch_s,
        utc_offset_s=offset,
        header=header,
        lines=np.array([n for n, _ in body], dtype=np.int64),
    )


# -- sections ------------------------------------------------------------------------
def _header(rows: list[list[str]]) -> dict[str, str]:
    """``"Key:","Value"`` lines up to the statistics table (first values only)."""
    out: dict[str, str] = {}
    for r in rows:
        if len(r) >= 2 and r[0].endswith(":"):
            out.setdefault(r[0].lower().replace("\xa0", " "), r[1])
        if r and r[0].lower() in _LINE:
            break
    return out


def _epoch_length(header: dict[str, str], path: Path, rows: list[list[str]]) -> float:
    for key in _EPOCH_KEYS:
        if key in header:
            try:
                epoch = float(header[key].replace(",", "."))
            except ValueError:
                epoch = math.nan
            if not 1 <= epoch <= 3600:  # NaN too: Actiwatches record epochs of 15 s to 2 min
                raise TraceError(f"{path}:{_header_line(rows, key)}: epoch length {header[key][:30]!r} "
                                 "is not a number of seconds from 1 to 3600")
            return epoch
    raise TraceError(f"{path}: no 'Epoch Length:' in the header")


def _utc_offset(header: dict[str, str], path: Path, rows: list[list[str]]) -> float:
    for key in _OFFSET_KEYS:
        m = re.fullmatch(r"([+-])(\d{1,2}):(\d{2})", header.get(key, ""))
        if m:
            hours, minutes = int(m.group(2)), int(m.group(3))
            if hours > 14 or minutes > 59:  # time zones run from UTC-12:00 to UTC+14:00
                raise TraceError(f"{path}:{_header_line(rows, key)}: time zone offset {header[key]!r} "
                                 "is not a time zone offset (-12:00 to +14:00)")
            sign = -1.0 if m.group(1) == "-" else 1.0
            return sign * (hours * 3600 + minutes * 60)
    return 0.0  # no offset given: the local times are taken as UTC


def _header_line(rows: list[list[str]], key: str) -> int:
    """The line of header ``key`` (as :func:`_header` spells it)."""
    for number, r in enumerate(rows, start=1):
        if r and r[0].lower().replace("\xa0", " ") == key:
            return number
    return 1


def _epoch_table(rows: list[list[str]]) -> int | None:
    """Index of the header row of the epoch table: the last 'Line' row with Activity."""
    found = None
    for i, r in enumerate(rows):
        if r and r[0].lower() in _LINE and _index([c.lower() for c in r], _ACTIVITY) is not None:
            found = i
    return found


def _index(cols: list[str], names: tuple[str, ...]) -> int | None:
    for i, c in enumerate(cols):
        if c.replace("\u2019", "’") in names or c in names:
            return i
    return None


def _intervals(rows, table_at, day_first, offset, path) -> tuple[np.ndarray, np.ndarray]:
    rest, sleep = [], []
    for number, r in enumerate(rows[:table_at], start=1):
        if len(r) < 6 or not r[1].isdigit():
            continue
        kind = r[0].lower()
        if kind in _REST or kind in ("sleep", "sommeil", "schlaf"):
            # date, time, date, time (French exports put a weekday after each date)
            fields = [f for f in r[2:] if _DATE_RE.fullmatch(f) or _TIME_RE.fullmatch(f)]
            if len(fields) < 4:
                continue  # a summary row with NaN dates
            a = _local(fields[0], fields[1], day_first, path, number) - offset
            b = _local(fields[2], fields[3], day_first, path, number) - offset
            (rest if kind in _REST else sleep).append((a, b))
    return np.array(rest, dtype=float).reshape(-1, 2), np.array(sleep, dtype=float).reshape(-1, 2)


# -- fields --------------------------------------------------------------------------
def _number(field: str, path: Path, number: int) -> float:
    f = field.strip()
    if f == "" or f.lower() in ("nan", "na", "kz", "n/a"):
        return np.nan
    try:
        return float(f.replace(",", "."))
    except ValueError:
        raise TraceError(f"{path}:{number}: not a number: {field[:30]!r}") from None


_DATE_RE = re.compile(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?")


def _local(date: str, time: str, day_first: bool, path: Path, number: int) -> float:
    """Local date and time as seconds since 1970 (as if the local time were UTC)."""
    d, tm = _DATE_RE.fullmatch(date.strip()), _TIME_RE.fullmatch(time.strip())
    if not d or not tm:
        raise TraceError(f"{path}:{number}: cannot read the date and time {date!r} {time!r}")
    a, b, c = (int(x) for x in d.groups())
    if a > 31:  # ISO order
        year, month, day = a, b, c
    elif day_first:
        day, month, year = a, b, c
    else:
        month, day, year = a, b, c
    if year < 100:
        year += 2000
    hour, minute, sec = int(tm.group(1)), int(tm.group(2)), int(tm.group(3) or 0)
    ampm = (tm.group(4) or "").lower()
    if hour > (12 if ampm else 23) or minute > 59 or sec > 59:  # 99:00 on 31/12/9999 would overflow
        raise TraceError(f"{path}:{number}: not a valid time {time!r}")
    if ampm:
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    try:
        moment = datetime(year, month, day, tzinfo=timezone.utc) + timedelta(hours=hour, minutes=minute, seconds=sec)
    except ValueError:
        raise TraceError(f"{path}:{number}: not a valid date {date!r}") from None
    return moment.timestamp()


def _day_first(dates, times, epoch_s, path, first_line) -> bool:
    """Day-first or month-first: the order under which epochs are one epoch apart."""
    firsts = {int(m.group(1)) for m in map(_DATE_RE.fullmatch, dates) if m}
    seconds = {int(m.group(2)) for m in map(_DATE_RE.fullmatch, dates) if m}
    if any(v > 12 for v in firsts) and max(firsts) <= 31:
        return True
    if any(v > 12 for v in seconds):
        return False
    # ambiguous (every day of the recording is <= 12): the order with fewer jumps
    best, fewest = True, None
    for day_first in (True, False):
        try:
            t = np.array([_local(d, tm, day_first, path, first_line) for d, tm in zip(dates, times)])
        except TraceError:
            continue
        jumps = int(np.count_nonzero(np.abs(np.diff(t) - epoch_s) > 1e-6))
        if fewest is None or jumps < fewest:
            best, fewest = day_first, jumps
    return best
