"""Deferred state writes: a table's state written every ``interval_s``, not after every batch.

In steady traffic a batch hardly ever holds an account twice, so a state write per batch is a
RocksDB put and a changelog record per event: the per-event write cost the streaming layer
must avoid. A :class:`StateFlush` holds the batches the agents writing one table processed,
and writes that table's dirty state once for all of them (an account seen in ten batches is
encoded and written once).

The delivery contract is unchanged: alerts and actions leave with their batch (latency does
not wait for the flush); at the flush every held batch's outputs are awaited *before* the
state that counts them is written, and the batches' events are acknowledged only *after* that
write, so Faust never commits an offset whose effects are not in the changelog. A worker that
dies with batches held has neither committed their offsets nor written their state: its
successor replays them from the last written state and sends the same outputs (same ids).

The caller runs the agents' batches and the flush one at a time (:attr:`StateFlush.lock`): the
agents writing one table share its states in memory, and a flush writes whatever they changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HeldBatch", "StateFlush"]


@dataclass
class HeldBatch:
    """A processed batch whose state is not written yet: its events and its outputs' futures."""

    stream: Any  #: the Faust stream the events came from (acks go through it)
    events: list[Any]
    outputs: list[asyncio.Future[Any]]


#: ``write(last_event_per_partition, events_per_partition)``: writes the table's dirty state
WriteState = Callable[[dict[int, Any], dict[int, int]], Awaitable[None]]
#: ``delivered(futures)``: raises if any output was not acknowledged
Delivered = Callable[[list[asyncio.Future[Any]]], Awaitable[None]]


@dataclass
class StateFlush:
    """Batches held for one table until its dirty state is written.

    ``interval_s`` bounds how long a processed event waits for its state write and its ack
    (0: every batch is written at once, as before deferral); ``max_events`` bounds how many
    events are held, whatever their age.
    """

    kind: str  #: the table: "account" or "cluster"
    interval_s: float
    max_events: int
    write: WriteState
    delivered: Delivered
    clock: Callable[[], float] = time.monotonic
    #: held by a batch of an agent writing this table, from processing to holding it, and by
    #: a flush: batches and flushes of one table never interleave
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    held: list[HeldBatch] = field(default_factory=list)
    held_events: int = 0
    first_held_at: float = 0.0  #: clock() when the oldest held batch was held

    def hold(self, stream: Any, events: list[Any], outputs: list[asyncio.Future[Any]]) -> None:
        """Keep a processed batch until the next flush (its outputs are on their way)."""
        if not self.held:
            self.first_held_at = self.clock()
        self.held.append(HeldBatch(stream, events, outputs))
        self.held_events += len(events)

    def due(self) -> bool:
        """Something is held and it is old enough, or there is enough of it."""
        if not self.held:
            return False
        return (self.held_events >= self.max_events
                or self.clock() - self.first_held_at >= self.interval_s)

    def forget(self) -> int:
        """Drop the held batches without writing or acknowledging them (a rebalance dropped
        the in-memory state they changed); returns how many events were dropped."""
        dropped, self.held, self.held_events = self.held_events, [], 0
        return dropped

    async def flush(self) -> None:
        """Await the held outputs, write the state, then acknowledge the held events.

        Raises what ``delivered`` raises if an output was not acknowledged: then nothing is
        written and nothing acknowledged (the held batches are dropped; the caller stops the
        worker, whose successor replays them from the last written state).
        """
        if not self.held:
            return
        held, self.held, self.held_events = self.held, [], 0
        await self.delivered([f for batch in held for f in batch.outputs])
        last: dict[int, Any] = {}
        counts: dict[int, int] = {}
        for batch in held:
            for event in batch.events:
                partition = event.message.partition
                last[partition] = event
                counts[partition] = counts.get(partition, 0) + 1
        await self.write(last, counts)
        for batch in held:
            ack = batch.stream.ack
            for event in batch.events:
                await ack(event)
