"""``crampwatch export``: stored events as JSON lines or CSV on stdout.

Drinks carry ``source`` (``bottle``: detected, ``manual``: logged by hand) and ``kind``;
drinks stored before those existed are exported as the bottle's water. The export is the
store as it is, append-only: a correction or deletion of a drink is its own row (type
``drink_change``, naming the drink in ``drink_id``), never a rewritten drink
(``--summaries`` applies them: :mod:`device.drinks`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from device.drinks import DEFAULTS

# Leading CSV columns in a fixed order; other keys follow alphabetically.
_FIRST = ["id", "type", "t", "start", "end", "ml", "kind", "source"]


def complete(events: Iterable[dict]) -> Iterator[dict]:
    """The events with every drink's ``source`` and ``kind`` (defaults for older drinks)."""
    for event in events:
        yield event | {k: v for k, v in DEFAULTS.items() if k not in event} if event.get("type") == "drink" else event


def write_jsonl(events: Iterable[dict], out: TextIO) -> int:
    count = 0
    for event in complete(events):
        out.write(json.dumps(event, separators=(",", ":")) + "\n")
        count += 1
    return count


def write_csv(events: Iterable[dict], out: TextIO) -> int:
    rows = list(complete(events))
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
