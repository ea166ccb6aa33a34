"""The worker's shortcuts in Faust's per-record path (streams/app.py) keep Faust's behaviour."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from streams.app import _cheap_ebb_check, build_app
from streams.settings import Settings


class _Buffer:
    """Faust's ``ProducerBuffer`` as the check sees it: its queues and its own wait."""

    max_messages = 100

    def __init__(self) -> None:
        self.pending: asyncio.Queue[int] = asyncio.Queue()
        self.queue: asyncio.Queue[int] | None = None
        self.waited = 0

    async def wait_until_ebb(self) -> None:  # Faust's: flushes until the buffer is small
        self.waited += 1


def test_the_producer_buffer_check_waits_only_when_faust_would() -> None:
    async def run(threaded: bool) -> int:
        buf = _Buffer()
        _cheap_ebb_check(buf, threaded=threaded)
        await buf.wait_until_ebb()  # empty: no wait
        q: asyncio.Queue[int] = asyncio.Queue()
        if threaded:
            buf.queue = q
        else:
            buf.pending = q
        for i in range(buf.max_messages):
            q.put_nowait(i)
        await buf.wait_until_ebb()  # at the bound: no wait (Faust waits when size > max)
        q.put_nowait(-1)
        await buf.wait_until_ebb()  # over it: Faust's own wait
        return buf.waited

    assert asyncio.run(run(False)) == 1
    assert asyncio.run(run(True)) == 1


def test_the_worker_app_builds_faust_events_and_its_producer_uses_the_cheap_check(tmp_path: Path) -> None:
    dg = build_app(Settings(data_dir=tmp_path))
    app = dg.app
    message = SimpleNamespace(topic="t", partition=0, offset=7)
    event = app.create_event(b"k", b"v", [], message)
    assert isinstance(event, app.conf.Event)
    assert (event.key, event.value, event.message, event.app) == (b"k", b"v", message, app)
    assert app.producer.buffer.wait_until_ebb.__qualname__.startswith("_cheap_ebb_check")


def test_records_wait_for_the_conductor_while_it_rebuilds_its_callbacks_and_only_then(tmp_path: Path) -> None:
    async def run() -> None:
        dg = build_app(Settings(data_dir=tmp_path))
        conductor = dg.app.topics
        tp = ("llm-requests", 0)
        seen: list[int] = []

        async def callback(message: SimpleNamespace) -> str:
            seen.append(message.offset)
            return "delivered"

        conductor._tp_to_callback[tp] = callback
        assert await conductor.on_message(SimpleNamespace(tp=tp, offset=1)) == "delivered"
        lock = conductor._tp_to_callback_lock
        await lock.acquire()  # as _update_indices holds it across its awaits
        pending = asyncio.ensure_future(conductor.on_message(SimpleNamespace(tp=tp, offset=2)))
        await asyncio.sleep(0.05)
        assert not pending.done() and seen == [1]  # held back while the map is rebuilt
        lock.release()
        assert await asyncio.wait_for(pending, 1.0) == "delivered" and seen == [1, 2]

    asyncio.run(run())
