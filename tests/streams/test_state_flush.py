"""Deferred state writes (streams.flush): held batches, written and acknowledged in that order.

What a user relies on: an event's offset becomes committable only after the state it changed
is written, and that state only after the outputs it counts were acknowledged; nothing is
acknowledged when an output failed. The worker's integration tests (restart, failover,
rebalance) run the same flush against the real broker.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streams.flush import StateFlush


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ev(partition: int, offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(partition=partition, offset=offset))


class Stream:
    """Records acks, and the steps they happened after."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    async def ack(self, event: Any) -> bool:
        self.log.append(("ack", event.message.partition, event.message.offset))
        return True


def make(log: list[Any], *, interval_s: float = 0.5, max_events: int = 1000,
         clock: Clock | None = None) -> StateFlush:
    async def write(last: dict[int, Any], counts: dict[int, int]) -> None:
        log.append(("write", {p: e.message.offset for p, e in last.items()}, dict(counts)))

    async def delivered(futs: list[asyncio.Future[Any]]) -> None:
        results = await asyncio.gather(*futs, return_exceptions=True)
        log.append(("delivered", len(futs)))
        if any(isinstance(r, BaseException) for r in results):
            raise RuntimeError("an output was not delivered")

    return StateFlush("account", interval_s, max_events, write=write, delivered=delivered,
                      clock=clock or Clock())


def test_a_batch_is_held_until_the_interval_passed_or_enough_events_wait() -> None:
    clock = Clock()
    flush = make([], interval_s=0.5, max_events=5, clock=clock)
    assert not flush.due()  # nothing held
    flush.hold(Stream([]), [ev(0, 0), ev(0, 1)], [])
    clock.now += 0.4
    assert not flush.due()
    clock.now += 0.1
    assert flush.due()  # the oldest held event is 0.5 s old

    flush = make([], interval_s=60, max_events=5, clock=clock)
    flush.hold(Stream([]), [ev(0, i) for i in range(3)], [])
    assert not flush.due()
    flush.hold(Stream([]), [ev(1, i) for i in range(2)], [])
    assert flush.due()  # five events held, however young


def test_outputs_are_awaited_then_state_written_then_every_event_acked_in_order() -> None:
    log: list[Any] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        flush = make(log)
        out = loop.create_future()
        requests, feedback = Stream(log), Stream(log)
        flush.hold(requests, [ev(0, 10), ev(1, 4), ev(0, 11)], [out])
        flush.hold(feedback, [ev(1, 7)], [])
        task = asyncio.ensure_future(flush.flush())
        await asyncio.sleep(0.01)
        assert log == []  # waits for the output's acknowledgement: nothing written or acked
        out.set_result(None)
        await task
        assert not flush.held and not flush.due()

    asyncio.run(run())
    assert log == [
        ("delivered", 1),
        # the last event of each partition (context of the partition's writes) and the counts
        ("write", {0: 11, 1: 7}, {0: 2, 1: 2}),
        ("ack", 0, 10), ("ack", 1, 4), ("ack", 0, 11), ("ack", 1, 7),
    ]


def test_an_undelivered_output_leaves_state_unwritten_and_events_unacked() -> None:
    log: list[Any] = []

    async def run() -> StateFlush:
        loop = asyncio.get_running_loop()
        flush = make(log)
        bad = loop.create_future()
        bad.set_exception(OSError("broker away"))
        flush.hold(Stream(log), [ev(0, 1)], [bad])
        with pytest.raises(RuntimeError):
            await flush.flush()
        return flush

    flush = asyncio.run(run())
    assert log == [("delivered", 1)]  # no write, no ack
    assert not flush.held  # dropped: the worker stops and its successor replays them


def test_forget_drops_held_batches_without_acknowledging_them() -> None:
    log: list[Any] = []
    flush = make(log)
    flush.hold(Stream(log), [ev(2, 1), ev(2, 2)], [])
    assert flush.forget() == 2
    asyncio.run(flush.flush())  # nothing left to write
    assert log == [] and not flush.due()


def test_zero_interval_writes_after_every_batch() -> None:
    flush = make([], interval_s=0.0)
    flush.hold(Stream([]), [ev(0, 1)], [])
    assert flush.due()
