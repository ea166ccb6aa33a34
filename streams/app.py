"""The one Faust application: topics, RocksDB tables, agents, timers and web views.

Topology (see README "Architecture"):

* ``llm-requests`` (key account_id) → ``score-requests`` agent: batches of events
  (:func:`streams.batching.take_batches`: closed as soon as the worker caught up),
  per-partition :class:`models.engine.AccountEngine`, alerts/actions/link updates sent with
  the batch, then (every ``state_flush_ms``, once the outputs are acknowledged: see
  :mod:`streams.flush`) the state written once per key into the RocksDB table
  ``account-state``: per source partition one RocksDB write batch and a few changelog record
  batches to the same changelog partition.
* ``distill-links`` (key link key: payment fingerprint, IP /24, template band ...) →
  ``score-links`` agent with :class:`models.engine.ClusterEngine` and table ``cluster-state``.
* ``distill-feedback`` (key account_id, co-partitioned with requests) → verdicts and allowlist.
* ``distill-control`` (compacted, read in full by every worker) → the live dry-run switch.

Delivery is at-least-once: a batch's events are acked once the state they changed is written
(the state flush), and Faust flushes the producer (state changelog and outputs) before it
commits offsets. State is flushed before partitions are revoked and when the worker stops. Output ids
are deterministic, so a replay after a crash re-sends the same ids. The consumer is Faust's,
less its per-record task bookkeeping (:class:`_EagerDeliveryConsumer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import time
import types
import weakref
from collections.abc import Sequence
from functools import partial
from dataclasses import dataclass, field
from typing import Any

import faust
import faust.transport.drivers.aiokafka
import orjson
from faust.streams import _current_event
from faust.types import TP
from mode.services import WaitResults

from models.policy import Policy
from streams import rocksdb_options
from streams.batching import take_batches
from streams.cursors import CursorBatch, Gap, OffsetCursors, cursor_key, parse_cursor, splice
from streams.flush import StateFlush
from streams.gapfill import GapFiller
from streams.heap import settle_heap
from streams.lag import EndOffsets, partition_lag
from streams.stall import StallWatch, worker_idle
from streams.malloc import MallocTrimmer
from streams.metrics import Metrics
from streams.runtime import BatchOutput, InputRecord, Runtime, kafka_partition
from streams.security import aiokafka_security, faust_credentials
from streams.settings import Settings
from streams.tablestore import TableStore

__all__ = ["Distillguard", "build_app"]

log = logging.getLogger("distillguard")


@dataclass
class Distillguard:
    """The wired application: the Faust app plus what its agents and views share."""

    settings: Settings
    app: faust.App
    runtime: Runtime
    metrics: Metrics
    gapfill: GapFiller  #: reads offsets the consumer acknowledged without delivering them
    end_offsets: EndOffsets  #: the broker's log-end offsets, for the lag gauge
    tables: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, Any] = field(default_factory=dict)
    broker_ok: bool = False
    last_offsets: dict[int, int] = field(default_factory=dict)
    lag_partitions: set[int] = field(default_factory=set)  #: partitions the lag gauge has a value for
    streams: dict[str, Any] = field(default_factory=dict)  #: agent -> its Faust stream
    batch_active: dict[str, bool] = field(default_factory=dict)  #: agent -> a batch is running
    stalls: StallWatch = field(default_factory=StallWatch)
    events_since_snapshot: dict[int, int] = field(default_factory=dict)
    cursors: dict[str, OffsetCursors] = field(default_factory=dict)
    heap_settled: bool = False  #: long-lived objects frozen once the worker was first ready
    #: table kind -> its processed batches waiting for their state write (and its lock)
    flushes: dict[str, StateFlush] = field(default_factory=dict)

    def ready(self) -> tuple[bool, str]:
        """Readiness: broker reachable, not rebalancing, tables recovered, partitions assigned."""
        app = self.app
        if not self.broker_ok:
            return False, "broker unreachable"
        if app.rebalancing:
            return False, "rebalancing"
        recovery = app.tables.recovery
        if not recovery.completed.is_set():
            return False, "recovering tables"
        try:
            assigned = app.consumer.assignment()
        except Exception:  # noqa: BLE001 - consumer not started yet
            return False, "consumer not started"
        if not assigned:
            return False, "no partitions assigned"
        return True, "ok"


def _policy(settings: Settings) -> Policy:
    policy = Policy.from_yaml(settings.policy_file) if settings.policy_file else Policy.default()
    if settings.dry_run is not None:
        policy.set_dry_run(settings.dry_run)
    return policy


def _record(event: Any) -> InputRecord:
    msg = event.message
    return InputRecord(msg.topic, msg.partition, msg.offset, msg.key, msg.value,
                       int(msg.timestamp * 1000) if msg.timestamp else 0)


def _write_state(table: Any, dirty: dict[int, dict[str, bytes]], last_event: dict[int, Any]) -> int:
    """Write each dirty key once, in the context of the last event of its partition.

    Faust's RocksDB store and changelog take the partition from the current event, so
    the context must be an event of the same partition as the key's source.
    """
    n = 0
    for partition, kv in dirty.items():
        event = last_event.get(partition)
        if event is None:  # cannot happen: dirty state comes from this batch's partitions
            log.error("dirty state for partition %s without an event of it", partition)
            continue
        token = _current_event.set(weakref.ref(event))
        try:
            for key, value in kv.items():
                table[key] = value
                n += 1
        finally:
            _current_event.reset(token)
    return n


@dataclass
class _PartitionWrite:
    """One partition's dirty state, ready to write: a RocksDB write batch and changelog batches."""

    partition: int
    keys: int
    rocks: Any  #: ``rocksdict.WriteBatch`` for the partition's database
    changelog: list[Any]  #: aiokafka ``BatchBuilder``s, in key order


