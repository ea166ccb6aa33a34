"""Two agents write account state: an analyst's verdict survives the requests in flight.

The requests agent and the feedback agent share the account states in memory. A "benign"
verdict has no outputs, so its batch used to write the account's state at once, while a
requests batch that had encoded the same account before the verdict was still waiting for
its alerts to be acknowledged; that batch's write then replaced the verdict in RocksDB. The
live worker kept the right state in memory, so the loss showed only on the next read from
RocksDB: after a restart, the account was no longer allowlisted. The feedback agent's records
also counted as requests in ``distillguard_events_total`` and set the requests partitions'
last offsets, so the lag gauge showed the llm-requests log end minus a feedback offset.
A graceful stop writes the held state and commits every offset (streams.flush).
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from tests.integration.workers import Deployment, Worker, encode, event, events_total, scrape_metrics, wait_processed

pytestmark = pytest.mark.broker

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TARGETS = 40
FILLERS = 200
RETIRE_EVERY_S = 0.2


def traffic() -> tuple[list[tuple[float, str, bytes, bytes]], list[str]]:
    """(send at s, topic kind, key, value) in time order, and the target accounts.

    Filler accounts keep the requests agent busy (its batches in flight); target account
    ``k`` sends a request every 4 ms in the second before its retire time
    ``(k + 1) x RETIRE_EVERY_S``, where its verdict is sent and its requests stop, so its last
    requests and its verdict reach the worker together.
    """
    targets = [f"acct-verdict-{k}" for k in range(TARGETS)]
    out: list[tuple[float, str, bytes, bytes]] = []
    end = (TARGETS + 1) * RETIRE_EVERY_S
    step = 0.001  # one pass every ms: ~1 filler request/ms plus the live targets
    i = 0
    t = 0.0
    while t < end:
        filler = f"acct-filler-{i % FILLERS}"
        key, value = next(encode([event(filler, T0 + i, i)]))
        out.append((t, "requests", key, value))
        for k, acct in enumerate(targets):
            retire = (k + 1) * RETIRE_EVERY_S
            if t < retire and i % 4 == k % 4 and t > retire - 1.0:
                key, value = next(encode([event(acct, T0 + i, i)]))
                out.append((t, "requests", key, value))
        i += 1
        t += step
    for k, acct in enumerate(targets):
        retire = (k + 1) * RETIRE_EVERY_S
        verdict = orjson.dumps({"account_id": acct, "verdict": "benign", "ts": T0 + int(retire * 1000)})
        out.append((retire, "feedback", acct.encode(), verdict))
    out.sort(key=lambda r: r[0])
    return out, targets


def send_paced(dep: Deployment, records: list[tuple[float, str, bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=dep.bootstrap, linger_ms=2, acks="all")
    try:
        start = time.monotonic()
        for at, kind, key, value in records:
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            producer.send(dep.topics[kind], key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


def test_verdicts_amid_requests_are_still_there_after_a_restart(deployment_factory) -> None:
    # State held for the whole run: only the stop's final write can save it.
    dep: Deployment = deployment_factory(DISTILLGUARD_GROUP_INSTANCE_ID="worker-0",
                                         DISTILLGUARD_STATE_FLUSH_MS="600000")
    worker = dep.start(index=0)
    worker.wait_ready()
    records, targets = traffic()
    sender = threading.Thread(target=send_paced, args=(dep, records))
    sender.start()
    sender.join(timeout=120)
    assert not sender.is_alive()
    requests = sum(1 for r in records if r[1] == "requests")
    wait_processed([worker], requests)

    def allowlisted(w: Worker) -> list[str]:
        views = {a: w.get(f"/accounts/{a}") for a in targets}
        assert all(status == 200 for status, _ in views.values()), views
        return [a for a, (_, view) in views.items() if view["allowlisted"]]

    deadline = time.monotonic() + 30
    while len(allowlisted(worker)) < TARGETS:  # the verdicts are the last records processed
        assert time.monotonic() < deadline, f"live worker: {allowlisted(worker)}"
        time.sleep(0.5)
    # the verdicts are neither counted as requests nor taken for llm-requests offsets
    assert events_total(worker) == requests
    deadline = time.monotonic() + 15
    while True:  # the lag gauge is refreshed every 2 s
        lag = {k: v for k, v in scrape_metrics(worker).items() if k.startswith("distillguard_lag_events{")}
        if lag and not any(lag.values()):
            break
        assert time.monotonic() < deadline, lag
        time.sleep(0.5)

    # nothing written yet: every request and verdict waits for the account table's write
    key = 'distillguard_state_held_events{table="account"}'
    deadline = time.monotonic() + 15
    while scrape_metrics(worker).get(key) != requests + TARGETS:  # sampled every 2 s
        assert time.monotonic() < deadline, scrape_metrics(worker).get(key)
        time.sleep(0.5)

    worker.stop()  # graceful: what it processed is written, then committed
    again = dep.start(index=0, port=worker.port)
    again.wait_ready()
    # read back from RocksDB (a new process has nothing in memory)
    assert sorted(allowlisted(again)) == sorted(targets)
    # Every offset was committed at the stop: the new process neither processes nor skips
    # a single record (held state not written at the stop would show as records processed
    # again; written but uncommitted offsets, as replays skipped).
    time.sleep(3)
    metrics = scrape_metrics(again)
    assert events_total(again) == 0
    assert not any(v for k, v in metrics.items() if k.startswith("distillguard_records_skipped")), metrics
