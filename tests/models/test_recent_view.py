"""An established account's long honest history must not hide a switch to harvesting, and the
recent view that catches the switch must not flag honest accounts whose use changes."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

from models.account import AccountState
from models.engine import AccountEngine, Engine
from models.state import dumps, loads
from tests.models.fixtures import COT_WRAPPERS, DAY, MIN, QUESTIONS, T0, chatter, event, harvester, interleave

CREATED = T0 - 400 * DAY


def _population() -> list:
    """Ordinary users, so the baselines have something to stand on."""
    rng = random.Random(5)
    return [event(f"u{i}", T0 + rng.randint(0, 180 * MIN), 0, prompt="What's a good name for a cat?",
                  output_tokens=rng.randint(100, 700)) for i in range(200)]


def _history(n: int = 400) -> list:
    """An established pro account's ordinary chat (irregular gaps, short answers)."""
    return list(chatter("acct-x", n=n, start=T0, seed=3, account_created_ts=CREATED))


def _after(history: list, events: list) -> list:
    """``events`` moved to start 10 minutes after ``history`` ends, as the same account."""
    shift = history[-1].ts + 10 * MIN - events[0].ts
    return [dataclasses.replace(e, account_id="acct-x", request_id=f"late-{i}", ts=e.ts + shift,
                                account_created_ts=CREATED, account_tier="pro", client_ip="203.0.113.7",
                                asn=64500) for i, e in enumerate(events)]


def _math_items(n: int, seed: int, fields: Callable[[int, random.Random], dict[str, Any]]) -> list:
    """``n`` math questions in explicit "show your reasoning" wrappers; ``fields(i, rng)``
    gives each one's ``ts`` and token counts."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        q = rng.choice(QUESTIONS).format(a=rng.randint(2, 999), b=rng.randint(2, 999))
        prompt = rng.choice(COT_WRAPPERS).format(q=q)
        kw = fields(i, rng)
        out.append(event("acct-x", kw.pop("ts"), i, prompt=prompt, **kw))
    return out


def _run(history: list, later: list) -> tuple[Engine, list[tuple[int, dict]]]:
    """Feed everything; returns the engine and (index in ``later``, alert) for acct-x's alerts."""
    eng = Engine()
    index = {e.request_id: i for i, e in enumerate(later)}
    out = []
    for e in interleave(iter(_population()), iter(history), iter(later)):
        for a in eng.process(e).alerts:
            if "acct-x" in a["accounts"]:
                out.append((index.get(e.request_id, -1), a))
    return eng, out


def test_an_established_account_switching_to_cot_extraction_is_caught_within_40_requests() -> None:
    history = _history()
    later = _after(history, list(harvester(n=200, seed=4)))
    _, alerts = _run(history, later)
    assert alerts, "the switch to maxed-out CoT extraction was never alerted"
    first_at, first = alerts[0]
    assert 0 <= first_at < 40  # none during the honest history (-1), then soon after the switch
    assert first["campaign"] == "reasoning_extraction"
    # the reasons say the judgement is on the account's recent requests
    assert any("(recent)" in r.get("detail", "") for r in first["reasons"])
    assert any(r["signal"] == "output_shift" for r in first["reasons"])


def test_a_switch_shows_in_a_long_history_too() -> None:
    history = _history(1000)
    later = _after(history, list(harvester(n=120, seed=5)))
    _, alerts = _run(history, later)
    assert alerts and 0 <= alerts[0][0] < 40


def test_an_established_account_moving_to_a_reasoning_model_with_ordinary_prompts_stays_quiet() -> None:
    # same history, then every request has reasoning tokens and a long answer: a new model,
    # not an extraction campaign (no extraction phrasing)
    history = _history()
    rng = random.Random(7)
    later = _after(history, [dataclasses.replace(e, reasoning_tokens=rng.randint(2000, 6000),
                                                 output_tokens=rng.randint(2500, 5000))
                             for e in chatter("acct-x", n=300, start=T0, seed=8)])
    _, alerts = _run(history, later)
    assert alerts == []


def test_an_established_account_asking_for_step_by_step_answers_with_short_outputs_stays_quiet() -> None:
    # a tutor app's account: explicit "show your reasoning" phrasing, ordinary answer lengths
    history = _history()
    later = _math_items(300, 9, lambda i, rng: {"ts": T0 + i * 3 * MIN + rng.randint(0, 60_000),
                                                "output_tokens": rng.randint(150, 600)})
    _, alerts = _run(history, _after(history, later))
    assert alerts == []


def test_the_engine_reads_every_request_again_while_outputs_shift() -> None:
    history = _history()
    eng = AccountEngine()
    for e in history:
        eng.process(e)
    read_in_history = eng.stats["text"]
    assert read_in_history < 0.2 * len(history)  # a clean chat account is sampled
    later = _after(history, list(harvester(n=60, seed=4)))
    read, top_at = [], None
    for i, e in enumerate(later):
        seen = eng.stats["text"]
        res = eng.process(e)
        read.append(eng.stats["text"] > seen)
        if top_at is None and any(a["step"] == eng.config.top_step for a in res.alerts):
            top_at = i
    # from the 8th maxed-out request on (the recent share is then 0.3 above the lifetime one)
    # every request is read, up to the top step (which raises no further alert)
    assert top_at is not None and top_at >= 12
    assert all(read[8:top_at + 1])


def test_a_state_written_before_the_recent_view_restores_without_it() -> None:
    st = AccountState.new(created_ts=0, tier="pro")
    obj = loads(dumps(st.to_json()))
    assert AccountState.from_json(obj).r_out == [0.0, 0.0]
    st.r_out = [0.5, 0.25]
    assert AccountState.from_json(loads(dumps(st.to_json()))).r_out == st.r_out
    old = obj[: AccountState.FIELDS.index("r_out")]  # the state's layout before this field
    restored = AccountState.from_json(old)
    assert restored.r_out == [0.0, 0.0]
    assert restored.features(0)["recent_xlong_output_share"] == 0.0


def test_a_benchmark_burst_with_reasoning_switched_on_stays_quiet() -> None:
    # a researcher's account: a burst of math items with reasoning off, then a burst of the
    # same items at 150 requests an hour with reasoning on and ordinary answer lengths
    history = _history()
    later = _math_items(400, 11, lambda i, rng: {
        "ts": T0 + i * 24_000, "output_tokens": min(8000, int(rng.lognormvariate(6.1, 0.7))),
        "reasoning_tokens": int(rng.lognormvariate(7.3, 0.8)) if i >= 200 else None})
    _, alerts = _run(history, _after(history, later))
    assert alerts == []
