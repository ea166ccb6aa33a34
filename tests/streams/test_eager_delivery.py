"""The worker's consumer delivers a fetched record in place when that does not block, and
falls back to Faust's ``wait_first`` (suspension, stop and crash handling) when it does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.app import _EagerDeliveryConsumer, build_app
from streams.settings import Settings


def _consumer(tmp_path: Path, eager: bool = True) -> Any:
    dg = build_app(Settings(data_dir=tmp_path, eager_delivery=eager))
    consumer = dg.app.consumer
    assert isinstance(consumer, _EagerDeliveryConsumer) == eager
    return consumer


def test_a_delivery_that_does_not_block_runs_in_place_without_tasks(tmp_path: Path) -> None:
    async def run() -> None:
        consumer = _consumer(tmp_path)
        delivered = []

        async def callback(n: int) -> int:
            delivered.append(n)
            return n * 2

        tasks_before = len(asyncio.all_tasks())
        res = await consumer.wait_first(callback(21), consumer.suspend_flow.wait())
        assert res.results == [42] and not res.stopped and delivered == [21]
        assert len(asyncio.all_tasks()) == tasks_before

    asyncio.run(run())


def test_a_blocked_delivery_continues_where_it_stopped(tmp_path: Path) -> None:
    async def run() -> None:
        consumer = _consumer(tmp_path)
        gate = asyncio.get_running_loop().create_future()
        steps = []

        async def callback() -> str:
            steps.append("before")
            value = await gate  # e.g. a full stream buffer
            await asyncio.sleep(0)
            steps.append("after")
            return value

        asyncio.get_running_loop().call_later(0.05, gate.set_result, "in")
        res = await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        assert res.results[0] == "in" and steps == ["before", "after"]

    asyncio.run(run())


def test_a_blocked_delivery_is_cancelled_when_the_flow_is_suspended(tmp_path: Path) -> None:
    async def run() -> None:
        consumer = _consumer(tmp_path)
        cancelled = []

        async def callback() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        asyncio.get_running_loop().call_later(0.05, consumer.suspend_flow.set)
        res = await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        await asyncio.sleep(0.01)
        assert not res.stopped and res.results == [True]  # the suspension won
        assert cancelled == [True]  # as with Faust's own path: the blocked delivery is dropped

    asyncio.run(run())


def test_an_error_in_the_delivery_propagates(tmp_path: Path) -> None:
    async def run() -> None:
        consumer = _consumer(tmp_path)

        async def callback() -> None:
            raise KeyError("boom")

        with pytest.raises(KeyError):
            await consumer.wait_first(callback(), consumer.suspend_flow.wait())

    asyncio.run(run())


def test_while_suspended_or_with_eager_delivery_off_faust_s_path_is_taken(tmp_path: Path) -> None:
    async def run(eager: bool) -> None:
        consumer = _consumer(tmp_path / str(eager), eager)
        if eager:
            consumer.suspend_flow.set()

        async def callback() -> str:
            return "ok"

        res = await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        assert "ok" in res.results

    asyncio.run(run(True))
    asyncio.run(run(False))


@pytest.mark.parametrize("eager", [True, False])
def test_the_worker_consumer_holds_a_fetch_for_the_configured_wait_and_bytes_not_faust_defaults(
        tmp_path: Path, eager: bool) -> None:
    async def run() -> None:
        dg = build_app(Settings(data_dir=tmp_path, eager_delivery=eager, consumer_fetch_max_wait_ms=25,
                                consumer_fetch_min_bytes=4096))
        consumer = dg.app.consumer
        aio = consumer._thread._create_worker_consumer(consumer.transport)
        try:
            assert aio._fetch_max_wait_ms == 25
            assert aio._fetch_min_bytes == 4096
        finally:
            await aio.stop()

    asyncio.run(run())
