"""The worker freezes its long-lived objects out of the garbage collector (streams.heap)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.heap import settle_heap


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
