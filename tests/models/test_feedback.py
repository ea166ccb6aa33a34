"""Analyst feedback: attack verdicts teach the supervised model; benign verdicts allowlist."""

from __future__ import annotations

from models.engine import AccountEngine
from models.learners import ModelBank
from tests.models.fixtures import HOUR, T0, chatter, harvester


def test_benign_verdict_allowlists_the_account() -> None:
    eng = AccountEngine()
    eng.feedback("bad-1", "benign", T0)
    alerts = [a for e in harvester("bad-1", n=60) for a in eng.process(e).alerts]
    assert alerts == []
    view = eng.account_view("bad-1")
    assert view["allowlisted"] is True and view["actions_in_force"] == {}
    # the same behaviour on another account still alerts
    assert any(eng.process(e).alerts for e in harvester("bad-2", n=60, start=T0 + HOUR))


def test_benign_verdict_lifts_actions_in_force() -> None:
    eng = AccountEngine()
    for e in harvester("bad-1", n=60):
        eng.process(e)
    assert eng.account_view("bad-1")["actions_in_force"]
    eng.feedback("bad-1", "benign", T0 + HOUR)
    assert eng.account_view("bad-1")["actions_in_force"] == {}


def test_attack_verdict_confirms_escalates_and_teaches_the_supervised_model() -> None:
    eng = AccountEngine()
    for e in chatter("quiet", n=12):
        eng.process(e)
    res = eng.feedback("quiet", "attack", T0 + 2 * HOUR)
    assert len(res.alerts) == 1
    a = res.alerts[0]
    assert a["reasons"][0]["signal"] == "analyst_verdict" and a["score"] >= 0.95
    assert eng.account_view("quiet")["confirmed"] is True
    assert eng.models._labels == [0, 1]


def test_supervised_model_separates_after_enough_verdicts() -> None:
    bank = ModelBank(seed=0, supervised_min_labels=5)
    attack = {"req_1h": 60.0, "req_24h": 900.0, "out_tok_1h": 200_000.0, "ramp": 20.0, "age_days": 2.0,
              "cv_gap": 0.1, "active_frac": 1.0, "burst": 2.0, "top_template_share": 0.8, "dup_rate": 0.0,
              "extraction_share": 1.0, "reasoning_share": 1.0, "long_output_share": 0.9, "tool_share": 0.0,
              "image_share": 0.0, "error_rate": 0.0, "new_model_share": 0.0, "ip_blocks": 1.0}
    benign = dict(attack, req_1h=3.0, req_24h=20.0, out_tok_1h=1000.0, ramp=0.0, age_days=400.0, cv_gap=1.5,
                  active_frac=0.2, top_template_share=0.1, extraction_share=0.0, reasoning_share=0.1,
                  long_output_share=0.0)
    assert bank.attack_probability(attack) is None  # not before enough verdicts of each kind
    for _ in range(20):
        bank.learn_verdict(attack, True)
        bank.learn_verdict(benign, False)
    p_att, p_ben = bank.attack_probability(attack), bank.attack_probability(benign)
    assert p_att is not None and p_ben is not None
    assert p_att > 0.8 > 0.2 > p_ben
