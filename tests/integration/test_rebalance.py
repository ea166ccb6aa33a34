"""A rebalance under load loses no state: a worker joins the group mid-stream, then leaves it.

Window sums move with their partitions (RocksDB tables recovered from the changelogs), so
every volume alert still fires exactly at the event that crosses the threshold, with the
window's full token count, whichever worker owned the account at the time.
"""

from __future__ import annotations

import threading

import pytest

from tests.integration.test_faults import (
    THRESHOLD,
    assert_duplicates_identical,
    events_total,
    expected_volume_alerts,
    produce_paced,
    workload,
)
from tests.integration.workers import Deployment, consume, encode

pytestmark = pytest.mark.broker


def test_worker_joining_then_leaving_under_load_loses_no_state(deployment_factory) -> None:
    dep: Deployment = deployment_factory(partitions=4, DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD=str(THRESHOLD))
    events = workload(accounts=40, windows=3, prefix="rb")  # 1,440 events, 120 volume alerts
    expected = expected_volume_alerts(events)
    assert len(expected) == 120

    first = dep.start(index=0)
    first.wait_ready()
    producer = threading.Thread(target=produce_paced, args=(dep.bootstrap, dep.topics["requests"],
                                                            list(encode(events)), 24.0))
    producer.start()
    # Join once the first worker is visibly mid-stream.
    seen = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60, until=lambda got: len(got) >= 10)
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

    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=120, idle_s=15,
                     until=lambda got: {a["alert_id"] for a in got} >= set(expected))
    assert first.proc.poll() is None, first.log()[-3000:]
    assert_duplicates_identical(alerts)
    got = {a["alert_id"]: (a["ts"], a["reasons"][0]["value"]) for a in alerts
           if a["campaign"] == "anomalous_usage"}
    assert got == expected  # nothing missing, nothing extra, each at its crossing event
