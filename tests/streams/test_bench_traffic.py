"""The latency run's traffic (``streams.bench.churn``) has the backlog's mix at every moment.

Its alerts are the latency samples: they must come from the whole run, and the costly
first requests of new accounts must arrive at an even rate, as in a steady stream, not all
at the start (which made the p99 a measurement of that start alone).
"""

from __future__ import annotations

from collections import Counter

import pytest

from streams.bench import THRESHOLD, WARM_DEPTH, churn, synth

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


def test_backlog_traffic_is_unchanged_round_robin() -> None:
    events = list(synth(POOL, 4000, 100, "b", ts0=1_000))
    assert [ev["account_id"] for _, ev in events[:3]] == ["b-0", "b-1", "b-2"]
    assert events[250][1]["account_id"] == "b-50" and events[250][1]["ts"] == 1_250
    heavy = Counter(ev["account_id"] for _, ev in events if ev["output_tokens"] == THRESHOLD)
    assert sum(heavy.values()) == 4000 // 20 and len(heavy) == 100  # one in HEAVY_EVERY per pass
