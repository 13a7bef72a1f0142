"""Hypothesis strategies for hostile network input: what MQTT payloads and API bodies may carry.

Shared by tests/test_command_fuzz.py and tests/test_dashboard_fuzz.py. A body is bytes:
JSON objects with the fields the surfaces know (numbers at and past their limits, huge
ints, 1e400, NaN, wrong types), bare JSON values, JSON nested far past Python's
recursion limit, numbers with thousands of digits, and bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import logging

from hypothesis import strategies as st

# Every limit the actions and the API check, and just past them.
EDGES = [0, 1, -1, 14, 15, 250, 249, 720, 721, 10000, 10001, 50000, 50001, 2**31, 2**53 + 1, 2**63, 2**64,
         1e10, 1e10 + 1, 1764120000, 1764120000.5, 0.5, -0.0, 1e308, 5e-324]
# Number tokens JSON allows (or Python's json accepts) whose value does not fit a float.
RAW_NUMBERS = [b"1e400", b"-1e400", b"1" + b"0" * 400, b"-" + b"9" * 400, b"9" * 4400, b"1e-400", b"NaN",
               b"Infinity", b"-Infinity", b"1E+999", b"0.000000000000000000000000000001"]
KEYS = ["ml", "t", "minutes", "wake_id", "confirmed", "night", "time", "cramp", "grams", "skip", "bottle",
        "hydration", "mqtt", "goal_ml", "rate_hz", "host", "tls", "kind", "name", "value", "day", "supplement",
        "exercise", "alcohol", "medication"]

numbers = (st.sampled_from(EDGES) | st.integers(min_value=-10**400, max_value=10**400)
           | st.floats(allow_nan=True, allow_infinity=True))
scalars = (st.none() | st.booleans() | numbers | st.text(max_size=40)
           | st.from_regex(r"\Awake-[0-9]{1,17}\Z") | st.sampled_from(["2026-11-23", "03:40", "25:00", ""]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # NaN and Infinity as Python writes them


@st.composite
def with_raw_number(draw) -> bytes:
    """An object whose one field is a number token that does not fit a float."""
    return b'{"%s": %s}' % (draw(st.sampled_from(KEYS)).encode(), draw(st.sampled_from(RAW_NUMBERS)))


@st.composite
def deeply_nested(draw) -> bytes:
    depth = draw(st.integers(min_value=1, max_value=40_000))
    kind = draw(st.sampled_from(["list", "object", "unclosed"]))
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        key = draw(st.sampled_from(KEYS)).encode()
        return b'{"%s": ' % key * depth + b"1" + b"}" * depth
    return b"[" * depth


bodies = st.one_of(
    values.map(_dumps),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=3).map(_dumps),
    with_raw_number(),
    st.sampled_from(RAW_NUMBERS),
    deeply_nested(),
    st.binary(max_size=64),  # mostly not UTF-8, mostly not JSON
    st.just(b""),
)


class Records(logging.Handler):
    """Collects log records (caplog is function-scoped; hypothesis runs many examples per test)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self):
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self)

    def tracebacks(self) -> list[str]:
        """Every record at ERROR or above, or with a traceback: none may come from input."""
        return [f"{r.name}: {r.getMessage()}" for r in self.records
                if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()]