@dataclass
class _StateWrite:
    """A batch's dirty state, prepared (encoded, batched) but not yet written."""

    table: Any
    parts: list[_PartitionWrite] = field(default_factory=list)
    #: memory store (tests, tools): written key by key through Faust's own path
    fallback: tuple[dict[int, dict[str, bytes]], dict[int, Any]] | None = None


def _prepare_state(table: Any, dirty: dict[int, dict[str, bytes]], last_event: dict[int, Any]) -> _StateWrite:
    """Encode a batch's dirty state into per-partition RocksDB and changelog batches.

    Pure CPU work and no side effect, so the agent does it while the batch's outputs are on
    their way to the broker; :func:`_write_prepared` writes it once they are acknowledged.
    """
    store = table.data
    if getattr(store, "_db_for_partition", None) is None:
        return _StateWrite(table, fallback=(dirty, last_event))
    from rocksdict import WriteBatch

    producer = table.app.producer._ensure_producer()
    out = _StateWrite(table)
    for partition, kv in dirty.items():
        if not kv:
            continue
        rocks = WriteBatch(raw_mode=True)
        builders = [producer.create_batch()]
        builder = builders[0]
        for key, value in kv.items():
            raw = key.encode()
            rocks.put(raw, value)
            if builder.append(timestamp=None, key=raw, value=value) is None:
                # Full (producer_max_batch_size): a new one; its first record always fits.
                builder = producer.create_batch()
                builder.append(timestamp=None, key=raw, value=value)
                builders.append(builder)
        out.parts.append(_PartitionWrite(partition, len(kv), rocks, builders))
    return out


async def _write_prepared(state: _StateWrite) -> int:
    """Write prepared state: each partition's keys into its RocksDB database (one write
    batch) and its changelog (record batches of up to ``producer_max_batch_size`` bytes).

    The same two writes Faust's ``table[key] = value`` makes per key (local put, changelog
    record to the key's partition), without Faust's per-key FutureMessage, producer buffer and
    sensor calls, and without aiokafka's per-record ``send`` (a coroutine, a future and a
    16 KB batch each few records: dozens of sequential round trips per batch). The batches go
    into the app's producer, which Faust flushes before it commits offsets, so state still
    reaches the changelog before the offsets that depend on it. The offset of a partition's
    last changelog record is kept as its persisted offset once acked (Faust does this per
    key), so a restart replays only newer changelog records.
    """
    table = state.table
    if state.fallback is not None:
        return _write_state(table, *state.fallback)
    store = table.data
    producer = table.app.producer._ensure_producer()
    changelog = table.changelog_topic.get_topic_name()
    n = 0
    for part in state.parts:
        store._db_for_partition(part.partition).write(part.rocks)
        fut = None
        for builder in part.changelog:
            fut = await producer.send_batch(builder, changelog, partition=part.partition)
        if fut is not None:
            last = part.changelog[-1].record_count() - 1
            fut.add_done_callback(partial(_persisted, table.app, store, TP(changelog, part.partition), last))
        n += part.keys
    return n


async def _put_state(table: Any, dirty: dict[int, dict[str, bytes]], last_event: dict[int, Any]) -> int:
    """Write each dirty key once: into its partition's RocksDB database and its changelog."""
    return await _write_prepared(_prepare_state(table, dirty, last_event))


def _persisted(app: Any, store: Any, tp: TP, last: int, fut: asyncio.Future[Any]) -> None:
    """A changelog batch was acknowledged: its last record's offset is the persisted offset.

    A batch that failed means state the offsets depend on is not in the changelog: the worker
    stops (as for undelivered outputs) rather than let a commit pass it.
    """
    if fut.cancelled() or fut.exception() is not None:
        exc = None if fut.cancelled() else fut.exception()
        log.error("changelog write to %s failed: %r", tp, exc)
        if not app.should_stop:
            asyncio.ensure_future(app.crash(StateNotPersisted(f"changelog write to {tp} failed: {exc!r}")))
        return
    store.set_persisted_offset(tp, fut.result().offset + last)


class StateNotPersisted(RuntimeError):
    """A batch of state changelog records was not acknowledged."""


class OutputsNotDelivered(RuntimeError):
    """Some alerts, actions, link updates or dead letters of a batch were not acknowledged."""


async def _delivered(futs: list[asyncio.Future[Any]]) -> None:
    """Wait until the broker acknowledged every output of a batch; raise if any failed.

    Outputs are acknowledged *before* the batch's state is written: if a worker dies in
    between, its successor replays the records from the old state and sends the same outputs
    again (same ids); written the other way round, state that already counts an alert could
    outlive the alert itself, and the replay would never send it.
    """
    if not futs:
        return
    failed = [r for r in await asyncio.gather(*futs, return_exceptions=True) if isinstance(r, BaseException)]
    if failed:
        log.error("%d output records were not delivered, first: %r", len(failed), failed[0])
        raise OutputsNotDelivered(f"{len(failed)} output records not delivered: {failed[0]!r}")


