"""Honest automation that shares a card or runs round the clock: one organisation's accounts
on the company card are one payer, a reseller's honest customer is not named with the
distillers on its card, and an established CI bot's volume and 24/7 activity are not evidence."""

from __future__ import annotations

import random
from collections.abc import Iterator

from models.engine import Engine
from models.event import RequestEvent
from tests.models.fixtures import DAY, HOUR, MIN, T0, chatter, event, harvester, interleave

TASKS = [
    "Implement a Python function that parses {a} log lines into a dataclass and write pytest tests for it.",
    "Refactor this TypeScript React component into hooks and add unit tests; the file has {a} lines.",
    "Write a Go HTTP handler with middleware for rate limiting at {a} requests per second, with tests.",
    "Fix the failing CI job: the Rust crate fails to compile after bumping serde to 1.{a}; patch Cargo.toml and code.",
    "Generate a SQL migration adding an index on orders(customer_id) and a Python script to backfill {a} rows.",
]


def alerts(events: list[RequestEvent]) -> list[dict]:
    eng = Engine()
    out: list[dict] = []
    for e in events:
        out += eng.process(e).alerts
    return out


def named(got: list[dict], kind: str) -> set[str]:
    return {acc for a in got if a["kind"] == kind for acc in a["accounts"]}


def light_members(orgs: list[str | None]) -> list[Iterator[RequestEvent]]:
    """Young accounts on one card, each too light (8 requests) to judge alone."""
    return [harvester(f"m-{i}", n=8, start=T0 + i * 7 * MIN, gap_ms=9 * MIN, seed=20 + i,
                      payment_fingerprint="pf-shared", client_ip=f"198.51.{i}.9", org_id=org)
            for i, org in enumerate(orgs)]


def test_accounts_of_one_organisation_on_its_card_are_one_payer() -> None:
    # two accounts of one team: fewer than a shared network needs, and one payer
    got = alerts(interleave(*light_members(["org-acme"] * 2)))
    assert named(got, "cluster") == set()


def test_the_same_card_across_organisations_is_one_payer_behind_many() -> None:
    # control: the organisation is what spares the team above, not the traffic
    got = alerts(interleave(*light_members(["org-a", None])))
    assert named(got, "cluster") == {"m-0", "m-1"}


def test_a_payer_cluster_does_not_name_a_member_that_cleared_itself() -> None:
    honest = chatter("customer", n=80, start=T0 - 2 * HOUR, seed=7, payment_fingerprint="pf-shared",
                     client_ip="203.0.113.50")
    got = alerts(interleave(*light_members([None] * 4), honest))
    assert named(got, "cluster") == {f"m-{i}" for i in range(4)}
    assert "customer" not in {acc for a in got for acc in a["accounts"]}


def ci_bot(account: str, age_days: float, hours: int = 10, seed: int = 3) -> list[RequestEvent]:
    """A coding agent run by CI: every few minutes round the clock, long code outputs, tools."""
    rng = random.Random(seed)
    events, ts = [], T0
    start = T0
    i = 0
    while ts < start + hours * HOUR:
        ts += rng.randint(2 * MIN, 4 * MIN)
        prompt = rng.choice(TASKS).format(a=rng.randint(2, 9999))
        events.append(event(account, ts, i, prompt=prompt, tool_count=rng.randint(6, 14),
                            account_created_ts=start - int(age_days * DAY), account_tier="pro",
                            output_tokens=rng.randint(2500, 4096), input_tokens=rng.randint(3000, 9000)))
        i += 1
    return events


def test_an_established_ci_bot_is_not_harvesting() -> None:
    assert alerts(ci_bot("ci", age_days=700)) == []


def test_a_young_account_with_the_same_traffic_does_alert() -> None:
    # control: the account's age is what spares the bot, the traffic alone alerts
    got = alerts(ci_bot("fresh", age_days=3))
    assert {a["subject"] for a in got} == {"fresh"}
    assert got[0]["campaign"] == "agentic_coding_harvest"
