"""The request event contract: decode bytes into a :class:`RequestEvent` or raise.

The contract is written once, in ``models/schemas/request.schema.json``; this module
compiles that file with fastjsonschema and validates events against it. Unknown fields
are ignored. Times are epoch ms, sizes are tokens.

:func:`decode_event` has two fast paths, both built from that same schema file: msgspec
Structs whose field types and constraints (string / integer / null, minimum/maximum,
minLength/maxLength, required) are generated from it.

1. The record's bytes go straight to a msgspec JSON decoder that forbids unknown fields
   and takes no floats, booleans or anything else outside that narrow grammar.
2. Refused there, the record is parsed with orjson exactly as before. If the refusal was an
   extra field, orjson's dict is checked by ``msgspec.convert`` against the same
   constraints, unknown keys ignored.

Whatever either fast path accepts the schema accepts, with the same values orjson would
give. Whatever they refuse goes on to the original fastjsonschema path, so every
rejection and its reason string is exactly what it always was.

>>> ev = decode_event(b'{"request_id":"r1","ts":1,"account_id":"a","model":"m",'
...                   b'"input_tokens":3,"output_tokens":4,"extra":1}')
>>> ev.account_id, ev.output_tokens, ev.prompt
('a', 4, None)
>>> decode_event(b'{"request_id":"r1","ts":1.0,"account_id":"a","model":"m",'
...              b'"input_tokens":3,"output_tokens":4,"asn":null}').ts
1
>>> decode_event(b'{"ts": 1}')
Traceback (most recent call last):
...
models.errors.InvalidEvent: schema: data must contain ['account_id', 'input_tokens', 'model', 'output_tokens', 'request_id'] properties
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from importlib import resources
from typing import Annotated, Any, Callable, Optional

import fastjsonschema
import msgspec
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


_REQUEST_SCHEMA = load_schema("request")
_validate_request = fastjsonschema.compile(_REQUEST_SCHEMA)


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


# --- fast paths ------------------------------------------------------------------------------
# Keywords the generated Structs understand. Any other keyword in the schema (pattern, enum,
# format, exclusiveMinimum, ...) could make the schema stricter than the Structs, so the fast
# paths are then switched off (``_fast_decode`` / ``_LooseRequestEvent`` None) rather than risk
# accepting too much.
_TOP_KEYWORDS = frozenset({"$schema", "$id", "$comment", "title", "description", "type", "required", "properties"})
_ANNOTATIONS = frozenset({"$comment", "title", "description"})
_STRING_KEYWORDS = _ANNOTATIONS | {"type", "minLength", "maxLength"}
_INTEGER_KEYWORDS = _ANNOTATIONS | {"type", "minimum", "maximum"}


def _limit(prop: dict[str, Any], key: str) -> int | None:
    value = prop.get(key)
    if value is not None and type(value) is not int:
        raise ValueError(f"{key}={value!r}")
    return value


def _fast_struct(schema: dict[str, Any], forbid_unknown_fields: bool = True) -> type[msgspec.Struct] | None:
    """A msgspec Struct mirroring ``schema`` field by field, or None if the schema uses more than it can mirror.

    Fields are in :class:`RequestEvent` order (so ``astuple`` gives its positional arguments),
    optional fields default to None like the dataclass, and unknown fields are refused unless
    ``forbid_unknown_fields`` is False.
    """
    props = schema.get("properties")
    required = schema.get("required", [])
    if (set(schema) - _TOP_KEYWORDS or schema.get("type") != "object" or not isinstance(props, dict)
            or set(props) != set(_FIELDS) or not set(required) <= set(props)):
        return None
    defaults = {f.name: f.default for f in fields(RequestEvent)}
    specs: list[tuple[Any, ...]] = []
    try:
        for name in _FIELDS:
            prop = props[name]
            types = prop.get("type")
            types = [types] if isinstance(types, str) else list(types or ())
            nullable = "null" in types
            kinds = [t for t in types if t != "null"]
            if kinds == ["string"] and not set(prop) - _STRING_KEYWORDS:
                typ: Any = Annotated[str, msgspec.Meta(min_length=_limit(prop, "minLength"),
                                                       max_length=_limit(prop, "maxLength"))]
            elif kinds == ["integer"] and not set(prop) - _INTEGER_KEYWORDS:
                # msgspec ``int`` takes JSON integers only: never true/false, never 1.0 or 1e3.
                typ = Annotated[int, msgspec.Meta(ge=_limit(prop, "minimum"), le=_limit(prop, "maximum"))]
            else:
                return None
            if nullable:
                typ = Optional[typ]
            if name in required:
                specs.append((name, typ))
            elif defaults[name] is None:
                specs.append((name, typ, None))
            else:
                return None
    except ValueError:
        return None
    struct_name = "_WireRequestEvent" if forbid_unknown_fields else "_LooseRequestEvent"
    # gc=False: instances hold only str / int / None and live for one call
    return msgspec.defstruct(struct_name, specs, kw_only=True, forbid_unknown_fields=forbid_unknown_fields,
                             gc=False, module=__name__)


# Unknown fields are forbidden when decoding bytes: msgspec skips an unknown field's value more
# leniently than orjson parses it (invalid UTF-8 in its strings, 1e400, nesting past orjson's
# depth limit), and such a record must stay ``not_json``. Once orjson has parsed the record,
# unknown keys are harmless and the second Struct ignores them, as the schema does.
_WireRequestEvent = _fast_struct(_REQUEST_SCHEMA)
_LooseRequestEvent = _fast_struct(_REQUEST_SCHEMA, forbid_unknown_fields=False)
#: ``bytes | str -> _WireRequestEvent``, raising on anything outside the schema; None when disabled.
_fast_decode: Callable[[Any], Any] | None = (
    msgspec.json.Decoder(_WireRequestEvent, strict=True).decode if _WireRequestEvent is not None else None)
_astuple = msgspec.structs.astuple
_convert = msgspec.convert
#: how msgspec words the refusal of an extra field (``Object contains unknown field `x```)
_UNKNOWN_FIELD = "Object contains unknown field"


def _decode_slow(raw: bytes | bytearray | memoryview | str) -> RequestEvent:
    """The reference path, what :func:`decode_event` did before the fast paths: orjson, :func:`event_from_dict`."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not_json: {exc}") from exc
    return event_from_dict(obj)


def decode_event(raw: bytes | bytearray | memoryview | str) -> RequestEvent:
    """Parse and validate one encoded event. Raises :class:`InvalidEvent` with the reason."""
    if raw is None:
        raise InvalidEvent("empty: no value")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"too_large: {len(raw)} bytes > {MAX_EVENT_BYTES}")
    second_try = False
    if _fast_decode is not None:
        try:
            wire = _fast_decode(raw)
        except msgspec.ValidationError as exc:
            # Only an extra field is worth the second fast path; the other refusals (floats, limits,
            # missing fields) would fail it too, and a refusal costs a few µs.
            second_try = str(exc).startswith(_UNKNOWN_FIELD)
        except Exception:  # noqa: BLE001 - any refusal (msgspec, UTF-8, buffer type): the reference path decides
            pass
        else:
            return RequestEvent(*_astuple(wire))
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not_json: {exc}") from exc
    if second_try and type(obj) is dict:
        try:
            wire = _convert(obj, _LooseRequestEvent, strict=True)
        except Exception:  # noqa: BLE001 - floats, booleans, out of range, missing...: fastjsonschema decides
            pass
        else:
            return RequestEvent(*_astuple(wire))
    return event_from_dict(obj)
