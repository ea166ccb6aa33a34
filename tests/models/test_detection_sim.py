"""A short simulated capture end to end: recall and false positives with margin.

One simulated hour at scale 0.1 (a few thousand events, a few seconds). Over one hour most
hydra members send one to three requests, low-and-slow accounts one or two and turncoats
harvest for 20-40 minutes, so the
bounds here are lower than the project targets (measured on hours of traffic with
``distillguard evaluate``); they catch a detector that stops seeing whole campaigns or
starts flagging honest users.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from models.backtest import run_local

simulate = pytest.importorskip("streams.simulate").simulate


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, tuple[str, str]], set[str], list[dict]]:
    d: Path = tmp_path_factory.mktemp("sim")
    simulate(str(d / "c.jsonl.gz"), str(d / "l.csv"), seed=11, hours=1, scale=0.1)
    alerts, _, stats = run_local(d / "c.jsonl.gz")
    assert stats["bad_lines"] == 0
    with open(d / "l.csv", newline="") as fh:
        labels = {r["account_id"]: (r["label"], r["scenario"]) for r in csv.DictReader(fh)}
    hit = {acc for a in alerts for acc in a["accounts"]}
    return labels, hit, alerts


def test_no_honest_account_is_alerted(outcome: tuple) -> None:
    labels, hit, _ = outcome
    benign = [a for a, (lab, _) in labels.items() if lab == "benign"]
    assert len(benign) > 200
    flagged = sorted((labels[a][1], a) for a in benign if a in hit)
    assert len(flagged) <= 2, flagged  # project target: <= 0.2 % of benign accounts


def test_most_attack_accounts_and_every_campaign_kind_are_caught(outcome: tuple) -> None:
    labels, hit, _ = outcome
    attack = [a for a, (lab, _) in labels.items() if lab == "attack"]
    recall = sum(a in hit for a in attack) / len(attack)
    assert recall >= 0.6
    # low-and-slow accounts send one or two requests in an hour; a turncoat harvests for the
    # last 20-40 minutes of it, about the median time to catch one (tests/models/test_recent_view.py)
    for scenario in {s for lab, s in labels.values() if lab == "attack"} - {"low_and_slow", "turncoat"}:
        members = [a for a, (lab, s) in labels.items() if s == scenario]
        assert any(a in hit for a in members), f"{scenario}: no account caught"


def test_alerts_name_their_campaign_and_are_unique(outcome: tuple) -> None:
    _, _, alerts = outcome
    ids = [a["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids))
    assert {a["campaign"] for a in alerts} & {"reasoning_extraction", "reward_model_grading",
                                              "policy_safe_rewriting", "agentic_coding_harvest"}
