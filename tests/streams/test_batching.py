"""Batches close when the worker has caught up, not after a fixed wait (streams.batching).

A Faust in-memory channel feeds the stream: the batching logic is Faust's stream machinery
plus one condition, so no broker is needed here; the worker's integration tests run it
against the real one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust
from faust.types import Message

from streams.batching import take_batches


async def _collect(feed: Any, expected: int, *, max_: int, within_s: float,
                   caught_up: bool = True, min_fill_s: float = 0.0, ack: bool = True,
                   acked: list[int] | None = None) -> list[tuple[float, list[int]]]:
    """Run ``feed(put)`` beside a batched stream; (seconds since start, values) per batch.
    ``acked`` collects the values of the events the generator acknowledged."""
    app = faust.App("test-batching", store="memory://", web_enabled=False, autodiscover=False)
    app.flow_control.resume()  # as a started worker's: the stream skips events otherwise
    channel = app.channel()
    stream = app.stream(channel)
    if acked is not None:
        faust_ack = stream.ack

        async def recording_ack(event: Any) -> bool:
            acked.append(event.value)
            return await faust_ack(event)

        stream.ack = recording_ack

    async def put(i: int) -> None:
        msg = Message("t", 0, i, time.time(), 0, [], None, i, None,
                      generation_id=app.consumer_generation_id)
        await channel.put(app.create_event(None, i, [], msg))

    batches: list[tuple[float, list[int]]] = []
    t0 = time.monotonic()
    feeder = asyncio.ensure_future(feed(put))

    async def consume() -> None:
        async for batch in take_batches(stream, max_, within_s, close_when_caught_up=caught_up,
                                      min_fill_s=min_fill_s, ack=ack):
            batches.append((time.monotonic() - t0, [e.value for e in batch]))
            if sum(len(b) for _, b in batches) >= expected:
                break

    try:
        await asyncio.wait_for(consume(), 20)
    finally:
        feeder.cancel()
        await stream.stop()
    return batches


def test_an_event_reaching_a_quiet_worker_is_handed_over_at_once() -> None:
    async def feed(put: Any) -> None:
        for i in range(3):
            await asyncio.sleep(0.3)
            await put(i)

    batches = asyncio.run(_collect(feed, 3, max_=100, within_s=5.0))
    assert [values for _, values in batches] == [[0], [1], [2]]
    # each within a fraction of the 5 s the batch could have waited (sent at 0.3, 0.6, 0.9 s)
    for (t, _), sent in zip(batches, (0.3, 0.6, 0.9)):
        assert t < sent + 0.5, batches


def test_a_burst_is_split_into_full_batches_in_order_and_nothing_is_lost() -> None:
    async def feed(put: Any) -> None:
        await asyncio.sleep(0.1)
        for i in range(250):
            await put(i)

    batches = asyncio.run(_collect(feed, 250, max_=100, within_s=5.0))
    sizes = [len(values) for _, values in batches]
    assert max(sizes) <= 100 and sizes[:2] == [100, 100]
    assert [v for _, values in batches for v in values] == list(range(250))
    assert batches[-1][0] < 2.0  # the remainder did not wait for the 5 s bound


def test_without_caught_up_closing_a_batch_waits_as_faust_take_events_does() -> None:
    async def feed(put: Any) -> None:
        await asyncio.sleep(0.1)
        await put(0)

    batches = asyncio.run(_collect(feed, 1, max_=100, within_s=1.0, caught_up=False))
    assert [values for _, values in batches] == [[0]]
    assert batches[0][0] >= 0.9  # held until the within bound, not handed over at 0.1 s


def test_a_caught_up_batch_waits_for_its_minimum_fill_then_takes_what_came_meanwhile() -> None:
    async def feed(put: Any) -> None:
        await asyncio.sleep(0.1)
        await put(0)  # caught up at once, but the batch is younger than 0.5 s
        await asyncio.sleep(0.2)
        await put(1)

    batches = asyncio.run(_collect(feed, 2, max_=100, within_s=5.0, min_fill_s=0.5))
    assert [values for _, values in batches] == [[0, 1]]
    assert 0.5 <= batches[0][0] < 1.5  # at the minimum fill (0.1 + 0.5 s), not the 5 s bound


def test_a_batch_is_acked_once_consumed_unless_the_caller_acks_it() -> None:
    async def feed(put: Any) -> None:
        await asyncio.sleep(0.1)
        for i in range(5):
            await put(i)
        await asyncio.sleep(0.3)
        await put(5)  # a second batch

    acked: list[int] = []
    asyncio.run(_collect(feed, 6, max_=100, within_s=5.0, acked=acked))
    assert acked == list(range(6))  # each batch once its body returned (or was left)

    acked = []
    batches = asyncio.run(_collect(feed, 6, max_=100, within_s=5.0, ack=False, acked=acked))
    assert [v for _, values in batches for v in values] == list(range(6)) and acked == []


def test_events_of_an_earlier_consumer_generation_are_acked_and_never_handed_over() -> None:
    """Records fetched before a rebalance (an older consumer generation) may belong to
    partitions now owned by another worker: they are skipped, and acked so that they do not
    hold back the partition's commit, as Faust's own stream does."""
    app = faust.App("test-batching-gen", store="memory://", web_enabled=False, autodiscover=False)
    app.flow_control.resume()
    channel = app.channel()
    stream = app.stream(channel)
    stale = Message("t", 0, 0, time.time(), 0, [], None, 0, None,
                    generation_id=app.consumer_generation_id - 1)
    current = Message("t", 0, 1, time.time(), 0, [], None, 1, None,
                      generation_id=app.consumer_generation_id)

    async def run() -> list[list[int]]:
        for msg in (stale, current):
            await channel.put(app.create_event(None, msg.value, [], msg))
        out = []
        async for batch in take_batches(stream, 100, 1.0, ack=False):
            out.append([e.value for e in batch])
            break
        await stream.stop()
        return out

    assert asyncio.run(asyncio.wait_for(run(), 20)) == [[1]]
    assert stale.acked and not current.acked
