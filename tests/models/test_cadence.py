"""How often the engine re-evaluates accounts and refreshes link keys: the cost controls that
keep it inside its per-event budget must never cost an alert.

* The River anomaly is scored only when it could lift an account to a step it has not reached,
  and learns from about 1 in ``model_learn_every`` of the hourly population samples.
* An account already at the top alert step is re-evaluated ``settled_eval_factor`` times less often,
  one whose last evaluation found nothing ``calm_eval_factor`` times less often.
* A member that does not harvest refreshes its link keys ``quiet_refresh_factor`` times less often;
  a harvesting one at the normal ``link_refresh_ms``. A look at the keys when none is due and
  none changed is skipped, with the same link updates as a full look.
* An account whose first ``text_quick`` analysed requests show nothing has its text sampled
  after them; one that shows anything has its first ``text_full`` read. An account at the top
  step has its text sampled ``settled_text_factor`` times less often, and its template key
  still refreshes between samples.
"""

from __future__ import annotations

from dataclasses import replace

from models.engine import AccountEngine
from models.scoring import assess
from models.baseline import Baselines
from tests.models.fixtures import COT_WRAPPERS, DAY, HOUR, MIN, T0, chatter, event, harvester, interleave

_QUIET = {"intent_cot": 0.0, "intent_rubric": 0.0, "intent_rewrite": 0.0, "intent_agentic": 0.0,
          "intent_coding": 0.0, "intent_analysis": 0.0, "intent_computer_use": 0.0, "intent_vision": 0.0,
          "intent_any": 0.0, "n": 40.0, "n_txt": 10.0, "span_h": 4.0, "mean_out": 300.0,
          "reasoning_share": 0.0, "long_output_share": 0.0, "xlong_output_share": 0.0, "req_1h": 10.0,
          "age_days": 400.0, "ramp": 0.0, "active_frac": 0.5, "cv_gap": 1.0, "top_template_share": 0.1,
          "dup_rate": 0.0, "new_model_share": 0.0, "ip_blocks": 1.0}


class _Counter:
    def __init__(self, value: float) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> float:
        self.calls += 1
        return self.value


def test_anomaly_is_not_scored_for_an_account_it_cannot_lift() -> None:
    score = _Counter(0.999)
    a = assess(_QUIET, "pro", score, None, Baselines(), alert_bar=0.6)
    assert score.calls == 0 and a.anomaly is None and a.score == 0.0


def test_anomaly_is_scored_when_it_could_lift_the_account_to_the_bar() -> None:
    # a CoT-extraction mix with maxed outputs but no other evidence: 0.3 + 0.7 * (1 + 0.5) / 2 >= 0.6
    f = dict(_QUIET, intent_cot=0.9, intent_any=0.9, reasoning_share=0.95, mean_out=3000.0)
    score = _Counter(0.999)
    a = assess(f, "pro", score, None, Baselines(), alert_bar=0.6)
    assert score.calls == 1 and a.anomaly == 0.999
    # the same account with its anomaly passed as a value scores exactly the same
    assert assess(f, "pro", 0.999, None, Baselines(), alert_bar=0.6).score == a.score
    # an account already past every step it could reach needs no anomaly score
    assert assess(f, "pro", _Counter(0.5), None, Baselines(), alert_bar=2.0).anomaly is None


def _evaluations(factor: int) -> tuple[int, list[str]]:
    eng = AccountEngine(replace(AccountEngine().config, settled_eval_factor=factor))
    alerts = []
    for ev in harvester("bad-1", n=400, gap_ms=20_000, seed=3):
        alerts += [a["alert_id"] for a in eng.process(ev).alerts]
    return eng.stats["evaluations"], alerts


def test_an_account_at_the_top_step_is_re_evaluated_less_often_and_alerts_the_same() -> None:
    every, alerts_every = _evaluations(1)
    settled, alerts_settled = _evaluations(4)
    assert alerts_every and alerts_every == alerts_settled
    assert settled < every * 0.6


