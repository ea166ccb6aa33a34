"""The worker's garbage collector: what is long-lived is frozen, young garbage collected.

CPython's full (generation 2) collection walks every tracked container in the process. In a
worker that is ~150,000 objects before the first event (modules, Faust, aiokafka, River),
plus the decoded account states: here each full collection held the event loop for 110-230
ms, every few seconds under load, and showed up as the worst alert latencies. Objects that
live as long as the process are moved out of the collector's sight (``gc.freeze``) once at
start and once when the worker has recovered its tables and joined its group; the young
generation is collected less often (``gen0_threshold`` allocations instead of 700), so fewer
survivors are promoted towards the generations that a full collection walks.

Freezing right after a full collection leaks nothing: unreachable cycles are gone by then,
and what is frozen is reachable (it is never collected, by design, while it stays so).

Every collection's pause is observed (:func:`watch_pauses`, the worker's
``distillguard_gc_pause_seconds``): with the freeze, a bench run of the worker here made 3-4
full collections of 18-32 ms on average and no pause over 100 ms (``distillguard bench``
prints them).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["settle_heap", "watch_pauses"]


def settle_heap(gen0_threshold: int) -> int:
    """Collect everything, freeze what survives, set the young generation's threshold.

    Returns the number of objects now frozen. ``gen0_threshold`` 0 leaves the collector as it
    is (no freeze, default thresholds).
    """
    if gen0_threshold <= 0:
        return 0
    gc.collect()
    gc.freeze()
    _, t1, t2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, t1, t2)
    return gc.get_freeze_count()


def watch_pauses(observe: Callable[[int, float], None]) -> Callable[[], None]:
    """Call ``observe(generation, seconds)`` after every collection (the time the collector held
    the interpreter). Returns the function that stops watching."""
    started = [0.0]
    clock = time.perf_counter

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = clock()
        else:
            observe(info["generation"], clock() - started[0])

    gc.callbacks.append(callback)
    return lambda: gc.callbacks.remove(callback)
