"""The latency run's traffic (``streams.bench.churn``) has the backlog's mix at every moment.

Its alerts are the latency samples: they must come from the whole run, and the costly
first requests of new accounts must arrive at an even rate, as in a steady stream, not all
at the start (which made the p99 a measurement of that start alone).
"""

from __future__ import annotations

from collections import Counter

import pytest

from streams.bench import THRESHOLD, WARM_DEPTH, backlog, churn

POOL = [{"prompt": f"prompt {i}", "output_tokens": 300, "model": "m"} for i in range(50)]


def _deciles(n: int, positions: list[int]) -> list[int]:
    counts = [0] * 10
    for p in positions:
        counts[p * 10 // n] += 1
    return counts


@pytest.mark.parametrize(("slots", "lifetime", "n"), [(1000, 50, 50_000), (300, 10, 12_000), (97, 33, 20_000)])
def test_new_accounts_and_alerts_are_spread_over_the_run(slots: int, lifetime: int, n: int) -> None:
    warm, paced = churn(POOL, n, slots, lifetime, "t")
    assert len(paced) == n
    assert not [ev for _, ev in warm if ev["output_tokens"] == THRESHOLD], "no alert before the clock"
    seen = Counter(ev["account_id"] for _, ev in warm)
    assert max(seen.values()) <= WARM_DEPTH
    first_requests, heavy = [], []
    for pos, (key, ev) in enumerate(paced):
        assert key == ev["account_id"].encode()
        seen[ev["account_id"]] += 1
        assert seen[ev["account_id"]] <= lifetime
        if seen[ev["account_id"]] <= 8:
            first_requests.append(pos)
        if ev["output_tokens"] == THRESHOLD:
            heavy.append(pos)
    per_account = Counter(ev["account_id"] for _, ev in paced if ev["output_tokens"] == THRESHOLD)
    assert max(per_account.values()) == 1, "one alert per account"
    # every tenth of the run has its share of alerts and of first requests (the backlog's
    # proportion, min(8, lifetime) of every lifetime requests), within a third
    for counts, total in ((_deciles(n, heavy), len(heavy)), (_deciles(n, first_requests), len(first_requests))):
        assert total > 0
        assert all(abs(c - total / 10) <= total / 30 + 2 for c in counts), counts
    share = len(first_requests) / n
    assert abs(share - min(8, lifetime) / lifetime) < 0.25 * min(8, lifetime) / lifetime


def test_the_backlog_has_the_paced_mix_in_every_stretch_and_exactly_its_events() -> None:
    # the backlog is timed from the moment the group is ready, often half-way through it: its
    # second half must cost what its first does (new accounts all along), as paced traffic
    n, accounts = 20_000, 400
    events = backlog(POOL, n, accounts, "b", ts0=1_000)
    assert len(events) == n
    assert [ev["ts"] for _, ev in events] == list(range(1_000, 1_000 + n))
    assert len({ev["request_id"] for _, ev in events}) == n
    seen: Counter[str] = Counter()
    first_requests, heavy = [], []
    for pos, (key, ev) in enumerate(events):
        assert key == ev["account_id"].encode()
        seen[ev["account_id"]] += 1
        if seen[ev["account_id"]] <= 8:
            first_requests.append(pos)
        if ev["output_tokens"] == THRESHOLD:
            heavy.append(pos)
    assert max(seen.values()) <= n // accounts
    # the second half (the part a from-ready timing sees) holds new accounts' first requests
    # in the steady share, min(8, lifetime) of every lifetime requests, spread evenly; the old
    # round-robin backlog had none there
    lifetime, half = n // accounts, n // 2
    late_first = [p - half for p in first_requests if p >= half]
    assert abs(len(late_first) / half - 8 / lifetime) < 0.25 * 8 / lifetime, len(late_first)
    counts = _deciles(half, late_first)
    assert all(abs(c - len(late_first) / 10) <= len(late_first) / 30 + 2 for c in counts), counts
    late_heavy = [p for p in heavy if p >= half]
    assert abs(len(late_heavy) - half / lifetime) <= 0.1 * half / lifetime + 2, len(late_heavy)
    # tiny runs (fewer events than the warm-up would take) still hold exactly their events
    assert len(backlog(POOL, 50, 300, "s", ts0=0)) == 50
