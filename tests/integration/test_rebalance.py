"""A rebalance under load loses no state: a worker joins the group mid-stream, then leaves it.

Window sums move with their partitions (RocksDB tables recovered from the changelogs), so
every volume alert still fires exactly at the event that crosses the threshold, with the
window's full token count, whichever worker owned the account at the time.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.test_faults import (
    THRESHOLD,
    assert_duplicates_identical,
    expected_volume_alerts,
    produce_paced,
    workload,
)
from tests.integration.workers import (
    Deployment,
    consume,
    encode,
    events_total,
    produce,
    scrape_metrics,
    wait_processed,
)

pytestmark = pytest.mark.broker


def test_worker_joining_then_leaving_under_load_loses_no_state(deployment_factory) -> None:
    dep: Deployment = deployment_factory(partitions=4, DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD=str(THRESHOLD))
    events = workload(accounts=40, windows=3, prefix="rb")  # 1,440 events, 120 volume alerts
    expected = expected_volume_alerts(events)
    assert len(expected) == 120

    first = dep.start(index=0)
    first.wait_ready()
    # 40 s of traffic: the second worker's start, join and first alerts take 10-20 s on a
    # loaded 2-core host (24 s once ended the traffic before it could leave)
    producer = threading.Thread(target=produce_paced, args=(dep.bootstrap, dep.topics["requests"],
                                                            list(encode(events)), 40.0))
    producer.start()
    # Join once the first worker is visibly mid-stream.
    seen = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                   until=lambda got: len(got) >= 10)
    assert len(seen) < len(expected)
    second = dep.start(index=1)
    second.wait_ready()
    # Leave (graceful: commits what it processed) once it has taken part.
    seen = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                   until=lambda got: len(got) >= len(seen) + 20)
    assert len(seen) < len(expected), "the second worker must leave while traffic still flows"
    assert events_total(second) > 0, "the second worker took partitions and processed events"
    second.stop()
    assert second.proc.returncode == 0, second.log()[-3000:]
    producer.join(timeout=120)

    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=120,
                     until=lambda got: {a["alert_id"] for a in got} >= set(expected))
    assert first.proc.poll() is None, first.log()[-3000:]
    assert_duplicates_identical(alerts)
    got = {a["alert_id"]: (a["ts"], a["reasons"][0]["value"]) for a in alerts
           if a["campaign"] == "anomalous_usage"}
    assert got == expected  # nothing missing, nothing extra, each at its crossing event


def test_worker_joining_a_backlog_loses_no_record(deployment_factory) -> None:
    """A second worker joins while the first is mid-way through a backlog: no record is lost.

    At such a rebalance Faust's stream can drop records it had fetched for the moving
    partitions and acknowledge them (``distillguard bench --workers 2`` lost hundreds per
    partition that way before the offset cursors). This run does not provoke the drop every
    time; whether it does or not, every window sum must stay whole (every volume alert at its
    crossing event) and every record must be processed. ``tests/streams/test_cursors.py`` pins
    the hole-filling logic and ``tests/integration/test_gapfill.py`` the reading of a hole.
    """
    dep: Deployment = deployment_factory(partitions=4, DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD=str(THRESHOLD),
                                         DISTILLGUARD_BATCH_SIZE="2000")
    # 144,000 events, 12,000 volume alerts: ~18 s of work for one worker here, while the
    # second takes ~8 s to start and join (48,000 were once all done before it joined; of
    # 96,000, 68,000 were)
    events = workload(accounts=6000, windows=2, prefix="bl")
    expected = expected_volume_alerts(events)
    assert len(expected) == 12_000
    produce(dep.bootstrap, dep.topics["requests"], list(encode(events)))

    first = dep.start(index=0)
    first.wait_ready()
    second = dep.start(index=1)
    second.wait_ready()
    assert events_total(first) < len(events), "the second worker must join mid-backlog"
    joined_at = events_total(first)

    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=240,
                     until=lambda got: {a["alert_id"] for a in got} >= set(expected))
    assert first.proc.poll() is None and second.proc.poll() is None
    assert_duplicates_identical(alerts)
    got = {a["alert_id"]: (a["ts"], a["reasons"][0]["value"]) for a in alerts
           if a["campaign"] == "anomalous_usage"}
    assert got == expected  # nothing missing, nothing extra, each at its crossing event
    deadline = time.monotonic() + 30
    while events_total(first) + events_total(second) < len(events):
        assert time.monotonic() < deadline, (events_total(first), events_total(second))
        time.sleep(0.5)
    assert events_total(second) > 0, "the second worker took partitions and processed records"
    print(f"\nbacklog join after {joined_at:,} records: {events_total(first):,} + "
          f"{events_total(second):,} records processed of {len(events):,}")


def test_state_held_at_a_join_is_written_before_the_partitions_move(deployment_factory) -> None:
    """State still held when a worker joins is written, and its events committed, before the
    partitions move: the new owner resumes every window sum and processes no record again.

    The state write is held for the whole run (``DISTILLGUARD_STATE_FLUSH_MS``), so only the
    write before the revoke can save the first worker's windows. Without it the joining worker
    would read the moved partitions from their first offset and process those records again;
    a revoked partition's held state is dropped, not written late by its old owner.
    """
    dep: Deployment = deployment_factory(partitions=4, DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD=str(THRESHOLD),
                                         DISTILLGUARD_STATE_FLUSH_MS="600000")
    events = workload(accounts=40, windows=2, prefix="rv")  # 960 events, 80 volume alerts
    expected = expected_volume_alerts(events)
    assert len(expected) == 80
    # The first window whole (40 alerts) and the second's first 5 events of each account:
    # 5,000 tokens held per account, its crossing (the 10th event) comes after the join.
    before_join = 480 + 5 * 40
    produce(dep.bootstrap, dep.topics["requests"], list(encode(events[:before_join])))

    first = dep.start(index=0)
    first.wait_ready()
    wait_processed([first], before_join)
    key = 'distillguard_state_held_events{table="account"}'
    deadline = time.monotonic() + 15
    while scrape_metrics(first).get(key) != before_join:  # all of it held, sampled every 2 s
        assert time.monotonic() < deadline, scrape_metrics(first).get(key)
        time.sleep(0.5)

    second = dep.start(index=1)
    second.wait_ready()
    produce(dep.bootstrap, dep.topics["requests"], list(encode(events[before_join:])))
    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=120,
                     until=lambda got: {a["alert_id"] for a in got} >= set(expected))
    assert first.proc.poll() is None and second.proc.poll() is None
    assert_duplicates_identical(alerts)
    got = {a["alert_id"]: (a["ts"], a["reasons"][0]["value"]) for a in alerts
           if a["campaign"] == "anomalous_usage"}
    assert got == expected  # the held window sums moved whole with their partitions
    wait_processed([first, second], len(events))
    time.sleep(3)  # anything processed twice would be counted by now
    counts = (events_total(first), events_total(second))
    assert counts[1] > 0, "the second worker took partitions and processed records"
    assert sum(counts) == len(events), counts  # no record processed twice
