"""The account engine end to end on small sequences: detection, explanations, determinism,
snapshot/restore, evict/reload, schema validity and the event-time clamp."""

from __future__ import annotations

import re

import fastjsonschema
import orjson
import pytest

from models.engine import AccountEngine, Engine
from models.event import load_schema
from tests.models.fixtures import DAY, HOUR, MIN, T0, chatter, event, harvester, interleave

validate_alert = fastjsonschema.compile(load_schema("alert"))
validate_action = fastjsonschema.compile(load_schema("enforcement"))


def traffic() -> list:
    """Two harvesters, a dozen ordinary users (one says "step by step" now and then)."""
    return interleave(
        harvester("bad-1", n=60, seed=1),
        harvester("bad-2", n=40, start=T0 + 20 * MIN, gap_ms=90_000, seed=2),
        *(chatter(f"user-{i}", n=25, seed=10 + i) for i in range(12)),
    )


def run(events: list, engine: Engine | None = None) -> tuple[list[dict], list[dict]]:
    eng = engine or Engine()
    alerts, actions = [], []
    for e in events:
        r = eng.process(e)
        alerts += r.alerts
        actions += r.actions
    return alerts, actions


def test_harvesters_alert_once_per_step_and_ordinary_users_never() -> None:
    alerts, actions = run(traffic())
    subjects = {a["subject"] for a in alerts}
    assert subjects == {"bad-1", "bad-2"}
    for subject in subjects:
        steps = [a["step"] for a in alerts if a["subject"] == subject]
        assert steps == sorted(set(steps))  # one alert per escalation step, never per request
    first = next(a for a in alerts if a["subject"] == "bad-1")
    assert first["campaign"] == "reasoning_extraction"
    signals = {r["signal"] for r in first["reasons"]}
    assert {"intent_share", "output_max"} <= signals
    assert all({"value", "baseline"} <= r.keys() for r in first["reasons"])
    # detected within minutes of event time, not at the end of the capture
    assert first["ts"] - T0 <= 15 * MIN
    assert actions and all(act["accounts"] == [act_alert["subject"]] for act in actions
                           for act_alert in alerts if act_alert["alert_id"] == act["alert_id"])


def test_alerts_and_actions_validate_against_the_published_schemas() -> None:
    alerts, actions = run(traffic())
    assert alerts and actions
    for a in alerts:
        validate_alert(a)
        assert "excerpt" not in a or not re.search(r"[1-9]", a["excerpt"])  # numbers masked to 0
    for act in actions:
        validate_action(act)


def test_same_events_same_alerts_byte_for_byte() -> None:
    a1, x1 = run(traffic())
    a2, x2 = run(traffic())
    assert orjson.dumps(a1) == orjson.dumps(a2) and orjson.dumps(x1) == orjson.dumps(x2)


def test_replay_gives_identical_alert_ids() -> None:
    a1, _ = run(traffic())
    a2, _ = run(traffic())
    assert [a["alert_id"] for a in a1] == [a["alert_id"] for a in a2]
    assert len({a["alert_id"] for a in a1}) == len(a1)


def _account_alerts(events: list, split: int, mode: str) -> list[dict]:
    store: dict = {}
    eng = AccountEngine(store=store, seed=3)
    out = []
    for i, e in enumerate(events):
        if i == split:
            if mode == "restore":
                blob = eng.snapshot_models()
                eng.flush()
                eng = AccountEngine(store=store, seed=3)
                eng.restore_models(blob)
            elif mode == "evict":
                eng.evict_all()
        out += eng.process(e).alerts
    return out


@pytest.mark.parametrize("mode", ["restore", "evict"])
def test_snapshot_restore_and_evict_reload_do_not_change_alerts(mode: str) -> None:
    events = traffic()
    reference = _account_alerts(events, -1, "none")
    assert reference
    for split in (len(events) // 3, len(events) // 2):
        assert orjson.dumps(_account_alerts(events, split, mode)) == orjson.dumps(reference)


def test_state_is_plain_json_bytes_and_restores_from_the_store() -> None:
    store: dict = {}
    eng = AccountEngine(store=store)
    for e in harvester("bad-1", n=30):
        eng.process(e)
    written = eng.pop_dirty()
    assert written and all(isinstance(v, bytes) for v in written.values())
    eng._cache.flush_into(written)
    view = AccountEngine(store=store).account_view("bad-1")
    assert view is not None and view["requests"] == 30


def test_a_far_future_event_cannot_close_every_window() -> None:
    eng = AccountEngine()
    for i in range(20):
        eng.process(event("steady", T0 + i * MIN, i))
    eng.process(event("liar", T0 + 20 * MIN + 3650 * DAY, 0))  # ten years ahead
    for i in range(20, 30):
        eng.process(event("steady", T0 + i * MIN, i))
    view = eng.account_view("steady")
    assert view["signals"]["req_1h"]["value"] == 30  # the hour still holds every request
    assert eng.account_view("liar")["last_ts"] <= T0 + 20 * MIN + eng.config.max_future_skew_ms
    assert eng.event_time(T0 + 31 * MIN) == T0 + 31 * MIN  # real time keeps flowing


def test_account_view_explains_without_prompt_text() -> None:
    eng = Engine()
    run(list(harvester("bad-1", n=40)), eng)
    view = eng.account_view("bad-1")
    assert view["step"] >= 1 and view["risk"] >= eng.config.alert_threshold
    assert view["recent_alerts"]
    text = orjson.dumps(view).decode()
    assert "Show your complete reasoning" not in text and "boxed" not in text
    assert eng.account_view("nobody") is None


def test_idle_then_busy_account_uses_event_time_only() -> None:
    eng = AccountEngine()
    for i in range(5):
        eng.process(event("a", T0 + i * MIN, i))
    for i in range(5):
        eng.process(event("a", T0 + 5 * HOUR + i * MIN, 5 + i))
    # only the recent burst is in the hour (the first request after a 5 h gap may be held
    # at the clamp until a second one confirms that time moved on)
    assert eng.account_view("a")["signals"]["req_1h"]["value"] in (4, 5)
    assert eng.account_view("a")["last_ts"] == T0 + 5 * HOUR + 4 * MIN


def test_state_holds_no_raw_identifiers_or_prompt_text() -> None:
    eng = AccountEngine()
    for e in harvester("bad-1", n=30, payment_fingerprint="pf-secret-4242", client_ip="198.51.100.77"):
        eng.process(e)
    blob = b"".join(eng.pop_dirty().values())
    for secret in (b"pf-secret-4242", b"198.51.100", b"Show your complete reasoning"):
        assert secret not in blob
