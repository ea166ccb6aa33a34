"""The agent's state writes: one RocksDB write batch and few changelog record batches per
partition, the persisted offset set to the partition's last changelog record once acked."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata

from streams.app import StateNotPersisted, _persisted, _prepare_state, _write_prepared


class FakeDB:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.writes = 0

    def write(self, batch: Any) -> None:
        # rocksdict's WriteBatch cannot be read back: replay what was put (recorded below)
        self.writes += 1
        for key, value in batch._puts:
            self.data[key] = value


class RecordingWriteBatch:
    def __init__(self, raw_mode: bool = True) -> None:
        self._puts: list[tuple[bytes, bytes]] = []

    def put(self, key: bytes, value: bytes) -> None:
        self._puts.append((key, value))


class FakeStore:
    def __init__(self) -> None:
        self.dbs: dict[int, FakeDB] = {}
        self.persisted: dict[Any, int] = {}

    def _db_for_partition(self, partition: int) -> FakeDB:
        return self.dbs.setdefault(partition, FakeDB())

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp] = offset


class FakeAioProducer:
    """aiokafka's batch API: create_batch, send_batch (a future per batch, base offset)."""

    def __init__(self, batch_bytes: int) -> None:
        self.batch_bytes = batch_bytes
        self.sent: list[tuple[str, int, BatchBuilder, asyncio.Future[Any]]] = []
        self.next_offset: dict[int, int] = {}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_bytes, 0)  # no compression

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        fut = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch, fut))
        return fut

    def ack_all(self) -> None:
        for topic, partition, batch, fut in self.sent:
            base = self.next_offset.get(partition, 0)
            self.next_offset[partition] = base + batch.record_count()
            if not fut.done():
                fut.set_result(RecordMetadata(topic, partition, None, base, -1, 0, 0))


def _table(batch_bytes: int) -> Any:
    aio = FakeAioProducer(batch_bytes)
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: aio), should_stop=False)
    changelog = SimpleNamespace(get_topic_name=lambda: "app-account-state-changelog")
    return SimpleNamespace(data=FakeStore(), app=app, changelog_topic=changelog), aio


@pytest.fixture(autouse=True)
def _recording_writebatch(monkeypatch: pytest.MonkeyPatch) -> None:
    import rocksdict

    monkeypatch.setattr(rocksdict, "WriteBatch", RecordingWriteBatch)


def test_each_partition_gets_one_db_write_and_its_changelog_in_order_and_in_few_batches() -> None:
    table, aio = _table(batch_bytes=16_384)
    dirty = {0: {f"a:acct-{i}": b"x" * 900 for i in range(50)} | {"cursor|t|0": b"50"},
             3: {"vol|acct-7": b"{}", "cursor|t|3": b"8"}}

    async def run() -> int:
        state = _prepare_state(table, dirty, {})
        assert not aio.sent and not table.data.dbs  # prepared: nothing written yet
        n = await _write_prepared(state)
        aio.ack_all()
        await asyncio.sleep(0)
        return n

    assert asyncio.run(run()) == 53
    store = table.data
    assert store.dbs[0].writes == 1 and store.dbs[3].writes == 1
    assert store.dbs[0].data[b"cursor|t|0"] == b"50" and store.dbs[3].data[b"vol|acct-7"] == b"{}"
    p0 = [b for t, p, b, _ in aio.sent if p == 0]
    assert 2 <= len(p0) <= 5  # ~46 KB of state in 16 KB batches, not one send per key
    assert sum(b.record_count() for b in p0) == 51
    # the cursor is the partition's last changelog record, and its offset the persisted one
    tps = {tp.partition: off for tp, off in store.persisted.items()}
    assert tps == {0: 50, 3: 1}


def test_a_failed_changelog_batch_stops_the_worker() -> None:
    crashed: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashed.append(exc)

    async def run() -> None:
        app = SimpleNamespace(should_stop=False, crash=crash)
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(RuntimeError("broker said no"))
        _persisted(app, FakeStore(), ("changelog", 1), 0, fut)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert len(crashed) == 1 and isinstance(crashed[0], StateNotPersisted)


def test_volume_state_is_read_from_the_store_once_per_account_until_a_rebalance() -> None:
    import orjson

    from streams.runtime import InputRecord, Runtime

    reads: list[str] = []

    class CountingStore(dict):  # type: ignore[type-arg]
        def get(self, key: str, default: Any = None) -> Any:
            if key.startswith("vol|"):
                reads.append(key)
            return super().get(key, default)

    stores: dict[tuple[str, int], CountingStore] = {}
    rt = Runtime(store_factory=lambda kind, p: stores.setdefault((kind, p), CountingStore()))

    def batch(first_offset: int) -> list[InputRecord]:
        ev = {"request_id": f"r{first_offset}", "account_id": "acct-1", "ts": 1_700_000_000_000,
              "model": "m", "endpoint": "chat", "input_tokens": 10, "output_tokens": 100,
              "prompt": "hello", "status": 200, "client_ip": "10.0.0.1"}
        return [InputRecord("t", 0, first_offset, b"acct-1", orjson.dumps(ev), ev["ts"])]

    for offset in range(3):
        rt.process_requests(batch(offset))
        for kv in rt.pop_dirty("account").values():  # the agent writes these; here: the dict store
            stores[("account", 0)].update(kv)
    assert reads == ["vol|acct-1"]
    assert orjson.loads(stores[("account", 0)]["vol|acct-1"])["w"][0][1] == 300
    rt.drop_partitions()
    rt.process_requests(batch(3))
    assert reads == ["vol|acct-1", "vol|acct-1"]  # after a rebalance: read from the store again
    assert orjson.loads(rt.pop_dirty("account")[0]["vol|acct-1"])["w"][0][1] == 400