def test_a_calm_account_is_re_evaluated_less_often_and_still_alerts_when_it_turns() -> None:
    # an ordinary user for a few hours, then the same account starts harvesting
    calm = list(chatter("acct-x", n=40, start=T0, seed=6))
    turn = list(harvester("acct-x", n=200, start=calm[-1].ts + MIN, gap_ms=20_000, seed=6))

    def run(factor: int) -> tuple[int, list[tuple[str, int, int]]]:
        eng = AccountEngine(replace(AccountEngine().config, calm_eval_factor=factor))
        for ev in calm:
            assert not eng.process(ev).alerts
        n_calm = eng.stats["evaluations"]
        alerts = [(a["campaign"], a["step"], a["ts"]) for ev in turn for a in eng.process(ev).alerts]
        return n_calm, alerts

    every, alerts_every = run(1)
    calm_n, alerts_calm = run(2)
    assert calm_n < every
    # the same campaign up to the same top step (a later first look may skip a step) ...
    assert alerts_every and {c for c, _, _ in alerts_calm} == {c for c, _, _ in alerts_every}
    assert max(s for _, s, _ in alerts_calm) == max(s for _, s, _ in alerts_every)
    # ... and the first alert comes at most one calm interval (2 x 5 min) later
    assert alerts_calm[0][2] - alerts_every[0][2] <= 10 * MIN


def _link_updates(events: list, **cfg: object) -> list[int]:
    eng = AccountEngine(replace(AccountEngine().config, **cfg))
    return [link["ts"] for ev in events for link in eng.process(ev).links if link["kind"] == "pay"]


def test_a_quiet_member_refreshes_its_keys_less_often_than_a_harvester() -> None:
    quiet = list(chatter("user-1", n=120, start=T0, seed=4, payment_fingerprint="pf-user"))
    ts = _link_updates(quiet)
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert ts and all(g >= 60 * MIN for g in gaps)  # 3 x link_refresh_ms
    assert _link_updates(quiet, quiet_refresh_factor=1)[:3] != ts[:3]  # the factor is what spaces them
    # a harvesting member below the top step keeps the normal pace (a long-lived enterprise
    # account: its score is damped x0.75, so it never reaches the top step's 0.9)
    bad = list(harvester("bad-1", n=120, gap_ms=MIN, seed=5, payment_fingerprint="pf-bad",
                         account_created_ts=T0 - 400 * DAY, account_tier="enterprise"))
    ts_bad = _link_updates(bad)
    gaps_bad = [b - a for a, b in zip(ts_bad, ts_bad[1:])]
    # every 20 minutes (link_refresh_ms), plus up to two requests' wait for the once-a-minute
    # look at the keys; far from the quiet member's 60
    assert ts_bad[-1] - ts_bad[0] >= HOUR and all(g < 25 * MIN for g in gaps_bad)


def test_skipping_a_look_at_unchanged_link_keys_sends_the_same_updates() -> None:
    # a harvester and a user sharing a card, the user moving between /24s now and then
    bad = harvester("bad-1", n=150, gap_ms=MIN, seed=7, payment_fingerprint="pf-shared")
    user = [replace(ev, client_ip=f"198.51.{i // 40}.9") for i, ev in
            enumerate(chatter("user-1", n=150, start=T0, seed=8, payment_fingerprint="pf-shared"))]
    events = interleave(bad, iter(user))

    def updates(forget: bool) -> list[tuple[str, str, int]]:
        eng = AccountEngine()
        out = []
        for ev in events:
            if forget:  # as after a restore from the store: every look is a full one
                st = eng._cache.get(eng._prefix + ev.account_id)
                if st is not None:
                    st.link_memo = None
            out += [(link["account_id"], link["link_key"], link["ts"]) for link in eng.process(ev).links]
        return out

    full = updates(forget=True)
    assert len({k for _, k, _ in full}) >= 4  # the card, the ASN+UA and several /24s
    assert updates(forget=False) == full


_PLAIN = ["Suggest a name for a small bakery in a seaside town.", "What is the capital city of Peru?",
          "Translate good night into German, please.", "Recommend three novels about the sea.",
          "Which vegetables grow well on a balcony?", "Write a haiku about autumn rain.",
          "How long should I boil an egg for a soft yolk?", "Name some board games for four players.",
          "What does a notary public actually do?", "Give me a packing list for a weekend hike.",
          "Why is the sky blue during the day?", "Explain what a mortgage broker is paid for."]


