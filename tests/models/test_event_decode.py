"""decode_event's msgspec fast paths against the references: the published schema (jsonschema) and the orjson path.

The fast paths may only *accept*: whatever they refuse goes down the original orjson + fastjsonschema path,
so the properties checked here are "a fast path accepts => jsonschema accepts and the event is the one the
reference path builds", and "decode_event == the reference path" for every input, reasons included.

Examples per property: ``DISTILLGUARD_FUZZ_EXAMPLES`` (default 200; ``make fuzz``: 20000).
"""

from __future__ import annotations

import json
from array import array
from dataclasses import fields
from typing import Any

import jsonschema
import msgspec
import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import models.event as event_mod
from models.errors import InvalidEvent
from models.event import MAX_EVENT_BYTES, RequestEvent, decode_event, event_from_dict, load_schema
from tests.streams.fuzzing import T0, fuzz_settings, fuzz_timeout

SCHEMA = load_schema("request")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
PROPS: dict[str, dict[str, Any]] = SCHEMA["properties"]
REQUIRED: list[str] = SCHEMA["required"]
FIELDS = tuple(f.name for f in fields(RequestEvent))


def _types(name: str) -> list[str]:
    t = PROPS[name]["type"]
    return [t] if isinstance(t, str) else list(t)


INT_FIELDS = tuple(n for n in FIELDS if "integer" in _types(n))

VALID = {"request_id": "req_1", "ts": T0, "account_id": "acct_1", "model": "claude-sonnet-4", "input_tokens": 12,
         "output_tokens": 34, "org_id": "org_1", "api_key_id": "key_1", "account_created_ts": T0 - 86_400_000,
         "account_tier": "pro", "country": "GB", "payment_fingerprint": "pf_1", "client_ip": "10.0.0.1", "asn": 64500,
         "user_agent": "anthropic-sdk-python/0.42.0", "endpoint": "/v1/messages",
         "reasoning_tokens": 0, "tool_count": 2, "image_count": 0, "status": 200, "latency_ms": 950,
         "prompt": "Ünïcödé 中文 😀 \u2028 \x7f", "system_prompt": None}
VALID_RAW = orjson.dumps(VALID)


def outcome(fn: Any, raw: Any) -> tuple[Any, ...]:
    """("ok", (name, type, value) per field) or ("invalid", reason); other exceptions propagate."""
    try:
        ev = fn(raw)
    except InvalidEvent as exc:
        return ("invalid", exc.reason)
    return ("ok", tuple((f, type(getattr(ev, f)), getattr(ev, f)) for f in FIELDS))


def reference(raw: Any) -> tuple[str, Any]:
    """What the contract says: ("ok", parsed object) or ("invalid", reason kind)."""
    if raw is None:
        return ("invalid", "empty")
    if len(raw) > MAX_EVENT_BYTES:
        return ("invalid", "too_large")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ("invalid", "not_json")
    if not VALIDATOR.is_valid(parsed):
        return ("invalid", "schema")
    return ("ok", parsed)


def fast_accepts(raw: Any) -> RequestEvent | None:
    """The event the first fast path (msgspec on the bytes) builds, or None if it refuses."""
    try:
        wire = event_mod._fast_decode(raw)  # type: ignore[misc]
    except Exception:  # noqa: BLE001 - any refusal
        return None
    return RequestEvent(*msgspec.structs.astuple(wire))


def loose_accepts(obj: Any) -> RequestEvent | None:
    """The event the second fast path (msgspec.convert on orjson's dict) builds, or None if it refuses."""
    try:
        wire = msgspec.convert(obj, event_mod._LooseRequestEvent, strict=True)
    except Exception:  # noqa: BLE001 - any refusal
        return None
    return RequestEvent(*msgspec.structs.astuple(wire))


def assert_matches_reference(raw: Any) -> tuple[Any, ...]:
    got = outcome(decode_event, raw)
    if raw is not None and len(raw) <= MAX_EVENT_BYTES:
        # identical to the original orjson + fastjsonschema path, reasons included
        assert got == outcome(event_mod._decode_slow, raw)
    kind, ref = reference(raw)
    if kind == "ok":
        assert got[0] == "ok", (got, raw)
        values = {name: value for name, _, value in got[1]}
        for name in FIELDS:
            want = ref.get(name)
            if name in INT_FIELDS and isinstance(want, float):
                want = int(want)  # JSON Schema's integral floats become ints
            assert values[name] == want and type(values[name]) is type(want), (name, values[name], want)
    else:
        assert got[0] == "invalid" and got[1].split(":", 1)[0] == ref, (got, ref, raw)
    # the one thing each fast path must guarantee: what it accepts, the schema accepts, same event
    fast = fast_accepts(raw) if raw is not None and len(raw) <= MAX_EVENT_BYTES else None
    if fast is not None:
        assert kind == "ok", (raw, ref)
        assert outcome(lambda _: fast, raw) == got
    try:
        parsed = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return got
    loose = loose_accepts(parsed) if isinstance(parsed, dict) else None
    if loose is not None:
        assert kind == "ok" or ref == "too_large", (raw, ref)
        if kind == "ok":
            assert outcome(lambda _: loose, raw) == got
    return got


