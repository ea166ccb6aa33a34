"""Batches of a Faust stream's events that close as soon as the stream has caught up.

Faust's ``Stream.take_events(max_, within)`` hands a batch over when it holds ``max_``
events, or else after ``within`` seconds, however little arrived: at a steady 2,000 events/s
every event waited up to the full ``within`` (50 ms) before its batch even started, on top of
the previous batch's processing. :func:`take_batches` is the same generator with one more
way to close a batch: the stream's channel queue is empty once an event was added, i.e. the
worker has taken in everything the consumer delivered so far, and the batch's first event is
at least ``min_fill_s`` old (10 ms in the worker). Batches then size themselves
to the load (natural batching): an event arriving at a quiet worker is processed at once, and
under load a batch holds what arrived while the previous one was processed, so the fixed
per-batch costs (acknowledgements, changelog batches) are still spread over many events.
``within`` stays the upper bound on a batch's wait, ``max_`` on its size.

The events are taken from the stream's channel queue in bulk (:class:`_Intake`), not one at a
time through the stream's iteration, which costs a loop turn, a processor coroutine and two
sensor calls per event (~12 µs here, a tenth of the worker's CPU per event). What that
iteration does before an event is used is done here too: events fetched before a rebalance
or while the flow is suspended are skipped and acked, the others tracked as Faust's commit
and rebalance expect.

Acknowledgement is Faust's by default: the batch's events are acked after the consumer of the
generator asked for the next batch (its body returned), as in ``take_events``. With
``ack=False`` the consumer acks them itself (the worker acks a batch's events only once its
state is written: :mod:`streams.flush`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from mode.utils.futures import notify

__all__ = ["take_batches"]


def take_batches(stream: Any, max_: int, within_s: float, *, close_when_caught_up: bool = True,
                 min_fill_s: float = 0.0, ack: bool = True) -> AsyncGenerator[list[Any], None]:
    """Yield lists of at most ``max_`` events of ``stream`` (a Faust ``Stream``, never iterated
    itself: the events come from its channel's queue).

    A batch closes when it is full, when ``within_s`` seconds passed since the previous one
    was handed over, or (``close_when_caught_up``) once the stream's input queue was empty
    after an event was added and the batch's first event is at least ``min_fill_s`` old.
    ``min_fill_s`` keeps a busy worker from handing over batches of a few events, each paying
    the fixed per-batch costs: near saturation that cost more capacity than it saved latency.
    With ``close_when_caught_up=False`` this is Faust's ``take_events``. With ``ack=False`` a
    batch's events are not acknowledged here, whether its body returned or raised: the caller
    acks each with ``stream.ack(event)`` once it is done with it. The generator is
    registered with the stream, as Faust registers its own, so that stopping the stream
    finalizes it.
    """
    agen = _take_batches(stream, max_, within_s, close_when_caught_up, min_fill_s, ack)
    active = getattr(stream, "_active_agens", None)
    if active is not None:
        active.add(agen)
    return agen


async def _take_batches(stream: Any, max_: int, within_s: float, close_when_caught_up: bool,
                        min_fill_s: float, ack: bool) -> AsyncGenerator[list[Any], None]:
    loop = asyncio.get_running_loop()
    take = _Intake(stream)
    last = loop.time()  # when the previous batch was handed over
    while not stream.should_stop:
        events: list[Any] = []
        try:
            take(events, max_)
            if not events:  # idle: wait for the next event (or the stop)
                if not await take.wait(events, within_s):
                    last = loop.time()
                    continue
                take(events, max_ - len(events))
            first_at = loop.time()
            while len(events) < max_:
                now = loop.time()
                if close_when_caught_up and take.empty():
                    # caught up: hand over once the first event is min_fill_s old, with what came
                    wait = min(first_at + min_fill_s, last + within_s) - now
                    if wait > 0:
                        await asyncio.sleep(wait)
                        take(events, max_ - len(events))
                    break
                wait = last + within_s - now
                if wait <= 0:
                    break
                if take.empty() and not await take.wait(events, wait):
                    break
                take(events, max_ - len(events))
        except StopAsyncIteration:
            # Faust ends a channel's iteration so (its topic stopped): end as its stream ends,
            # the batch being taken unprocessed and unacked (read again after a restart)
            return
        last = loop.time()
        try:
            yield events
        finally:
            if ack:
                for event in events:
                    await stream.ack(event)


class _Intake:
    """Takes a Faust stream's events from its channel queue, doing per event what the
    stream's own iteration does before a processor sees it (the consumer generation and flow
    control check, the message tracking that Faust's commit and rebalance wait on), without
    its per-event cost: a loop turn, a coroutine per processor, two sensor calls (~12 µs per
    event here against ~1 for this). Events the stream would skip (fetched before a rebalance,
    or while the flow is suspended) are acked as it acks them and not taken."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.app = stream.app
        self.queue = stream.channel.queue
        self.empty = self.queue.empty
        self.acking_topics = self.app.topics.acking_topics
        monitor = self.app.monitor
        #: Faust's slow-processing check reads when each partition's stream last took an event
        self.inbound: dict[Any, float] | None = monitor.stream_inbound_time if monitor is not None else None

    def __call__(self, events: list[Any], room: int) -> None:
        """Append up to ``room`` queued events to ``events`` (never waits)."""
        get_nowait, empty, admit = self.queue.get_nowait, self.empty, self._admit
        tps: set[Any] = set()
        while room > 0 and not empty():
            event = get_nowait()  # raises what was thrown into the channel, as the stream does
            if admit(event):
                tps.add(event.message.tp)
                events.append(event)
                room -= 1
        self._seen(tps)

    async def wait(self, events: list[Any], timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for one event and append it; False on timeout, at the
        stream's stop, or when the event was skipped."""
        res = await self.stream.wait_first(self.queue.get(), timeout=max(timeout_s, 0.0))
        if res.stopped or not res.done:
            return False
        event = res.results[0]
        if not self._admit(event):
            return False
        events.append(event)
        self._seen({event.message.tp})
        return True

    def _admit(self, event: Any) -> bool:
        app, message = self.app, event.message
        if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
            if event.ack():  # acked unprocessed, as Faust's stream acks the events it skips
                self.stream._on_message_out(message.tp, message.offset, message)
            return False
        if message.topic in self.acking_topics and not message.tracked:
            message.tracked = True
            app.consumer.unacked.add(message)
            self.stream._on_message_in(message.tp, message.offset, message)
        return True

    def _seen(self, tps: set[Any]) -> None:
        if self.inbound is not None and tps:
            now = time.monotonic()
            for tp in tps:
                self.inbound[tp] = now