class _Resumed:
    """A coroutine that already ran its first step (and yielded ``yielded``), as an awaitable a
    task can take over: the task waits on what the coroutine waits on and resumes it, sends,
    exceptions and cancellation passed on as ``yield from`` would."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Any, yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Any:
        coro, value = self._coro, self._yielded
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown in by the task: pass it on
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class _ConsumerThread(faust.transport.drivers.aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the fetch wait as a setting.

    Faust builds the worker's ``AIOKafkaConsumer`` with ``fetch_max_wait_ms=1500``. With one
    broker, a worker has one fetch request in flight for all of its partitions (requests, link
    updates, feedback), and aiokafka leaves out of it the partitions whose fetched records the
    worker has not taken yet. A request that went out while every requests partition still had
    records waiting covers only the quiet ones (feedback, link updates): the broker holds it up
    to the fetch wait, and new requests records wait behind it. That showed as events already
    300-700 ms old when they reached the worker, at 5,000 events/s over two workers.
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = wait_ms  # read by the fetcher aiokafka builds at start
        min_bytes = getattr(self.app, "fetch_min_bytes", None)
        if min_bytes is not None:
            consumer._fetch_min_bytes = min_bytes
        return consumer


class _Consumer(faust.transport.drivers.aiokafka.Consumer):
    """Faust's aiokafka consumer on :class:`_ConsumerThread`."""

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _EagerDeliveryConsumer(_Consumer):
    """Faust's aiokafka consumer, handing each fetched record to the topic conductor without
    four tasks per record.

    Faust's fetch loop (``Consumer._drain_messages``) delivers every record with
    ``await self.wait_first(callback(message), self.suspend_flow.wait())``: a task for the
    callback, one for the flow-suspension event, one each for the stopped and crashed events,
    and an ``asyncio.wait``, so that a rebalance (``suspend_flow`` set) can cancel a delivery
    that is blocked. That bookkeeping cost ~140 of the ~230 µs per record that a parse-only
    Faust agent spends here (same backlog: 3,057 -> 6,061 ev/s). The callback almost always
    completes without blocking (its record goes straight into the stream's queue); then
    ``wait_first`` would return exactly what this returns, so it is run in place first. If it
    blocks (a full stream buffer, suspended flow control) it is handed to Faust's
    ``wait_first`` from where it stopped, with the same suspension, stop and crash handling as
    before. Any other ``wait_first`` call, and any delivery while the flow is suspended or the
    consumer stopping, takes Faust's path unchanged.
    """

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        if len(coros) == 2 and timeout is None:
            first, waiter = coros
            flow = self.suspend_flow
            if (getattr(waiter, "cr_code", None) is type(flow).wait.__code__
                    and waiter.cr_frame is not None and waiter.cr_frame.f_locals.get("self") is flow
                    and asyncio.iscoroutine(first)
                    and not (flow.is_set() or self._stopped.is_set() or self._crashed.is_set())):
                try:
                    yielded = first.send(None)
                except StopIteration as done:
                    waiter.close()
                    return WaitResults([first], [done.value], False)
                except BaseException:
                    waiter.close()
                    raise
                return await super().wait_first(_Resumed(first, yielded), waiter)
        return await super().wait_first(*coros, timeout=timeout)


def _cheap_ebb_check(buffer: Any, threaded: bool) -> None:
    """Faust's conductor awaits ``producer.buffer.wait_until_ebb()`` before it delivers each
    record; its ``size`` reads ``app.conf.producer_threaded`` through Faust's settings registry
    every time: ~2-3.3 % of the worker's main thread (py-spy ``--gil``). Same check, the
    setting read once; when the buffer is over its bound, Faust's own wait runs."""
    slow = buffer.wait_until_ebb

    async def wait_until_ebb() -> None:
        queue = buffer.queue if threaded else buffer.pending
        if queue is not None and len(queue._queue) > buffer.max_messages:
            await slow()

    buffer.wait_until_ebb = wait_until_ebb


def _unlocked_callback_lookup(conductor: Any) -> None:
    """Faust's conductor takes its callback-map lock (an ``asyncio.Lock``) around the lookup
    of each record's callback: ~2.4 % of the worker's main thread (py-spy ``--gil``). The lock
    only keeps records out while ``_update_indices`` rebuilds the map across awaits. While it is
    free with nobody queued for it, acquiring it would not yield (asyncio's fast path), so the
    lookup is the same without it; otherwise Faust's handler runs (it waits for the lock)."""
    if conductor.app.client_only:
        return
    lock = conductor._tp_to_callback_lock
    get_callback = conductor._tp_to_callback.__getitem__
    faust_on_message = conductor.on_message

    async def on_message(message: Any) -> Any:
        if not lock.locked() and not lock._waiters:
            return await get_callback(message.tp)(message)
        return await faust_on_message(message)

    conductor.on_message = on_message


