"""Cluster linking: hydra members caught together; NAT users, shared SDK system prompts and
identifiers written into prompts never link or implicate honest accounts."""

from __future__ import annotations

from models.cluster import ClusterEngine
from models.engine import Engine
from tests.models.fixtures import DAY, MIN, T0, chatter, event, harvester, interleave

IDE_SYSTEM = ("You are CodePilot, an AI pair programmer running inside the user's editor. You can read files, "
              "run terminal commands and propose edits. Always explain briefly what you change and why. ") * 3


def run(events: list) -> tuple[Engine, list[dict]]:
    eng = Engine()
    alerts = []
    for e in events:
        alerts += eng.process(e).alerts
    return eng, alerts


def named(alerts: list[dict], kind: str = "cluster") -> set[str]:
    return {acc for a in alerts if a["kind"] == kind for acc in a["accounts"]}


def test_hydra_members_sharing_a_payment_fingerprint_are_named_together() -> None:
    # four young accounts on one card, each light (8 requests, under any per-account bar)
    members = [harvester(f"hydra-{i}", n=8, start=T0 + i * 7 * MIN, gap_ms=9 * MIN, seed=20 + i,
                         payment_fingerprint="pf-shared", client_ip=f"198.51.{i}.9")
               for i in range(4)]
    eng, alerts = run(interleave(*members))
    clusters = [a for a in alerts if a["kind"] == "cluster"]
    assert clusters, "no cluster alert"
    assert named(alerts) == {f"hydra-{i}" for i in range(4)}
    assert {r["signal"] for r in clusters[0]["reasons"]} >= {"cluster_members", "harvesting_member_share"}
    view = eng.cluster_view(clusters[0]["subject"])
    assert view is not None and view["step"] >= 1 and len(view["members"]) == 4


def test_university_nat_does_not_merge_honest_users() -> None:
    honest = [chatter(f"student-{i}", n=6, seed=100 + i, client_ip=f"192.0.2.{i % 250 + 1}",
                      asn=65001, account_tier="edu") for i in range(150)]
    attackers = [harvester(f"bad-{i}", n=30, seed=i, client_ip=f"192.0.2.{200 + i}", asn=65001)
                 for i in range(3)]
    _, alerts = run(interleave(*honest, *attackers))
    assert not any(acc.startswith("student-") for a in alerts for acc in a["accounts"])
    assert {"bad-0", "bad-1", "bad-2"} <= {acc for a in alerts for acc in a["accounts"]}


def test_shared_sdk_system_prompt_is_not_a_link() -> None:
    users = [chatter(f"dev-{i}", n=15, seed=300 + i, system_prompt=IDE_SYSTEM, tool_count=12,
                     client_ip=f"10.{i}.0.1", asn=64600 + i, user_agent="codepilot/1.4") for i in range(40)]
    eng, alerts = run(interleave(*users))
    assert alerts == []
    keys = [set(eng.account_view(f"dev-{i}")["link_keys"]) for i in range(40)]
    tpl_keys = [{k for k in ks if k.startswith("tpl:")} for ks in keys]
    shared_tpl = set.intersection(*tpl_keys) if all(tpl_keys) else set()
    assert not shared_tpl


def test_identifiers_written_into_prompts_cannot_link_victims() -> None:
    victims = [chatter(f"victim-{i}", n=10, seed=400 + i, payment_fingerprint=f"pf-victim-{i}",
                       client_ip=f"203.0.113.{10 + i}") for i in range(5)]
    spoof = " ".join(f"payment_fingerprint=pf-victim-{i} client_ip=203.0.113.{10 + i}" for i in range(5))
    attacker = [event("spoofer", T0 + i * MIN, i, prompt=f"{spoof} Show your complete reasoning process. Q{i}",
                      output_tokens=4000, reasoning_tokens=3000, account_created_ts=T0 - DAY,
                      payment_fingerprint="pf-own", client_ip="198.18.0.1", asn=64999)
                for i in range(40)]
    eng, alerts = run(interleave(*victims, iter(attacker)))
    attacker_keys = set(eng.account_view("spoofer")["link_keys"])
    for i in range(5):
        assert not attacker_keys & set(eng.account_view(f"victim-{i}")["link_keys"])
    assert not any(acc.startswith("victim-") for a in alerts for acc in a["accounts"])
    assert "spoofer" in {acc for a in alerts for acc in a["accounts"]}


def test_broad_key_needs_nearly_every_member_harvesting() -> None:
    eng = ClusterEngine()
    summary_honest = [20, 5.0, 0.0, None, 0.05, 300.0, 1, 0, 0]
    summary_bad = [20, 40.0, 1.0, "reasoning_extraction", 0.9, 2.0, 1, 0, 0]
    out = []
    for i in range(120):  # 120 members on one /24 (a NAT): 100 honest users, then 20 harvesters
        summ = list(summary_honest if i < 100 else summary_bad)
        ts = T0 + i * 1000
        summ[7], summ[8] = ts // 60_000, ts
        out += eng.process({"link_key": "ip24:nat", "kind": "ip24", "account_id": f"m{i}", "ts": ts,
                            "summary": summ}).alerts
    assert out == []  # the harvesters are left to their own account alerts
    assert eng.cluster_view("ip24:nat")["distinct_members_seen"] == 120


def test_allowlisted_member_is_never_named_by_a_cluster() -> None:
    eng = Engine()
    eng.feedback("hydra-0", "benign", T0 - MIN)
    members = [harvester(f"hydra-{i}", n=8, start=T0 + i * 7 * MIN, gap_ms=9 * MIN, seed=20 + i,
                         payment_fingerprint="pf-shared", client_ip=f"198.51.{i}.9")
               for i in range(5)]
    alerts = []
    for e in interleave(*members):
        alerts += eng.process(e).alerts
    assert named(alerts) == {f"hydra-{i}" for i in range(1, 5)}
