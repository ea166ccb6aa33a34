"""The lag gauge counts every record waiting in llm-requests, while the backlog still grows.

The consumer's fetched high-water mark stands still while a worker works through what it
fetched (8 MiB per partition: tens of thousands of records; see streams/lag.py), so records
produced meanwhile were missing from ``distillguard_lag_events``: an operator reading it
during an overload saw ~0 with ~100,000 records waiting. The gauge is refreshed every 2 s,
so a scrape is judged against what was acknowledged ``SETTLE_S`` before it.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.test_faults import workload
from tests.integration.workers import Deployment, Worker, encode, produce, scrape_metrics, wait_processed

pytestmark = pytest.mark.broker

#: the gauge is refreshed every 2 s: what was acknowledged this long before a scrape is in it
SETTLE_S = 4.0


def _scrape(worker: Worker) -> tuple[float, float]:
    """(lag summed over partitions, events processed) from one /metrics scrape."""
    m = scrape_metrics(worker)
    assert m, "the worker does not answer /metrics"
    lag = sum(v for k, v in m.items() if k.startswith("distillguard_lag_events{"))
    return lag, m.get("distillguard_events_total", 0.0)


def _produce_counted(dep: Deployment, records: list[tuple[bytes, bytes]], acked: list[tuple[float, int]],
                     chunk: int = 6_000) -> None:
    """Produce in acknowledged chunks, appending (time acknowledged, records so far) to ``acked``
    (which holds what was produced before)."""
    for i in range(0, len(records), chunk):
        part = records[i:i + chunk]
        produce(dep.bootstrap, dep.topics["requests"], part)
        acked.append((time.monotonic(), acked[-1][1] + len(part)))


def test_lag_gauge_sees_the_whole_backlog_while_it_grows(deployment_factory) -> None:
    dep: Deployment = deployment_factory(partitions=2)
    # 120,000 records waiting when the worker starts (its first fetches take ~16 MiB of them),
    # then 36,000 more while it works through them: the worker (8,000-16,000 of these short
    # events/s here; 60,000 were once all processed before the gauge's first refreshes) is
    # still far behind once the gauge has had its first refreshes
    first = list(encode(workload(accounts=10_000, windows=1, per_window=12, prefix="lag-a")))
    more = list(encode(workload(accounts=3000, windows=1, per_window=12, prefix="lag-b")))
    records = first + more
    produce(dep.bootstrap, dep.topics["requests"], first)
    acked: list[tuple[float, int]] = [(time.monotonic(), len(first))]
    worker = dep.start()
    worker.wait_ready()
    judged_from = time.monotonic() + SETTLE_S  # the gauge's first refreshes since it was ready
    producer = threading.Thread(target=_produce_counted, args=(dep, more, acked))
    producer.start()

    samples: list[tuple[float, float, int]] = []  # (gauge, processed, acknowledged SETTLE_S before)
    t0 = time.monotonic()
    processed = 0.0
    unfinished_at = time.time()  # the last scrape that still found records unprocessed
    while producer.is_alive() or processed < len(records):
        assert time.monotonic() - t0 < 240, samples[-5:]
        scraped_at = time.time()
        lag, processed = _scrape(worker)
        if processed < len(records):
            unfinished_at = scraped_at
        now = time.monotonic()
        produced = max((n for t, n in acked if t <= now - SETTLE_S), default=0)
        if now >= judged_from:
            samples.append((lag, processed, produced))
        time.sleep(0.5)
    producer.join()
    wait_processed([worker], len(records))

    behind = [s for s in samples if s[2] - s[1] > 5_000]
    assert len(behind) >= 3, f"the worker was never far behind: {samples[:10]}"
    # the gauge was computed before the scrape's counter: it may count more than what is still
    # waiting at the scrape, never less
    under = [s for s in behind if s[0] < s[2] - s[1]]
    assert not under, f"lag gauge below the waiting records (gauge, processed, produced): {under[:5]}"
    deadline = time.monotonic() + 3 * SETTLE_S  # and back to 0 once everything is processed
    while (lag := _scrape(worker)[0]) != 0:
        assert time.monotonic() < deadline, lag
        time.sleep(0.5)
    print(f"\nlag: {len(samples)} scrapes, {len(behind)} with > 5,000 records waiting; "
          f"peak gauge {max(s[0] for s in samples):,.0f}")
    # and the requests agent's last batch is dated after the last scrape that saw work left
    last = scrape_metrics(worker)['distillguard_last_batch_timestamp_seconds{agent="requests"}']
    assert unfinished_at < last <= time.time(), (unfinished_at, last)