class _App(faust.App):
    """The Faust app, with :class:`_EagerDeliveryConsumer` (or, without eager delivery,
    :class:`_Consumer`) as its transport's consumer: the transport instance's, not the
    class's, so other Faust apps in the process are unchanged."""

    eager_delivery: bool = True
    fetch_max_wait_ms: int | None = None  #: None: Faust's 1,500 ms
    fetch_min_bytes: int | None = None  #: None: aiokafka's 1
    _event_cls: Any = None  #: ``conf.Event``, read at the first record (see ``create_event``)
    #: entered around Faust's handling of revoked partitions (``Distillguard`` writes the held
    #: state first, while the partitions' stores are still open, and keeps batches out)
    around_revoke: Any = None
    #: awaited before Faust stops the consumer and the tables (the final state write)
    before_stop: Any = None
    final_write_timeout_s: float = 30.0

    async def _on_partitions_revoked(self, revoked: Any) -> None:
        if self.around_revoke is None or self.should_stop:
            await super()._on_partitions_revoked(revoked)
            return
        async with self.around_revoke():
            await super()._on_partitions_revoked(revoked)

    async def on_stop(self) -> None:
        if self.before_stop is not None:
            try:  # bounded: a broker that is away must not hold the shutdown up
                await asyncio.wait_for(self.before_stop(), self.final_write_timeout_s)
            except Exception:  # noqa: BLE001 - the worker stops anyway; held events replay
                log.exception("final state write failed; its events will be processed again")
        await super().on_stop()

    def create_event(self, key: Any, value: Any, headers: Any, message: Any) -> Any:
        """Faust's, without its settings lookup per record: ``conf.Event`` (the event class) is
        read once. Faust's ``self.conf.Event`` on every record was ~1.3-2.4 % of the worker's
        main thread (py-spy ``--gil``, paced and backlog)."""
        cls = self._event_cls
        if cls is None:
            cls = self._event_cls = self.conf.Event
        return cls(self, key, value, headers, message)

    def _new_conductor(self) -> Any:
        conductor = super()._new_conductor()
        _unlocked_callback_lookup(conductor)
        return conductor

    def _new_producer(self) -> Any:
        producer = super()._new_producer()
        _cheap_ebb_check(producer.buffer, threaded=bool(self.conf.producer_threaded))
        return producer

    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        if type(transport) is faust.transport.drivers.aiokafka.Transport:
            transport.Consumer = _EagerDeliveryConsumer if self.eager_delivery else _Consumer
        return transport


