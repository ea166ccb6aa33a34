"""Partitions whose records stopped reaching their agent, so that the consumer is sought back.

Faust's fetch loop can lose records around a rebalance: a delivery cut short by the flow
suspension still moves its read offset, records under that offset are then dropped, and the
stream queues are cleared when the flow resumes. The offset cursors (:mod:`streams.cursors`)
find such a hole when a later record of the partition arrives; when none does (the records
lost were the partition's last, seen in the failover test when traffic stopped right after a
takeover), nothing would ever process them. :class:`StallWatch` names a partition whose
cursor stayed behind the broker's log end, unchanged, over ``ticks`` consecutive checks while
the worker had nothing to do (no agent with a batch running or events queued: one fetch loop
delivers every topic, so an agent behind on its own topic leaves the others' records unfetched,
slow but not lost); the worker then seeks
Faust's consumer to the cursor (Faust's ``seek`` also resets the fetch loop's read offset),
and the records come again. A record that was merely slow comes twice at worst: the cursors
skip it as a replay.

Pure logic, no Kafka.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

__all__ = ["StallWatch", "worker_idle"]


def worker_idle(batch_active: Mapping[str, bool], queues: Mapping[str, Any]) -> bool:
    """Whether the whole worker has nothing to do: no agent with a batch running and every
    agent's stream queue (anything with ``empty()``) empty.

    Not one agent alone: one fetch loop delivers every topic, so while the requests agent is
    behind (its full queue blocks the delivery) the links records wait unfetched and the
    links agent, with an empty queue, would look idle. An overloaded worker sought its links
    partitions every few seconds that way, and Faust's fetch loop once crashed on such a seek.

    >>> class Q:
    ...     def __init__(self, n): self.n = n
    ...     def empty(self): return self.n == 0
    >>> worker_idle({"requests": False, "links": False}, {"requests": Q(0), "links": Q(0)})
    True
    >>> worker_idle({"requests": False, "links": False}, {"requests": Q(500), "links": Q(0)})
    False
    """
    return (not any(batch_active.get(agent, False) for agent in queues)
            and all(q.empty() for q in queues.values()))


class StallWatch:
    """Consecutive checks at which a partition's cursor stood still behind the log end.

    >>> w = StallWatch(ticks=2)
    >>> w.check("p0", cursor=10, end=15, idle=True), w.check("p0", cursor=10, end=15, idle=True)
    (False, True)
    >>> w.check("p0", cursor=10, end=15, idle=True)  # counted again from the seek
    False
    """

    def __init__(self, ticks: int = 2) -> None:
        self.ticks = ticks
        self._seen: dict[Hashable, tuple[int, int]] = {}  # key -> (cursor, consecutive checks)

    def check(self, key: Hashable, cursor: int | None, end: int | None, idle: bool) -> bool:
        """True when ``key``'s records should be read again from ``cursor``.

        ``cursor``: the next offset the agent's state is waiting for (None: unknown);
        ``end``: the broker's log-end offset (None: not known this time); ``idle``: the
        agent has no batch running and nothing queued.
        """
        if cursor is None or end is None or cursor >= end or not idle:
            self._seen.pop(key, None)
            return False
        prev = self._seen.get(key)
        n = prev[1] + 1 if prev is not None and prev[0] == cursor else 1
        if n >= self.ticks:
            self._seen.pop(key, None)
            return True
        self._seen[key] = (cursor, n)
        return False

    def forget(self) -> None:
        """Start counting again (a rebalance, a worker not ready)."""
        self._seen.clear()