def _analysed(prompts: list[str], **cfg: object) -> list[bool]:
    """Per request of one account: was its text analysed?"""
    eng = AccountEngine(replace(AccountEngine().config, **cfg))
    seen, out = 0, []
    for i, p in enumerate(prompts):
        eng.process(event("acct-t", T0 + i * 7 * MIN, i, prompt=p, output_tokens=200))
        out.append(eng.stats["text"] > seen)
        seen = eng.stats["text"]
    return out


def test_a_light_user_whose_first_requests_show_nothing_has_its_text_sampled() -> None:
    got = _analysed(_PLAIN)
    assert got[:4] == [True] * 4 and sum(got[4:]) < 4  # 1 in 32 after the first four
    # the same requests with quick sampling off: all of the first eight are read
    assert _analysed(_PLAIN, text_quick=8)[:8] == [True] * 8


def test_an_account_that_shows_an_intent_early_has_its_first_eight_read() -> None:
    cot = COT_WRAPPERS[0].format(q="What is 17 times 23?")
    assert _analysed([_PLAIN[0], cot, *_PLAIN[1:7]]) == [True] * 8


def test_a_sampled_request_that_shows_an_intent_resumes_full_reading() -> None:
    cot = [w.format(q=f"What is {a} times {a + 3}?") for a in range(20, 32) for w in COT_WRAPPERS[:1]]
    got = _analysed(_PLAIN[:4] + cot, text_every=2)
    first = got.index(True, 4)  # the first sampled request after the quick four
    # from the sampled CoT request on, every request is read until eight are
    assert got[first + 1: first + 1 + 8 - 5] == [True] * (8 - 5)


def test_an_account_at_the_top_step_has_its_text_sampled_less_and_keeps_its_template_key() -> None:
    def run(factor: int, every: int = 32) -> tuple[int, list[str], list[int]]:
        eng = AccountEngine(replace(AccountEngine().config, settled_text_factor=factor, text_every=every))
        alerts, tpl_ts = [], []
        for i, ev in enumerate(harvester("bad-1", n=600, gap_ms=20_000, seed=9)):
            # one fixed wrapper around a varying payload: a template the account repeats
            ev = replace(ev, prompt=f"Think step by step and show all of your reasoning before answering.\n"
                                    f"{ev.prompt.split('?')[0]}?\nEnd with the final answer in a box, please.")
            res = eng.process(ev)
            alerts += [a["alert_id"] for a in res.alerts]
            tpl_ts += [link["ts"] for link in res.links if link["kind"] == "tpl"]
        return eng.stats["text"], alerts, tpl_ts

    text_1, alerts_1, _ = run(1)
    text_4, alerts_4, _ = run(4)
    assert alerts_1 and alerts_4 == alerts_1
    assert text_4 < text_1
    # text sampled hardly ever after the first eight: the template key is still sent every
    # hour (3 x link_refresh_ms, the top step's pace) over the account's 3.3 hours
    _, _, tpl_ts = run(4, every=10_000)
    gaps = [b - a for a, b in zip(tpl_ts, tpl_ts[1:])]
    assert len(tpl_ts) >= 3 and max(gaps) <= 62 * MIN  # + the once-a-minute look


def test_the_anomaly_model_learns_from_about_half_of_the_population_samples() -> None:
    users = interleave(*(chatter(f"user-{i}", n=60, start=T0 + i * MIN, seed=i) for i in range(40)))

    def learned(every: int) -> tuple[int, int]:
        eng = AccountEngine(replace(AccountEngine().config, model_learn_every=every))
        for ev in users:
            eng.process(ev)
        # raw scores kept for calibration: one per learning step
        return len(eng.models._recent), eng.models.baselines.n

    all_samples, base_all = learned(1)
    half, base_half = learned(2)
    assert all_samples >= 40
    assert 0.3 * all_samples <= half <= 0.7 * all_samples
    assert base_half == base_all  # the baselines still learn from every sample