def build_app(settings: Settings, *, metrics: Metrics | None = None) -> Distillguard:
    """Build the Faust app with every topic, table, agent, timer and view."""
    p = settings.topic_partitions
    datadir = settings.data_dir / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = _App(
        settings.app_id,
        broker=settings.broker_url(),
        broker_credentials=faust_credentials(settings),
        # Faust's RocksDB store with the worker-wide memory bounds (streams/rocksdb_options.py);
        # app-wide, not per table: a table's own store URL needs a path (an empty yarl URL is
        # falsy and Faust falls back to this one).
        store=f"{rocksdb_options.SCHEME}://",
        # One directory per app id: RocksDB offsets of another app (or an older run of a
        # renamed one) must never be mistaken for this app's changelog positions.
        datadir=str(datadir),
        topic_partitions=p,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        broker_commit_interval=settings.commit_interval_ms / 1000,
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_ms / 3000),
        producer_linger_ms=1,
        producer_max_batch_size=settings.producer_batch_bytes,
        consumer_max_fetch_size=settings.consumer_max_fetch_bytes,
        consumer_metadata_max_age_ms=settings.metadata_max_age_ms,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.group_instance_id,
        stream_wait_empty=False,
        table_standby_replicas=0,
        web_enabled=True,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        autodiscover=False,
    )
    app.eager_delivery = settings.eager_delivery  # before the transport exists (created lazily)
    app.fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms
    app.fetch_min_bytes = settings.consumer_fetch_min_bytes
    metrics = metrics or Metrics()

    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    requests_t = app.topic(settings.requests_topic, partitions=p, **raw)
    links_t = app.topic(settings.links_topic, partitions=p, **raw)
    feedback_t = app.topic(settings.feedback_topic, partitions=p, **raw)
    alerts_t = app.topic(settings.alerts_topic, partitions=p, **raw)
    actions_t = app.topic(settings.enforcement_topic, partitions=p, **raw)
    dead_t = app.topic(settings.deadletter_topic, partitions=p, **raw)

    raw_schema = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                              value_serializer="raw")
    # key_type/value_type bytes make the table's *store* serialisers raw too (the schema alone
    # only covers the changelog): without them keys are stored JSON-quoted, and TableStore, which
    # reads the RocksDB partition databases directly, never finds its state again.
    # RocksDB memory is bounded per worker, whatever the number of keys and partitions: one
    # block cache for every partition database, holding their index and filter blocks and
    # charged with their memtables (streams/rocksdb_options.py; Faust's store builds a 2 GiB
    # cache per database and keeps index and filter blocks outside it).
    rocksdb = {"driver": "rocksdict", "block_cache_size": settings.rocksdb_block_cache_bytes,
               "write_buffer_size": settings.rocksdb_write_buffer_bytes, "max_write_buffer_number": 2,
               "memtable_budget_bytes": settings.rocksdb_memtable_budget_bytes,
               "cache_index_and_filter_blocks": settings.rocksdb_cache_index_and_filter_blocks}
    table_opts = {"partitions": p, "schema": raw_schema, "key_type": bytes, "value_type": bytes}
    # Most of what is left grows with churn, not with the state: glibc's free chunks (see
    # streams/malloc.py), handed back periodically from a thread while the worker runs.
    trimmer = MallocTrimmer(settings.malloc_trim_interval_s)

    @app.task
    async def start_trimmer() -> None:  # when the worker starts (not at build: tests, tools)
        trimmer.start()

    @app.task
    async def install_task_dump() -> None:  # needs the worker's running event loop
        _install_task_dump(dg)

    # options are popped from by the store: each table gets its own dict
    account_table = app.Table("account-state", help="Per-account engine state (windows, signals, steps)",
                              options=dict(rocksdb), **table_opts)
    cluster_table = app.Table("cluster-state", help="Per-link-key cluster state", options=dict(rocksdb),
                              **table_opts)

    tables = {"account": account_table, "cluster": cluster_table}
    runtime = Runtime(store_factory=lambda kind, part: TableStore(tables[kind], part), policy=_policy(settings),
                      cache_size=settings.cache_size, volume=settings.volume_window(),
                      model_key=settings.model_key.encode(), max_future_ms=settings.max_future_ms)
    dg = Distillguard(settings, app, runtime, metrics, GapFiller(settings), EndOffsets(settings),
                      tables=tables,
                      topics={"requests": requests_t, "links": links_t, "alerts": alerts_t,
                              "actions": actions_t, "deadletter": dead_t, "feedback": feedback_t})

    @app.on_before_shutdown.connect
    async def stop_gapfill(_app: Any, **_: Any) -> None:
        await dg.gapfill.stop()
        await dg.end_offsets.close()

    async def send_outputs(out: BatchOutput) -> list[asyncio.Future[Any]]:
        """Send a batch's outputs straight through the producer (not ``topic.send``: Faust's
        per-record FutureMessage and callbacks cost more than the send itself). Keys and the
        default partitioner are the same; Faust flushes the producer before committing offsets.
        Returns the records' delivery futures (see :func:`_delivered`)."""
        send = app.producer.send
        futs = []
        dumps = orjson.dumps
        for alert in out.alerts:
            futs.append(await send(settings.alerts_topic, alert["subject"].encode(), dumps(alert),
                                   None, None, None))
            metrics.alerts.labels(alert["campaign"], alert["severity"]).inc()
        for src_ts, alert in zip(out.alert_source_ts, out.alerts):
            if src_ts:
                metrics.alert_latency.observe(max(0.0, (alert["detected_at"] - src_ts) / 1000))
        for action in out.actions:
            key = (action["accounts"][0] if len(action["accounts"]) == 1 else action["alert_id"]).encode()
            futs.append(await send(settings.enforcement_topic, key, dumps(action), None, None, None))
            metrics.actions.labels(action["action"]).inc()
        # One record per links partition per batch, holding that partition's updates in order
        # (the partition the default partitioner picks for each update's key): the cluster
        # agent then pays Faust's per-record cost once per batch and partition, not per update.
        by_partition: dict[int, list[dict[str, Any]]] = {}
        for link in out.links:
            by_partition.setdefault(kafka_partition(str(link["link_key"]), p), []).append(link)
        for part, links in by_partition.items():
            futs.append(await send(settings.links_topic, str(links[0]["link_key"]).encode(), dumps(links),
                                   part, None, None))
        for dl in out.deadletters:
            key = dl["key_b64"].encode() if dl.get("key_b64") else None
            futs.append(await send(settings.deadletter_topic, key, dumps(dl), None, None, None))
            metrics.deadletter.labels(dl["reason"].split(":", 1)[0]).inc()
        return futs

    def cursors_for(agent: str, table: Any) -> OffsetCursors:
        def load(topic: str, partition: int) -> int | None:
            return parse_cursor(TableStore(table, partition).get(cursor_key(topic, partition)))

        def highwater(topic: str, partition: int) -> int | None:
            return app.consumer.highwater(TP(topic, partition))

        dg.cursors[agent] = OffsetCursors(load, highwater=highwater)
        return dg.cursors[agent]

    #: table kind -> the agents whose batches (and cursors) write it
    table_agents = {"account": ("requests", "feedback"), "cluster": ("links",)}

    def state_writer(kind: str, table: Any) -> Any:
        async def write(last: dict[int, Any], counts: dict[int, int]) -> None:
            """Write what the table's agents changed since the last write: the states, then
            the cursors (same changelog partition: a cursor that reached the changelog means
            the state it covers did too), then the models' snapshots that are due."""
            t0 = time.perf_counter()
            dirty = _merge(runtime.pop_dirty(kind),
                           *(dg.cursors[a].pop_dirty() for a in table_agents[kind] if a in dg.cursors))
            await _write_prepared(_prepare_state(table, dirty, last))
            if kind == "account":
                await _maybe_snapshot(dg, last, counts)
            metrics.stage_latency.labels("state").observe(time.perf_counter() - t0)
        return write

    for kind, table in tables.items():
        dg.flushes[kind] = StateFlush(kind, settings.state_flush_ms / 1000, settings.state_flush_max_events,
                                      write=state_writer(kind, table), delivered=_delivered)

    async def flush_state(kind: str) -> bool:
        """Write the table's held state (its lock held by the caller); False when outputs were
        not delivered (the app crashes)."""
        try:
            await dg.flushes[kind].flush()
        except OutputsNotDelivered as exc:
            # Neither the held batches' state nor their offsets may be kept: stop the worker,
            # so that it (or the group) restarts from the last committed offsets.
            await app.crash(exc)
            return False
        return True

    @contextlib.asynccontextmanager
    async def settled_state() -> Any:
        """Every table's held state written, and no batch running, while the body runs."""
        async with contextlib.AsyncExitStack() as stack:
            for kind in sorted(dg.flushes):  # one order: two callers never deadlock
                await stack.enter_async_context(dg.flushes[kind].lock)
                await flush_state(kind)
            yield

    async def final_state() -> None:
        """The last state write of a stopping worker; no batch runs after it (its locks are
        kept): what arrives later is not acknowledged, so it is processed again after a
        restart."""
        for kind in sorted(dg.flushes):
            await dg.flushes[kind].lock.acquire()
            await flush_state(kind)

    app.around_revoke = settled_state
    app.before_stop = final_state

    async def run_batches(stream: Any, process: Any, table: Any, kind: str, agent: str) -> None:
        within = settings.batch_within_ms / 1000
        cursors = cursors_for(agent, table)
        dg.streams[agent] = stream
        async for events in take_batches(stream, settings.batch_size, within,
                                         close_when_caught_up=settings.batch_when_caught_up,
                                         min_fill_s=settings.batch_min_fill_ms / 1000, ack=False):
            dg.batch_active[agent] = True
            try:
                if not await process_batch(stream, events, process, kind, agent, cursors):
                    return  # the worker is stopping (outputs not delivered)
            finally:
                dg.batch_active[agent] = False

    async def process_batch(stream: Any, events: list[Any], process: Any, kind: str, agent: str,
                            cursors: OffsetCursors) -> bool:
        """One batch: gaps filled, replays skipped, processed, outputs sent, then held for the
        table's next state write (made now if it is due). False when outputs were not
        delivered (the app crashes).

        Batches of agents that write the same table, and that table's state writes, run one
        at a time. The requests and feedback agents share the account states in memory: a
        verdict applied while a requests batch waited for its outputs to be acknowledged was
        written at once (a verdict has no outputs to wait for), and then overwritten by the
        requests batch's state, encoded before the verdict (the account lost its verdict on
        its next read from RocksDB); and it carried that batch's effects into the changelog
        ahead of the batch's cursor (replayed after a crash, counted twice).
        """
        flush = dg.flushes[kind]
        async with flush.lock:
            # Events fetched before a rebalance that reached the agent after it: their state
            # went with the revoked partitions; not acknowledged, they come again from the
            # committed offsets of whoever owns their partitions now.
            generation = app.consumer_generation_id
            events = [e for e in events if e.message.generation_id == generation]
            if not events:
                return True
            if not await _process_batch(stream, events, process, kind, agent, cursors):
                return False
            if flush.due():
                return await flush_state(kind)
            return True

    async def _process_batch(stream: Any, events: list[Any], process: Any, kind: str, agent: str,
                             cursors: OffsetCursors) -> bool:
        if agent == "requests":
            _observe_queued(metrics, events)
        records = [_record(e) for e in events]
        gaps = cursors.gaps(records)
        if gaps:
            records = await _fill_gaps(dg, agent, records, gaps)
        batch = cursors.filter(records)
        _count_skipped(dg, agent, batch)
        records = batch.records
        out = process(records)
        t0 = time.perf_counter()
        futs = await send_outputs(out)
        metrics.stage_latency.labels("emit").observe(time.perf_counter() - t0)
        # Acknowledged before the state that counts them is written (at the state flush).
        dg.flushes[kind].hold(stream, events, futs)
        if agent == "requests":  # not feedback: its offsets are another topic's
            metrics.events.inc(out.events)
            metrics.stage_latency.labels("decode").observe(out.decode_s)
            metrics.stage_latency.labels("engine").observe(out.engine_s)
            for event in events:
                dg.last_offsets[event.message.partition] = event.message.offset
        elif kind == "cluster":
            metrics.link_updates.inc(out.events)
        metrics.last_batch.labels(agent).set(time.time())
        return True

    @app.agent(requests_t, name="score-requests")
    async def score_requests(stream: Any) -> None:
        await run_batches(stream, runtime.process_requests, account_table, "account", "requests")

    @app.agent(links_t, name="score-links")
    async def score_links(stream: Any) -> None:
        await run_batches(stream, runtime.process_links, cluster_table, "cluster", "links")

    @app.agent(feedback_t, name="apply-feedback")
    async def apply_feedback(stream: Any) -> None:
        await run_batches(stream, runtime.process_feedback, account_table, "account", "feedback")

    @app.on_partitions_revoked.connect
    @app.on_partitions_assigned.connect
    async def forget_partitions(_app: Any, *_: Any, **__: Any) -> None:
        # State follows partitions: drop every in-memory engine and cursor, re-read from
        # RocksDB on demand (before the new assignment, and again once it is known). The
        # held state was written before the revoke (``settled_state``); batches held since
        # changed only the engines dropped here: their events are not acknowledged.
        for flush in dg.flushes.values():
            dropped = flush.forget()
            if dropped:
                log.info("rebalance: %d %s events processed since the revoke will be processed "
                         "again", dropped, flush.kind)
        runtime.drop_partitions()
        for cursors in dg.cursors.values():
            cursors.forget()

    @app.timer(interval=2.0)
    async def watch_broker() -> None:
        dg.broker_ok = await asyncio.to_thread(_broker_reachable, settings.bootstrap_servers)
        ok, _ = dg.ready()
        if ok and not dg.heap_settled:
            # Recovered and assigned: what Faust built to get here lives as long as the worker.
            dg.heap_settled = True
            frozen = settle_heap(settings.gc_gen0_threshold)
            log.info("ready: %d long-lived objects frozen out of the garbage collector", frozen)
        metrics.ready.set(1 if ok else 0)
        ends = await _end_offsets(dg)
        _update_lag(dg, ends)
        await _unstall(dg, ends, ok)
        for kind, engines in (("account", runtime.accounts), ("cluster", runtime.clusters)):
            metrics.table_keys.labels(kind).set(sum(e.cached_keys() for e in engines.values()))
            metrics.state_held.labels(kind).set(dg.flushes[kind].held_events)

    @app.timer(interval=max(0.05, settings.state_flush_ms / 4000))
    async def flush_idle_state() -> None:
        # The agents write their held state when a batch finds it due; this writes it when
        # no batch comes (quiet traffic), so that acks and commits do not wait for traffic.
        for kind, flush in dg.flushes.items():
            if flush.due() and not flush.lock.locked():
                async with flush.lock:
                    if flush.due():
                        await flush_state(kind)

    @app.task
    async def follow_control() -> None:
        await _follow_control(dg)

    from streams.views import register_views

    register_views(dg)
    return dg


