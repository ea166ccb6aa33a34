"""Fuzzing the request decoder: hostile bytes either decode to a valid event or raise InvalidEvent.

Examples per property: ``DISTILLGUARD_FUZZ_EXAMPLES`` (default 200; ``make fuzz``: 20000).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from models.errors import InvalidEvent
from models.event import MAX_EVENT_BYTES, RequestEvent, decode_event, load_schema
from tests.streams.fuzzing import (
    OPTIONAL_INT,
    OPTIONAL_STR,
    T0,
    event_dicts,
    fuzz_settings,
    fuzz_timeout,
    raw_records,
)

SCHEMA = load_schema("request")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
REASON_KINDS = {"empty", "too_large", "not_json", "schema"}
INT_FIELDS = {"ts", "input_tokens", "output_tokens", *OPTIONAL_INT}


def decode_outcome(raw: Any) -> RequestEvent | InvalidEvent:
    """decode_event's result or its InvalidEvent; any other exception fails the test."""
    try:
        return decode_event(raw)
    except InvalidEvent as exc:
        return exc


def assert_valid_event(ev: RequestEvent) -> None:
    """A decoded event satisfies the published schema, with real ints and strs."""
    data = ev.to_dict()
    VALIDATOR.validate(data)
    for f in fields(RequestEvent):
        value = getattr(ev, f.name)
        if value is None:
            continue
        if f.name in INT_FIELDS:
            assert type(value) is int, (f.name, value)
        else:
            assert type(value) is str, (f.name, value)


@fuzz_timeout
@fuzz_settings
@given(raw=raw_records())
@example(raw=b'{"request_id":"r","ts":1.0,"account_id":"a","model":"m","input_tokens":2.0,"output_tokens":1}')
@example(raw=b'{"request_id":"r","ts":NaN,"account_id":"a","model":"m","input_tokens":1,"output_tokens":1}')
@example(raw=b'{"request_id":"r","ts":1,"account_id":"a","model":"m","input_tokens":1,"output_tokens":1e999}')
@example(raw=b'{"request_id":"\xff","ts":1,"account_id":"a","model":"m","input_tokens":1,"output_tokens":1}')
@example(raw=None)
def test_fuzz_decoder_returns_valid_event_or_invalid_with_reason(raw: bytes | None) -> None:
    outcome = decode_outcome(raw)
    if isinstance(outcome, InvalidEvent):
        assert isinstance(outcome.reason, str) and outcome.reason
        assert outcome.reason.split(":", 1)[0] in REASON_KINDS, outcome.reason
        assert len(outcome.reason) < 2000  # reasons go to the dead-letter topic, not whole inputs
    else:
        assert_valid_event(outcome)


@fuzz_timeout
@fuzz_settings
@given(obj=event_dicts())
def test_fuzz_decoder_agrees_with_the_published_schema(obj: dict[str, Any]) -> None:
    """Differential: accepted exactly when the JSON Schema (jsonschema, 2020-12) accepts it."""
    try:
        raw = orjson.dumps(obj)
    except (orjson.JSONEncodeError, TypeError):
        return  # not representable as strict JSON (NaN is encoded as null by orjson, huge ints fail)
    outcome = decode_outcome(raw)
    parsed = orjson.loads(raw)
    schema_ok = VALIDATOR.is_valid(parsed) and len(raw) <= MAX_EVENT_BYTES
    if schema_ok:
        assert isinstance(outcome, RequestEvent), (outcome, parsed)
        assert_valid_event(outcome)
        for name in ("request_id", "account_id", "model"):
            assert getattr(outcome, name) == parsed[name]
        for name in ("ts", "input_tokens", "output_tokens"):
            assert getattr(outcome, name) == parsed[name]
    else:
        assert isinstance(outcome, InvalidEvent), (outcome, parsed)
        assert outcome.reason.split(":", 1)[0] in {"schema", "too_large"}


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    ev = {
        "request_id": draw(st.text(min_size=1, max_size=256)),
        "ts": draw(st.integers(min_value=0, max_value=32_503_680_000_000)),
        "account_id": draw(st.text(min_size=1, max_size=256)),
        "model": draw(st.text(min_size=1, max_size=256)),
        "input_tokens": draw(st.integers(min_value=0, max_value=10_000_000)),
        "output_tokens": draw(st.integers(min_value=0, max_value=10_000_000)),
    }
    for name in draw(st.lists(st.sampled_from(OPTIONAL_STR), unique=True)):
        ev[name] = draw(st.none() | st.text(max_size=64))
    extra = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in RequestEvent.__slots__))
    ev[extra] = draw(st.integers() | st.text())
    return ev


@fuzz_timeout
@fuzz_settings
@given(obj=valid_events())
def test_fuzz_decoder_accepts_every_valid_event(obj: dict[str, Any]) -> None:
    """Extra fields are ignored; any text (control chars, astral planes) within limits passes."""
    try:
        raw = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return  # lone surrogates cannot be UTF-8 encoded: not a valid event on the wire
    ev = decode_event(raw)
    assert_valid_event(ev)
    assert {k: getattr(ev, k) for k in obj if hasattr(ev, k)} == {k: v for k, v in obj.items()
                                                                if k in RequestEvent.__slots__}


@pytest.mark.parametrize("raw, kind", [
    (b"", "not_json"),
    (None, "empty"),
    (b"[" * 100_000 + b"]" * 100_000, "not_json"),  # nesting beyond orjson's depth limit
    (b'"' + b"x" * (MAX_EVENT_BYTES + 1) + b'"', "too_large"),
    (b'{"request_id":"r","ts":Infinity,"account_id":"a","model":"m","input_tokens":1,"output_tokens":1}',
     "not_json"),
    (orjson.dumps({"request_id": "r", "ts": 32_503_680_000_001, "account_id": "a", "model": "m",
                   "input_tokens": 1, "output_tokens": 1}), "schema"),  # after year 3000
    (orjson.dumps({"request_id": "r", "ts": -1, "account_id": "a", "model": "m",
                   "input_tokens": 1, "output_tokens": 1}), "schema"),
    (orjson.dumps({"request_id": "r", "ts": T0, "account_id": "a", "model": "m",
                   "input_tokens": 1, "output_tokens": 10_000_001}), "schema"),
    (orjson.dumps({"request_id": "r", "ts": T0, "account_id": "a", "model": "m", "input_tokens": 1,
                   "output_tokens": 1, "prompt": "p" * 200_001}), "schema"),
])
def test_decoder_known_hostile_inputs(raw: bytes | None, kind: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert info.value.reason.startswith(kind + ":"), info.value.reason


def test_integral_float_timestamps_become_ints() -> None:
    """JSON Schema counts 1.0 as an integer; the event must still carry an int (found by fuzzing)."""
    ev = decode_event(b'{"request_id":"r","ts":1767225600000.0,"account_id":"a","model":"m",'
                      b'"input_tokens":2.0,"output_tokens":3,"asn":64500.0}')
    assert (ev.ts, ev.input_tokens, ev.asn) == (T0, 2, 64500)
    assert type(ev.ts) is int and type(ev.input_tokens) is int and type(ev.asn) is int
