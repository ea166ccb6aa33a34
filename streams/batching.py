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

Acknowledgement is Faust's by default: the batch's events are acked after the consumer of the
generator asked for the next batch (its body returned), as in ``take_events``. With
``ack=False`` the consumer acks them itself (the worker acks a batch's events only once its
state is written: :mod:`streams.flush`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from mode.utils.futures import notify

__all__ = ["take_batches"]


def take_batches(stream: Any, max_: int, within_s: float, *, close_when_caught_up: bool = True,
                 min_fill_s: float = 0.0, ack: bool = True) -> AsyncGenerator[list[Any], None]:
    """Yield lists of at most ``max_`` events of ``stream`` (a Faust ``Stream``).

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
    events: list[Any] = []
    event_add = events.append
    ready = asyncio.Event()  # full, or caught up: hand the batch over without waiting
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None
    enable_acks = stream.enable_acks
    queue_empty = stream.channel.queue.empty if close_when_caught_up else None
    channel_it = stream.channel.__aiter__()
    first_at = 0.0  # loop time of the batch's first event
    min_fill: asyncio.TimerHandle | None = None  # closes a caught-up batch once min_fill_s old

    async def add_to_buffer(value: Any) -> Any:
        # A Faust stream processor: runs for every event the stream reads, in its context.
        nonlocal consuming, first_at, min_fill
        try:
            if consuming is not None:  # a batch is being processed: hold this one back
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_batches found current_event is None")
            event_add(event)
            if len(events) == 1:
                first_at = loop.time()
            if len(events) >= max_:
                ready.set()
                consumed.clear()
                await stream.wait(consumed)  # never more than max_ events in a batch
            elif queue_empty is not None and queue_empty() and not ready.is_set():
                wait = first_at + min_fill_s - loop.time()
                if wait <= 0:
                    ready.set()
                elif min_fill is None:
                    min_fill = loop.call_later(wait, ready.set)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - as Faust's take_events: crash the stream
            stream.log.exception("Error adding to batch: %r", exc)
            await stream.crash(exc)
        return value

    stream.enable_acks = False  # acked below once the batch was consumed, or by the caller
    stream.add_processor(add_to_buffer)
    stream._enable_passive(channel_it)  # the stream is drained in the background
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(ready, timeout=within_s)
            if not events:
                ready.clear()
                continue
            if min_fill is not None:
                min_fill.cancel()
                min_fill = None
            consuming = loop.create_future()
            batch = list(events)
            try:
                yield batch
            finally:
                events.clear()
                ready.clear()
                if ack:
                    for event in batch:
                        await stream.ack(event)
                notify(consuming)
                consumed.set()
    finally:
        if min_fill is not None:
            min_fill.cancel()
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)