def _install_task_dump(dg: Distillguard) -> None:
    """``kill -USR1 <pid>`` logs the stack of every asyncio task of the worker: what a worker
    that is alive but not processing is waiting on (py-spy shows only an idle event loop)."""

    def dump() -> None:
        tasks = asyncio.all_tasks()
        log.warning("SIGUSR1: %d asyncio tasks", len(tasks))
        for task in tasks:
            log.warning("task %s: %s", task.get_name(), " -> ".join(_await_chain(task.get_coro())))
        # Task chains stop at async generators (asend objects hide theirs): this project's own
        # coroutines and generators, wherever they are suspended
        for obj in gc.get_objects():
            if isinstance(obj, (types.CoroutineType, types.AsyncGeneratorType)):
                code = getattr(obj, "cr_code", None) or getattr(obj, "ag_code", None)
                if code is not None and "/streams/" in code.co_filename:
                    log.warning("suspended %s: %s", code.co_name, " -> ".join(_await_chain(obj)))
        try:
            consumer = dg.app.consumer
            log.warning("consumer: assigned %s; paused %s; flow suspended %s; flow control active %s",
                        sorted(str(tp) for tp in consumer.assignment()),
                        sorted(str(tp) for tp in getattr(consumer, "_paused_partitions", ())),
                        consumer.suspend_flow.is_set(), dg.app.flow_control.is_active())
        except Exception:  # noqa: BLE001 - a diagnostic must not fail the worker
            log.warning("consumer state unavailable", exc_info=True)

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
        log.debug("no SIGUSR1 task dump", exc_info=True)


