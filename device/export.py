"""``crampwatch export``: stored events as JSON lines or CSV on stdout."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

# Leading CSV columns in a fixed order; other keys follow alphabetically.
_FIRST = ["id", "type", "t", "start", "end", "ml"]


def write_jsonl(events: Iterable[dict], out: TextIO) -> int:
    count = 0
    for event in events:
        out.write(json.dumps(event, separators=(",", ":")) + "\n")
        count += 1
    return count


def write_csv(events: Iterable[dict], out: TextIO) -> int:
    rows = list(events)
    keys = {k for row in rows for k in row}
    columns = [k for k in _FIRST if k in keys] + sorted(keys - set(_FIRST))
    if not columns:
        columns = ["id", "type"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return len(rows)


def _cell(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value
