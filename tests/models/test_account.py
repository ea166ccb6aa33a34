"""Per-account window features on hand-made sequences (event time in ms)."""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import orjson
import pytest

from models.account import AccountState
from models.state import dumps, loads
from tests.models.fixtures import HOUR, MIN, T0

SIG = NS(template=7, simhash=1, intents=(0.0,) * 8)


def ev(**kw: object) -> NS:
    base = dict(model="m", output_tokens=100, reasoning_tokens=None, tool_count=None, image_count=None,
                status=200, client_ip="10.0.0.1")
    base.update(kw)
    return NS(**base)


def feed(times: list[int], st: AccountState | None = None, sig: NS = SIG, **kw: object) -> AccountState:
    st = st or AccountState.new(created_ts=T0 - 365 * 86_400_000, tier="pro")
    for t in times:
        st.update(ev(**kw), t, 8, 16, False)
        st.update_text(sig, 0.5, 0.05, 16, 16)
    return st


def test_request_windows_slide_with_event_time() -> None:
    st = feed([T0 + i * MIN for i in range(30)])  # 30 requests in 30 minutes
    f = st.features(T0 + 29 * MIN)
    assert f["req_1h"] == 30 and f["req_24h"] == 30
    later = st.features(T0 + 29 * MIN + 45 * MIN)  # 45 minutes later the first 15 are out of the hour
    assert later["req_1h"] == 15
    assert st.features(T0 + 3 * HOUR)["req_1h"] == 0
    assert st.features(T0 + 3 * HOUR)["req_24h"] == 30


def test_inter_arrival_regularity() -> None:
    regular = feed([T0 + i * 30_000 for i in range(60)]).features(T0 + HOUR)
    gaps = [5, 200, 30, 900, 2, 60, 400, 10, 1500, 45] * 6
    times, t = [], T0
    for g in gaps:
        t += g * 1000
        times.append(t)
    bursty = feed(times).features(t)
    assert regular["cv_gap"] < 0.1
    assert bursty["cv_gap"] > 0.8


def test_hour_of_day_entropy_and_active_hours() -> None:
    one_hour = feed([T0 + i * MIN for i in range(50)]).features(T0 + 50 * MIN)
    all_day = feed([T0 + h * HOUR + 5 * MIN for h in range(24)]).features(T0 + 23 * HOUR + 6 * MIN)
    assert one_hour["hour_entropy"] == 0.0
    assert all_day["hour_entropy"] == pytest.approx(math.log2(24), abs=0.01)
    assert all_day["active_frac"] == 1.0


def test_template_repetition_and_duplicates() -> None:
    st = AccountState.new(None, None)
    for i in range(20):  # one wrapper, 20 different payloads
        feed([T0 + i * MIN], st=st, sig=NS(template=42, simhash=i, intents=(0.0,) * 8))
    f = st.features(T0 + 20 * MIN)
    assert f["top_template_share"] == 1.0 and f["dup_rate"] == 0.0
    st2 = AccountState.new(None, None)
    for i in range(20):  # the same payload resent (retries)
        feed([T0 + i * MIN], st=st2, sig=NS(template=42, simhash=99, intents=(0.0,) * 8))
    assert st2.features(T0 + 20 * MIN)["dup_rate"] == pytest.approx(19 / 20)


def test_output_maximisation_and_error_shares() -> None:
    st = feed([T0 + i * MIN for i in range(10)], output_tokens=5000, reasoning_tokens=3000, status=429)
    f = st.features(T0 + 10 * MIN)
    assert f["reasoning_share"] == 1.0 and f["long_output_share"] == 1.0 and f["xlong_output_share"] == 1.0
    assert f["rate429"] == 1.0 and f["error_rate"] == 0.0


def test_late_events_are_counted_without_rewinding_windows() -> None:
    st = feed([T0 + 10 * MIN, T0 + 11 * MIN])
    feed([T0], st=st)  # arrives late
    assert st.n == 3 and st.last_ts == T0 + 11 * MIN
    assert st.features(T0 + 11 * MIN)["req_1h"] == 3


def test_state_round_trips_through_its_encoding() -> None:
    st = feed([T0 + i * MIN for i in range(12)])
    back = AccountState.from_json(loads(dumps(st.to_json())))
    assert back.features(T0 + 12 * MIN) == st.features(T0 + 12 * MIN)


def test_paraphrased_wrappers_count_as_one_template_and_payload_repeats_as_duplicates() -> None:
    from models.text import text_signals

    judge = ("You are an expert grader. Read the two answers below carefully and decide which one is better.\n{}\n"
             "Output your final verdict strictly as [[A]] or [[B]] please.")
    variants = [judge, judge.replace("grader", "judge"), judge.replace("expert", "EXPERT").replace("better", "best")]
    st = AccountState.new(None, None)
    for i in range(12):
        payload = f"Answer A: option {i} is right because of reason {i * 7}. Answer B: option {i + 1} is right."
        sig = text_signals(variants[i % 3].format(payload))
        st.update(ev(), T0 + i * MIN, 8, 16, False)
        st.update_text(sig, 0.5, 0.05, 16, 16)
    f = st.features(T0 + 12 * MIN)
    assert f["top_template_share"] == 1.0  # three wordings, one template
    assert f["dup_rate"] == 0.0  # every payload differs
    for _ in range(4):  # the same request resent
        st.update(ev(), T0 + 13 * MIN, 8, 16, False)
        st.update_text(text_signals(variants[0].format("same payload")), 0.5, 0.05, 16, 16)
    assert st.n_dup == 3


def test_a_state_record_reads_back_the_same_and_one_written_as_json_before_still_reads() -> None:
    # a state with every kind of value: rings, top-k templates with 64-bit ids, floats, dicts
    st = feed([T0 + i * 37_000 for i in range(40)])
    st.tpl = {2**64 - 1: 3, 17: 1}
    st.tsim = {2**64 - 1: 2**63 + 5, 17: 0}
    st.links = {"pay:ab": ["pay:ab", T0, "pay"]}
    st.reasons = [{"signal": "req_1h", "value": 0.5, "baseline": 1.25}]
    rec = st.to_json()
    back = AccountState.from_json(loads(dumps(rec)))
    assert back.to_json() == rec and back.tpl == st.tpl and back.tsim == st.tsim
    assert back.features(T0 + HOUR) == st.features(T0 + HOUR)
    # the bytes an earlier release (orjson) wrote for the same record: a changelog written
    # before the switch to MessagePack restores the same state
    old = orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS)
    from_old = AccountState.from_json(loads(old))
    assert from_old.to_json() == rec and from_old.features(T0 + HOUR) == st.features(T0 + HOUR)
    assert len(dumps(rec)) < 0.8 * len(old)  # why MessagePack: every flushed record is a changelog record