def _await_chain(obj: Any, limit: int = 40) -> list[str]:
    """``function (file:line)`` of a coroutine and of everything it awaits, outermost first
    (``Task.get_stack`` gives one frame for a coroutine: not what it is waiting on)."""
    out: list[str] = []
    while obj is not None and len(out) < limit:
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None) or getattr(obj, "ag_frame", None)
        if frame is not None:
            out.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno})")
        nxt = (getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
               or getattr(obj, "ag_await", None))
        if nxt is None and hasattr(obj, "_coro"):  # an awaitable wrapping a coroutine (_Resumed)
            nxt = obj._coro
        if nxt is None and not isinstance(obj, (asyncio.Future,)) and frame is None:
            out.append(type(obj).__name__)
        obj = nxt
    return out or ["(no frames)"]


async def _maybe_snapshot(dg: Distillguard, last: dict[int, Any], counts: dict[int, int]) -> None:
    """Snapshot each partition's River models every ``model_snapshot_every`` events
    (``counts``: events written per partition since the last call)."""
    snaps: dict[int, dict[str, bytes]] = {}
    for partition, n in counts.items():
        seen = dg.events_since_snapshot.get(partition, 0) + n
        if seen >= dg.settings.model_snapshot_every:
            seen = 0
            snaps[partition] = {dg.runtime.models_key(partition):
                                dg.runtime.account_engine(partition).snapshot_models()}
        dg.events_since_snapshot[partition] = seen
    if snaps:
        await _put_state(dg.tables["account"], snaps, last)


def _observe_queued(metrics: Metrics, events: Sequence[Any]) -> None:
    """How long the batch's oldest event waited, from its Kafka timestamp to the batch start
    (stage ``queued``: fetch, the previous batches, this batch's fill)."""
    oldest = min((e.message.timestamp for e in events if e.message.timestamp), default=None)
    if oldest:
        metrics.stage_latency.labels("queued").observe(max(0.0, time.time() - oldest))


def _merge(*parts: dict[int, dict[str, bytes]]) -> dict[int, dict[str, bytes]]:
    """Per-partition dirty state, later parts' keys after earlier ones'."""
    out: dict[int, dict[str, bytes]] = {}
    for part in parts:
        for partition, kv in part.items():
            out.setdefault(partition, {}).update(kv)
    return out


async def _fill_gaps(dg: Distillguard, agent: str, records: list[InputRecord],
                     gaps: list[Gap]) -> list[InputRecord]:
    """Read the records a batch is missing (after its partitions' cursors) and splice them in."""
    fills = []
    for gap in gaps:
        fetched = await dg.gapfill.fetch(gap.topic, gap.partition, gap.first, gap.end)
        log.warning("%s: records %s..%s of %s[%s] were not delivered by the consumer; read %d of "
                    "them from the topic", agent, gap.first, gap.end - 1, gap.topic, gap.partition,
                    len(fetched))
        dg.metrics.offset_gaps.labels(agent, "refilled").inc()
        fills.append((gap, fetched))
    return splice(records, fills)


