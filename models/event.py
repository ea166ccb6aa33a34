"""The request event contract: decode bytes into a :class:`RequestEvent` or raise.

The contract is written once, in ``models/schemas/request.schema.json``; this module
compiles that file with fastjsonschema (generated Python, a few µs per event) and
validates every event against it. Unknown fields are ignored. Times are epoch ms,
sizes are tokens.

>>> ev = decode_event(b'{"request_id":"r1","ts":1,"account_id":"a","model":"m",'
...                   b'"input_tokens":3,"output_tokens":4,"extra":1}')
>>> ev.account_id, ev.output_tokens, ev.prompt
('a', 4, None)
>>> decode_event(b'{"ts": 1}')
Traceback (most recent call last):
...
models.errors.InvalidEvent: schema: data must contain ['account_id', 'input_tokens', 'model', 'output_tokens', 'request_id'] properties
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

from models.errors import InvalidEvent

__all__ = [
    "MAX_EVENT_BYTES",
    "RequestEvent",
    "decode_event",
    "event_from_dict",
    "load_schema",
]

#: Hard cap on one encoded event; larger records are dead-lettered before parsing
#: (a 10 MB prompt must not cost a worker 10 MB of parsing per event).
MAX_EVENT_BYTES = 1_000_000


def load_schema(name: str) -> dict[str, Any]:
    """Return one of the published JSON Schemas (``request``, ``alert``, ``enforcement``, ``feedback``)."""
    text = resources.files("models.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


_validate_request = fastjsonschema.compile(load_schema("request"))


@dataclass(slots=True)
class RequestEvent:
    """One API exchange. Times in epoch ms, sizes in tokens; optional fields may be None."""

    request_id: str
    ts: int
    account_id: str
    model: str
    input_tokens: int
    output_tokens: int
    org_id: str | None = None
    api_key_id: str | None = None
    account_created_ts: int | None = None
    account_tier: str | None = None
    country: str | None = None
    payment_fingerprint: str | None = None
    client_ip: str | None = None
    asn: int | None = None
    user_agent: str | None = None
    endpoint: str | None = None
    reasoning_tokens: int | None = None
    tool_count: int | None = None
    image_count: int | None = None
    status: int | None = None
    latency_ms: int | None = None
    prompt: str | None = None
    system_prompt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (None fields kept)."""
        return asdict(self)


_FIELDS = tuple(f.name for f in fields(RequestEvent))
_INT_FIELDS = ("ts", "input_tokens", "output_tokens", "account_created_ts", "asn", "reasoning_tokens",
               "tool_count", "image_count", "status", "latency_ms")


def event_from_dict(obj: Any) -> RequestEvent:
    """Validate a decoded JSON object against the schema and build the event.

    Raises :class:`InvalidEvent` with a human-readable reason.
    """
    if not isinstance(obj, dict):
        raise InvalidEvent(f"schema: event must be a JSON object, got {type(obj).__name__}")
    try:
        _validate_request(obj)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise InvalidEvent(f"schema: {exc.message}") from exc
    # JSON booleans are ints to Python: reject them where the schema means a number.
    for name in ("ts", "input_tokens", "output_tokens"):
        if isinstance(obj[name], bool):
            raise InvalidEvent(f"schema: data.{name} must be integer")
    values = {k: obj[k] for k in _FIELDS if k in obj}
    # JSON Schema counts 1.0 as an integer; the engine needs real ints (window keys, alert ids
    # hashed from ``ts``), so integral floats the schema let through become ints here.
    for name in _INT_FIELDS:
        value = values.get(name)
        if isinstance(value, float):
            values[name] = int(value)
    return RequestEvent(**values)


def decode_event(raw: bytes | bytearray | memoryview | str) -> RequestEvent:
    """Parse and validate one encoded event. Raises :class:`InvalidEvent` with the reason."""
    if raw is None:
        raise InvalidEvent("empty: no value")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"too_large: {len(raw)} bytes > {MAX_EVENT_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not_json: {exc}") from exc
    return event_from_dict(obj)