# --- strategies: JSON texts of event-like objects, values at and around every schema limit -------
def _num(v: int) -> st.SearchStrategy[bytes]:
    """One integer written as JSON the ways a producer might: 5, 5.0, 5e0, 5.0 (repr), and -0 for zero."""
    forms = [str(v).encode()] * 12 + [f"{v}.0".encode(), f"{v}e0".encode(), repr(float(v)).encode()]
    if v == 0:
        forms.append(b"-0")
    return st.sampled_from(forms)  # mostly plain: floats always take the reference path


def _int_values(name: str, valid: bool) -> st.SearchStrategy[bytes]:
    lo, hi = PROPS[name].get("minimum"), PROPS[name].get("maximum")
    if valid:  # inside the limits, often exactly on them
        return (st.sampled_from([lo, lo + 1, hi - 1, hi]) | st.integers(min_value=lo, max_value=hi)).flatmap(_num)
    edges = [v for b in (lo, hi) if b is not None for v in (b - 1, b, b + 1)]
    return st.one_of((st.sampled_from(edges) | st.integers()).flatmap(_num),
                     st.sampled_from([b"2147483648", b"18446744073709551615", b"18446744073709551616",
                                      b"-9223372036854775809", b"100000000000000000000000000000", b"1.5", b"0.5",
                                      b"-0.0", b"1e400", b"1E2", b"-1"]))


FILL = st.sampled_from(["x", "é", "😀", "中", "\x00", "\\", '"', "\u2028", "\x7f", "\U0010ffff"])
UTF8_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


def _str_values(name: str, valid: bool) -> st.SearchStrategy[bytes]:
    lo, hi = PROPS[name].get("minLength", 0), PROPS[name].get("maxLength")
    if valid:
        lengths = st.sampled_from([lo, lo + 1, hi - 1, hi]) | st.integers(min_value=lo, max_value=min(hi, 20))
        texts = st.builds(lambda n, c: c * n, lengths, FILL) | UTF8_TEXT.filter(lambda t: lo <= len(t) <= hi)
    else:
        lengths = st.sampled_from([n for b in (lo, hi) for n in (b - 1, b, b + 1) if n >= 0])
        texts = st.builds(lambda n, c: c * n, lengths, FILL) | st.text(max_size=30)  # lone surrogates too
    # UTF-8 text, or \uXXXX escapes (astral chars as surrogate pairs, lone surrogates as such)
    return st.one_of(texts.map(lambda s: json.dumps(s, ensure_ascii=False).encode("utf-8", "surrogatepass")),
                     texts.map(lambda s: json.dumps(s, ensure_ascii=True).encode()))


def _edge(name: str) -> st.SearchStrategy[bytes]:
    """Exactly on a limit or one past it, or null."""
    p = PROPS[name]
    if name in INT_FIELDS:
        edge = st.sampled_from([p["minimum"] - 1, p["minimum"], p["maximum"], p["maximum"] + 1]).flatmap(_num)
    else:
        lengths = [n for b in (p.get("minLength", 0), p["maxLength"]) for n in (b - 1, b, b + 1) if n >= 0]
        edge = st.builds(lambda n, c: json.dumps(c * n, ensure_ascii=False).encode(), st.sampled_from(lengths), FILL)
    return edge | st.just(b"null")


JUNK = st.sampled_from([b"null", b"true", b"false", b"0", b"1", b"-1", b"1.0", b"1.5", b'""', b'"x"', b'"1"', b'"0"',
                        b"[]", b"{}", b'["x"]', b'[1]',
                        b'{"a":[1,{"b":null}]}', b"[" * 1100 + b"]" * 1100, b"[" * 100 + b"]" * 100, b"1e400",
                        b'"\xff"', b'"\xed\xa0\x80"', b'"\\ud800"', b'"\x01"', b"NaN", b"-Infinity", b"01", b"tru"])