def _count_skipped(dg: Distillguard, agent: str, batch: CursorBatch) -> None:
    """Count and log what the cursors skipped or took as absent."""
    metrics = dg.metrics
    for topic, partition, first, last in batch.absent:
        log.warning("%s: offsets %s..%s of %s[%s] are not in the topic (compaction, transaction "
                    "markers or retention)", agent, first, last, topic, partition)
        metrics.offset_gaps.labels(agent, "absent").inc()
    for topic, partition, cursor, offset in batch.resets:
        log.warning("%s: cursor %s of %s[%s] is past the partition's end (the topic was created "
                    "again?); processing from offset %s", agent, cursor, topic, partition, offset)
    if batch.replays:
        metrics.skipped.labels(agent, "replay").inc(batch.replays)


def _broker_reachable(bootstrap: str, timeout_s: float = 1.5) -> bool:
    for hostport in bootstrap.split(","):
        host, _, port = hostport.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


#: agent -> the Settings field naming the topic it consumes
_AGENT_TOPICS = {"requests": "requests_topic", "links": "links_topic", "feedback": "feedback_topic"}


async def _end_offsets(dg: Distillguard) -> dict[tuple[str, int], int]:
    """The broker's log-end offsets of the assigned partitions of the agents' topics."""
    if not dg.broker_ok:
        return {}
    try:
        topics = {getattr(dg.settings, name) for name in _AGENT_TOPICS.values()}
        tps = [(tp.topic, tp.partition) for tp in dg.app.consumer.assignment() if tp.topic in topics]
    except Exception:  # noqa: BLE001 - no consumer yet
        return {}
    return await dg.end_offsets.get(tps)


def _update_lag(dg: Distillguard, ends: dict[tuple[str, int], int]) -> None:
    """Set ``distillguard_lag_events`` per assigned llm-requests partition (see streams/lag.py);
    partitions no longer assigned lose their value rather than keep a stale one."""
    try:
        consumer = dg.app.consumer
        seen = set()
        for tp in consumer.assignment():
            if tp.topic != dg.settings.requests_topic:
                continue
            lag = partition_lag(ends.get((tp.topic, tp.partition)), consumer.highwater(tp),
                                dg.last_offsets.get(tp.partition))
            if lag is not None:
                dg.metrics.lag.labels(str(tp.partition)).set(lag)
                seen.add(tp.partition)
        for gone in dg.lag_partitions - seen:
            dg.metrics.lag.remove(str(gone))
        dg.lag_partitions = seen
    except Exception:  # noqa: BLE001 - metrics must never break the worker
        log.debug("lag update failed", exc_info=True)


async def _unstall(dg: Distillguard, ends: dict[tuple[str, int], int], ready: bool) -> None:
    """Seek Faust's consumer back to the cursor of a partition whose records stopped reaching
    its agent (see streams/stall.py)."""
    if not ready or not ends:
        dg.stalls.forget()
        return
    try:
        consumer = dg.app.consumer
        assigned = list(consumer.assignment())
        idle = worker_idle(dg.batch_active, {a: st.channel.queue for a, st in dg.streams.items()})
        for agent, field_name in _AGENT_TOPICS.items():
            cursors, stream = dg.cursors.get(agent), dg.streams.get(agent)
            if cursors is None or stream is None:
                continue
            topic = getattr(dg.settings, field_name)
            for tp in assigned:
                if tp.topic != topic:
                    continue
                cursor = cursors.peek(tp.topic, tp.partition)
                end = ends.get((tp.topic, tp.partition))
                if dg.stalls.check((agent, tp.topic, tp.partition), cursor, end, idle):
                    log.warning("%s: offsets %s..%s of %s[%s] are in the topic but did not reach the "
                                "agent; seeking the consumer back to %s", agent, cursor, end - 1,
                                tp.topic, tp.partition, cursor)
                    dg.metrics.offset_gaps.labels(agent, "sought").inc()
                    await consumer.seek(tp, cursor)
    except Exception:  # noqa: BLE001 - a recovery aid must never break the worker
        log.warning("stalled-partition check failed", exc_info=True)


async def _follow_control(dg: Distillguard) -> None:
    """Read the compacted control topic in full (no group) and apply the dry-run switch live."""
    from aiokafka import AIOKafkaConsumer

    s = dg.settings
    while True:
        consumer = AIOKafkaConsumer(s.control_topic, bootstrap_servers=s.bootstrap_servers,
                                    group_id=None, auto_offset_reset="earliest",
                                    **aiokafka_security(s))
        try:
            await consumer.start()
            async for msg in consumer:
                try:
                    ctl = orjson.loads(msg.value)
                    if isinstance(ctl, dict) and isinstance(ctl.get("dry_run"), bool):
                        dg.runtime.policy.set_dry_run(ctl["dry_run"])
                        log.warning("control: dry_run=%s", ctl["dry_run"])
                    else:
                        log.warning("control: ignored message %r", msg.value[:200])
                except orjson.JSONDecodeError:
                    log.warning("control: not JSON: %r", msg.value[:200])
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - broker away: retry
            log.warning("control topic consumer failed; retrying in 5 s", exc_info=True)
            await asyncio.sleep(5)
        finally:
            await consumer.stop()
