"""The worker freezes its long-lived objects out of the garbage collector (streams.heap)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.heap import settle_heap, watch_pauses


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the rest of the test session keeps CPython's collector
    gc.set_threshold(*thresholds)


def test_long_lived_objects_are_frozen_and_full_collections_no_longer_walk_them(collector: None) -> None:
    keep = [[i] for i in range(50_000)]  # long-lived containers, as a worker's modules and states
    frozen = settle_heap(20_000)
    assert frozen >= len(keep) and gc.get_freeze_count() == frozen
    assert gc.get_threshold()[0] == 20_000
    # a full collection now sees only what was allocated since: far fewer objects than frozen
    tracked = len(gc.get_objects())
    assert tracked < frozen // 2


def test_threshold_zero_leaves_the_collector_as_it_is(collector: None) -> None:
    before = gc.get_threshold()
    assert settle_heap(0) == 0
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_every_collection_is_timed_until_the_watch_stops() -> None:
    pauses: list[tuple[int, float]] = []
    stop = watch_pauses(lambda generation, seconds: pauses.append((generation, seconds)))
    try:
        for generation in (0, 1, 2):
            gc.collect(generation)
    finally:
        stop()
    assert [g for g, _ in pauses[-3:]] == [0, 1, 2] and all(s >= 0 for _, s in pauses)
    n = len(pauses)
    gc.collect(0)
    assert len(pauses) == n, "the watch is removed"


def test_bench_reads_the_workers_pauses_from_their_metrics() -> None:
    from streams.bench import gc_pauses, parse_metrics
    from streams.metrics import Metrics

    m = Metrics()
    for generation, seconds in ((0, 0.002), (1, 0.03), (2, 0.08), (2, 0.16), (1, 0.12)):
        m.gc_pause.labels(str(generation)).observe(seconds)
    got = gc_pauses(parse_metrics(m.render().decode()))
    assert got == {"gc_full_collections": 2, "gc_full_ms_mean": 120.0, "gc_pauses_over_100ms": 2}
