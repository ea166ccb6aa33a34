"""Enforcement policy: graduated steps, hysteresis, TTLs, dry-run, never stronger than the evidence."""

from __future__ import annotations

import pytest

from models.errors import PolicyError
from models.policy import Policy


def alert(score: float, step: int = 1, kind: str = "account", ts: int = 1_000) -> dict:
    p = Policy.default()
    return {"alert_id": f"id-{score}-{step}-{kind}", "ts": ts, "kind": kind, "subject": "s", "accounts": ["a", "b"],
            "score": score, "severity": p.severity(score), "step": step, "campaign": "hydra_cluster"}


def actions(p: Policy, a: dict, history: dict | None = None) -> list[str]:
    return [x["action"] for x in p.decide(a, history or {})]


def test_actions_are_graduated_by_severity_and_step() -> None:
    p = Policy.default()
    assert actions(p, alert(0.62)) == ["flag"]
    assert actions(p, alert(0.75)) == ["throttle"]
    assert actions(p, alert(0.85, step=1)) == ["throttle"]  # challenge only once evidence has grown
    assert actions(p, alert(0.85, step=2)) == ["challenge"]


def test_suspension_needs_cluster_or_confirmed_evidence() -> None:
    p = Policy.default()
    assert actions(p, alert(0.99, step=3)) == ["challenge"]  # one account's behaviour alone
    assert actions(p, alert(0.99, step=3, kind="cluster")) == ["suspend"]
    assert actions(p, alert(0.99, step=3), {"confirmed": True}) == ["suspend"]


def test_hysteresis_only_stronger_actions_while_one_is_in_force() -> None:
    p = Policy.default()
    first = p.decide(alert(0.75), {})[0]
    in_force = {first["action"]: first["ts"] + first["ttl_s"] * 1000}
    assert actions(p, alert(0.75, ts=2_000), {"in_force": in_force}) == []  # same again: nothing
    assert actions(p, alert(0.62, ts=2_000), {"in_force": in_force}) == []  # weaker: nothing
    assert actions(p, alert(0.85, step=2, ts=2_000), {"in_force": in_force}) == ["challenge"]
    expired_at = first["ts"] + first["ttl_s"] * 1000 + 1
    assert actions(p, alert(0.75, ts=expired_at), {"in_force": in_force}) == ["throttle"]  # TTL over


def test_dry_run_switch_marks_every_action_advisory() -> None:
    p = Policy.default()
    assert p.decide(alert(0.75), {})[0]["dry_run"] is False
    p.set_dry_run(True)
    out = p.decide(alert(0.99, step=3, kind="cluster"), {})
    assert out[0]["action"] == "suspend" and out[0]["dry_run"] is True
    assert out[0]["accounts"] == ["a", "b"]  # cluster actions name every member


def test_allowlisted_subjects_get_no_action() -> None:
    assert actions(Policy.default(), alert(0.99, step=3, kind="cluster"), {"allowlisted": True}) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"rules": [{"action": "nuke", "ttl_s": 1}], "severity": {"medium": 0.7, "high": 0.8, "critical": 0.9}},
        {"rules": [{"action": "suspend", "ttl_s": 1}], "severity": {"medium": 0.7, "high": 0.8, "critical": 0.9}},
        {"rules": [], "severity": {"medium": 0.9, "high": 0.8, "critical": 0.7}},
    ],
)
def test_invalid_policies_are_refused(bad: dict) -> None:
    with pytest.raises(PolicyError):
        Policy.from_dict(bad)
