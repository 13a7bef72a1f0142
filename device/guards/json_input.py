"""JSON from the network (MQTT command payloads, dashboard API bodies), parsed strictly.

Only what RFC 8259 allows, in UTF-8: ``NaN`` and ``Infinity`` are not numbers, and
nesting too deep for Python's parser is refused rather than raising RecursionError.
Every refusal is a :class:`BadJson` (a ValueError) whose message completes "the input
is ...". A number too large for a float (``1e400``) still parses, as infinity, and an
integer of hundreds of digits as an int: the caller's range check refuses both.

>>> loads(b'{"ml": 2000}')
{'ml': 2000}
>>> loads(b"[" * 5000)
Traceback (most recent call last):
...
device.guards.json_input.BadJson: nested too deeply
>>> loads(b"NaN")
Traceback (most recent call last):
...
device.guards.json_input.BadJson: not JSON (NaN is not a number)
"""

from __future__ import annotations

import json
from typing import Any

from vocabulary.errors import CrampwatchError


class BadJson(CrampwatchError, ValueError):
    """Network input that is not (strict) JSON."""


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def loads(data: bytes | str) -> Any:
    """The JSON value in ``data`` (UTF-8 when bytes), else BadJson saying why."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadJson("not valid UTF-8") from None
    try:
        return json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise BadJson("nested too deeply") from None
    except ValueError as exc:  # a syntax error, a constant, an int of more than 4,300 digits
        raise BadJson(f"not JSON ({str(exc)[:120]})") from None