def _value(name: str, valid: bool) -> st.SearchStrategy[bytes]:
    if name not in PROPS:  # an unknown field: anything at all
        return JUNK | UTF8_TEXT.map(orjson.dumps) | st.integers().map(lambda v: str(v).encode())
    own = _int_values(name, valid) if name in INT_FIELDS else _str_values(name, valid)
    if valid:
        return own if name in REQUIRED else own | st.just(b"null")
    return st.one_of(own, JUNK)


@st.composite
def event_texts(draw: st.DrawFn) -> bytes:
    """Mostly a valid event (values drawn at and inside the limits), then 0-3 mutations."""
    items: list[tuple[str, bytes]] = []
    for name in FIELDS:
        if name in REQUIRED or draw(st.booleans()):
            mode = draw(st.sampled_from(["default"] * 12 + ["valid"] * 12 + ["edge"]))
            value = (orjson.dumps(VALID[name]) if mode == "default" else draw(_edge(name)) if mode == "edge"
                     else draw(_value(name, valid=True)))
            items.append((name, value))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        what = draw(st.sampled_from(["set", "set", "drop", "duplicate", "unknown"]))
        if what == "set" and items:
            i = draw(st.integers(min_value=0, max_value=len(items) - 1))
            items[i] = (items[i][0], draw(_value(items[i][0], valid=False)))
        elif what == "drop" and items:
            items.pop(draw(st.integers(min_value=0, max_value=len(items) - 1)))
        else:
            key = (draw(st.sampled_from(FIELDS)) if what == "duplicate"
                   else draw(st.sampled_from(["extra", "", "TS", "ts ", "to_dict"]) | st.text(max_size=6)))
            items.insert(draw(st.integers(min_value=0, max_value=len(items))),
                         (key, draw(_value(key, valid=draw(st.booleans())))))
    if draw(st.sampled_from([False, False, True])):  # an extra field: the record takes the second fast path
        items.append((draw(st.sampled_from(["extra", "trace_id", ""])), draw(UTF8_TEXT.map(orjson.dumps) | JUNK)))
    if draw(st.booleans()):
        items = draw(st.permutations(items))
    keys = [json.dumps(k, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass") for k, _ in items]
    sep = draw(st.sampled_from([b",", b", ", b" ,\n\t"]))
    body = b"{" + sep.join(k + b":" + v for k, (_, v) in zip(keys, items)) + b"}"
    wrap = draw(st.sampled_from([(b"", b"")] * 6 + [(b" \r\n\t", b"\n"), (b"\xef\xbb\xbf", b""), (b"", b" x"),
                                                    (b"[", b"]"), (b"", b"\x00"), (b"\x0c", b"")]))
    body = wrap[0] + body + wrap[1]
    if draw(st.sampled_from([False] * 19 + [True])):  # truncated (not st.integers: it favours 0)
        body = body[:draw(st.integers(min_value=0, max_value=len(body)))]
    return body


@st.composite
def inputs(draw: st.DrawFn) -> Any:
    """The same JSON text as bytes, bytearray, memoryview or str (str may carry lone surrogates)."""
    raw = draw(event_texts())
    kind = draw(st.sampled_from(["bytes", "bytes", "bytearray", "memoryview", "str"]))
    if kind == "bytearray":
        return bytearray(raw)
    if kind == "memoryview":
        return memoryview(raw)
    if kind == "str":
        return raw.decode("utf-8", "surrogateescape")
    return raw


@fuzz_timeout
@fuzz_settings
@given(raw=inputs())
@example(raw=VALID_RAW)
@example(raw=VALID_RAW.decode())
@example(raw=VALID_RAW.replace(b'"asn":64500', b'"asn":true'))
@example(raw=VALID_RAW.replace(b'"ts":' + str(T0).encode(), b'"ts":true'))
@example(raw=VALID_RAW.replace(b'"ts":' + str(T0).encode(), b'"ts":1e3'))
@example(raw=VALID_RAW.replace(b'"status":200', b'"status":599,"status":600'))
@example(raw=VALID_RAW.replace(b'"status":200', b'"status":600,"status":599'))
@example(raw=VALID_RAW.replace(b'"prompt":', b'"x":"\xff","prompt":'))
@example(raw=VALID_RAW.replace(b'"prompt":', b'"x":' + b"[" * 1100 + b"]" * 1100 + b',"prompt":'))
def test_decode_event_agrees_with_jsonschema_and_the_reference_path(raw: Any) -> None:
    assert_matches_reference(raw)


# --- concrete examples ------------------------------------------------------------------------
def _with(**changes: Any) -> dict[str, Any]:
    obj = dict(VALID)
    for k, v in changes.items():
        if v is ...:
            obj.pop(k, None)
        else:
            obj[k] = v
    return obj


def test_fast_paths_are_active_and_build_the_same_event() -> None:
    assert event_mod._fast_decode is not None, "the schema uses a keyword the fast path does not mirror"
    assert event_mod._LooseRequestEvent is not None
    ev = fast_accepts(VALID_RAW)
    assert ev is not None and ev == event_mod._decode_slow(VALID_RAW) == RequestEvent(**VALID)
    assert loose_accepts({**VALID, "extra": [1, {"a": None}]}) == ev
    assert type(ev) is RequestEvent and ev.to_dict() == VALID
    ev.ts += 1  # still the mutable slots dataclass the engine expects
    assert ev.ts == T0 + 1
    assert fast_accepts(VALID_RAW[:-1] + b',"extra":1}') is None  # unknown fields: orjson first
    # decode_event gives the second fast path a try on exactly this msgspec refusal
    with pytest.raises(msgspec.ValidationError, match="^" + event_mod._UNKNOWN_FIELD):
        event_mod._fast_decode(VALID_RAW[:-1] + b',"extra":1}')  # type: ignore[misc]


def test_extra_fields_take_the_second_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_reference_path(obj: Any) -> RequestEvent:
        raise AssertionError("took the fastjsonschema path")

    monkeypatch.setattr(event_mod, "event_from_dict", no_reference_path)
    assert decode_event(VALID_RAW[:-1] + b',"extra":{"a":[1,"\\u00e9"]}}') == RequestEvent(**VALID)
    assert decode_event(b'{"extra":null,' + VALID_RAW[1:]) == RequestEvent(**VALID)


@pytest.mark.parametrize("path", ["bytes", "extra-field", "float-ts"])
@pytest.mark.parametrize("name", FIELDS)
def test_every_limit_of_every_field(name: str, path: str) -> None:
    """On and just past each limit, and wrong types, down each path: msgspec on the bytes; a leading extra field
    (msgspec.convert on orjson's dict); an integral float ts (fastjsonschema)."""
    p = PROPS[name]
    if name in INT_FIELDS:
        values: list[Any] = [p["minimum"] - 1, p["minimum"], p["maximum"], p["maximum"] + 1, float(p["maximum"]),
                             float(p["minimum"]), 1.5, True, False, None, "1", str(p["minimum"]), [1], 2**64, -(2**63)]
    else:
        values = [c * n for n in {p.get("minLength", 0), max(p.get("minLength", 0) - 1, 0), p["maxLength"],
                                  p["maxLength"] + 1} for c in ("x", "😀")] + [None, 1, True, ["x"], {}]
    for v in values:
        obj = {"extra": "x", **VALID} if path == "extra-field" else dict(VALID)
        if path == "float-ts":
            obj["ts"] = float(T0)
        obj[name] = v
        got = assert_matches_reference(json.dumps(obj, ensure_ascii=False).encode())
        assert (got[0] == "ok") == VALIDATOR.is_valid(obj), (name, v)
        assert (loose_accepts(obj) is not None) <= VALIDATOR.is_valid(obj), (name, v)


@pytest.mark.parametrize("raw, reason", [
    (None, "empty: no value"),
    (b"x" * (MAX_EVENT_BYTES + 1), f"too_large: {MAX_EVENT_BYTES + 1} bytes > {MAX_EVENT_BYTES}"),
    (b'{"ts": 1}', "schema: data must contain ['account_id', 'input_tokens', 'model', 'output_tokens', "
                   "'request_id'] properties"),
    (b"[]", "schema: event must be a JSON object, got list"),
    (b"", "not_json: Input is a zero-length, empty document: line 1 column 1 (char 0)"),
    (orjson.dumps(_with(ts=True)), "schema: data.ts must be integer"),
    (orjson.dumps(_with(input_tokens=False)), "schema: data.input_tokens must be integer"),
    (orjson.dumps(_with(asn=True)), "schema: data.asn must be integer or null"),
    (orjson.dumps(_with(status=99)), "schema: data.status must be bigger than or equal to 100"),
    (orjson.dumps(_with(request_id=None)), "schema: data.request_id must be string"),
    (orjson.dumps(_with(model="")), "schema: data.model must be longer than or equal to 1 characters"),
    (orjson.dumps(_with(ts=1.5)), "schema: data.ts must be integer"),
    # refused by orjson though msgspec would skip them in an unknown field: still not_json
    (VALID_RAW[:-1] + b',"x":"\xff"}', "not_json: str is not valid UTF-8: surrogates not allowed: line 1 column 1 "
                                        "(char 0)"),
    (VALID_RAW[:-1] + b',"x":1e400}', None),
    (VALID_RAW[:-1] + b',"x":' + b"[" * 1100 + b"]" * 1100 + b"}", None),
    (VALID_RAW.decode()[:-1] + ',"x":"\ud800"}', "not_json: str is not valid UTF-8: surrogates not allowed: line 1 "
                                                 "column 1 (char 0)"),
    (b"\xef\xbb\xbf" + VALID_RAW, "not_json: UTF-8 byte order mark (BOM) is not supported: line 1 column 1 (char 0)"),
])
def test_rejections_keep_their_reason(raw: Any, reason: str | None) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    if reason is None:
        assert info.value.reason.startswith("not_json: "), info.value.reason
    else:
        assert info.value.reason == reason
    if raw is not None and len(raw) <= MAX_EVENT_BYTES:
        assert fast_accepts(raw) is None
        with pytest.raises(InvalidEvent) as slow:
            event_mod._decode_slow(raw)
        assert slow.value.reason == info.value.reason


@pytest.mark.parametrize("raw, expected", [
    (orjson.dumps(_with(ts=float(T0), input_tokens=2.0, asn=64500.0)), _with(ts=T0, input_tokens=2, asn=64500)),
    (VALID_RAW.replace(str(T0).encode(), b"1767225600000e0"), VALID),
    (VALID_RAW.replace(b'"image_count":0', b'"image_count":-0'), VALID),
    (VALID_RAW[:-1] + b',"extra":{"a":[1,2]},"ts":' + str(T0 + 5).encode() + b"}", _with(ts=T0 + 5)),  # last key wins
    (VALID_RAW.replace(b'"asn":64500', b'"asn":1,"asn":64500'), VALID),
    (VALID_RAW.replace(b'"asn":64500', b'"asn":1.5,"asn":64500'), VALID),
    (VALID_RAW[:-1] + b',"extra":"\xc3\xa9","":[1e300,{"x":null}],"ts":1e0}', _with(ts=1)),
    (VALID_RAW.replace(b'"model"', b'"mod\\u0065l"'), VALID),
    (b" \r\n\t" + VALID_RAW + b"\n", VALID),
    (orjson.dumps({k: VALID[k] for k in REQUIRED}), {k: VALID[k] for k in REQUIRED}),
    (orjson.dumps(_with(prompt="😀" * 200_000, user_agent="é" * 1024)), _with(prompt="😀" * 200_000,
                                                                               user_agent="é" * 1024)),
    (json.dumps(_with(prompt="😀 \x00 \u2028")).encode(), _with(prompt="😀 \x00 \u2028")),  # \ud83d\ude00 escapes
])
def test_accepted_records(raw: bytes, expected: dict[str, Any]) -> None:
    want = RequestEvent(**expected)
    for value in (raw, bytearray(raw), memoryview(raw), raw.decode()):
        ev = decode_event(value)
        assert ev == want
        assert all(type(getattr(ev, f)) is type(getattr(want, f)) for f in FIELDS)
    assert_matches_reference(raw)


def test_odd_buffers_behave_as_before() -> None:
    strided = memoryview(VALID_RAW + b" ")[::2]
    ints = memoryview(array("i", [0x22222222] * 3))
    for raw in (strided, ints):
        assert outcome(decode_event, raw) == outcome(event_mod._decode_slow, raw)
    with pytest.raises(TypeError):
        decode_event(123)  # type: ignore[arg-type]


def test_event_from_dict_is_unchanged() -> None:
    assert event_from_dict(dict(VALID)) == RequestEvent(**VALID)
    assert event_from_dict({**VALID, "ts": float(T0), "extra": object()}).ts == T0
    with pytest.raises(InvalidEvent, match="^schema: event must be a JSON object, got list$"):
        event_from_dict([])


@pytest.mark.parametrize("change", [
    {"pattern": "^req_"}, {"enum": ["a"]}, {"format": "uuid"}, {"type": "number"}, {"type": ["string", "integer"]},
    {"maxLength": 2.5},
])
def test_schema_keywords_the_fast_path_cannot_mirror_switch_it_off(change: dict[str, Any]) -> None:
    schema = json.loads(json.dumps(SCHEMA))
    schema["properties"]["request_id"].update(change)
    assert event_mod._fast_struct(schema) is None
    assert event_mod._fast_struct(schema, forbid_unknown_fields=False) is None
    assert event_mod._fast_struct(SCHEMA) is not None
    assert event_mod._fast_struct({**SCHEMA, "additionalProperties": False}) is None
    assert event_mod._fast_struct({**SCHEMA, "properties": {**SCHEMA["properties"], "new": {"type": "string"}}}) is None
