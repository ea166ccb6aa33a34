"""Failover: two workers in one group, one SIGKILLed mid-stream, the other takes over.

The survivor must take the dead worker's partitions, restore their table state from the
changelog (the per-account token sums of the open windows) and emit exactly the alerts an
uninterrupted single worker emits for the same traffic: same ids, and each volume alert at
the same triggering event (``ts``) with the same window sum - which only holds if the sums
counted before the kill survived it and replayed records were not counted twice.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest

from streams.runtime import kafka_partition
from tests.integration.workers import consume, encode, event, events_total, produce, wait_processed

pytestmark = [pytest.mark.broker, pytest.mark.timeout(360)]

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a window boundary
WINDOW_MS = 600_000
PARTITIONS = 4
THRESHOLD = 10_000
TOKENS = 1_000  # per event: the 10th event of a window crosses the threshold
PER_WINDOW = 14
BEFORE_KILL = 7  # events per account of the first window sent before the kill
ACCOUNTS = [f"acct-fo-{i:02d}" for i in range(24)]
ENV = {"DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD": str(THRESHOLD),
       "DISTILLGUARD_SESSION_TIMEOUT_MS": "6000",
       "DISTILLGUARD_COMMIT_INTERVAL_MS": "1000"}


def _traffic() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(before the kill, after it): two windows per account, time-ordered."""
    before, after = [], []
    for window in range(2):
        for k in range(PER_WINDOW):
            ts = T0 + window * WINDOW_MS + k * 1000
            for n, acct in enumerate(ACCOUNTS):
                ev = event(acct, ts, window * 100 + k, output_tokens=TOKENS, input_tokens=100 + n)
                (before if window == 0 and k < BEFORE_KILL else after).append(ev)
    return before, after


def _by_id(alerts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in alerts:
        out[a["alert_id"]].append(a)
    return out


def _volume_view(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (alert["subject"], alert["ts"], alert["reasons"][0]["value"])


def test_survivor_takes_over_partitions_and_state_with_the_same_alerts(deployment_factory) -> None:
    before, after = _traffic()
    expected_volume = 2 * len(ACCOUNTS)
    ref = deployment_factory(partitions=PARTITIONS, **ENV)
    dep = deployment_factory(partitions=PARTITIONS, **ENV)
    assert len({kafka_partition(a, PARTITIONS) for a in ACCOUNTS}) == PARTITIONS

    # The uninterrupted reference and the two-worker group start side by side.
    single = ref.start()
    survivor, victim = dep.start(), dep.start()
    for w in (single, survivor, victim):
        w.wait_ready()
    # A second member joining may have rebalanced the group after the first was ready.
    deadline = time.monotonic() + 60
    while not (survivor.get("/ready")[0] == 200 and victim.get("/ready")[0] == 200):
        assert time.monotonic() < deadline, "group never settled"
        time.sleep(0.3)

    produce(ref.bootstrap, ref.topics["requests"], list(encode(before + after)))
    produce(dep.bootstrap, dep.topics["requests"], list(encode(before)))
    wait_processed([survivor, victim], len(before))
    assert events_total(victim) > 0 and events_total(survivor) > 0, "both workers must own partitions"

    # Mid-window for every account (7 of 10 events needed): kill one worker, no commit, no goodbye.
    victim.kill()
    produce(dep.bootstrap, dep.topics["requests"], list(encode(after)))

    # The reference's alerts are complete once it has processed every record (a pause in its
    # output on a loaded machine is not the end of it): drain them then.
    wait_processed([single], len(before) + len(after))
    want = consume(ref.bootstrap, ref.topics["alerts"], idle_s=3, timeout_s=30)
    want_set = {a["alert_id"] for a in want}
    # The takeover waits for the victim's session to expire and the survivor to restore its
    # tables: on a loaded machine that can take a while, so wait for the ids, not a fixed time.
    consume(dep.bootstrap, dep.topics["alerts"], timeout_s=150,
            until=lambda got: {a["alert_id"] for a in got} >= want_set)
    # Let stragglers (duplicates from the replayed records, anything extra) arrive too.
    got = consume(dep.bootstrap, dep.topics["alerts"], idle_s=3, timeout_s=20)

    got_ids, want_ids = _by_id(got), _by_id(want)
    assert set(got_ids) == set(want_ids), (
        f"missing {sorted(set(want_ids) - set(got_ids))}, extra {sorted(set(got_ids) - set(want_ids))}")
    volume_ids = {i for i, a in want_ids.items() if a[0]["campaign"] == "anomalous_usage"}
    assert len(volume_ids) == expected_volume
    for alert_id in volume_ids:
        reference = _volume_view(want_ids[alert_id][0])
        # Duplicates (a replayed crossing re-sent) must be the very same alert.
        assert {_volume_view(a) for a in got_ids[alert_id]} == {reference}, alert_id
        subject, ts, value = reference
        window_start = ts - ts % WINDOW_MS
        assert ts == window_start + 9_000 and value == THRESHOLD, reference  # the 10th event

    # The survivor owns every partition now and answers for the victim's accounts from its state.
    assert survivor.proc.poll() is None
    victim_accounts = [a for a in ACCOUNTS
                       if any(x["subject"] == a for x in got)]  # every account alerted
    assert len(victim_accounts) == len(ACCOUNTS)
    print(f"\nfailover: {len(got)} alert records ({len(got_ids)} ids) vs {len(want)} uninterrupted")
