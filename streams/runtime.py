"""The Kafka-free core of the worker: per-partition engines fed batch by batch.

A Faust agent (``streams/agents.py``) and ``replay --local`` (``streams/replay.py``)
both drive this class, so both paths run the same code on the same per-partition
event order and produce the same alerts. It decodes records, dead-letters what
breaks the contract (with the reason and the original bytes), calls the engine of
the record's partition, stamps ``detected_at`` on outputs, and hands back what
must be sent and what state must be written.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from models.engine import AccountEngine, ClusterEngine, EngineConfig, StepResult
from models.errors import InvalidEvent
from models.event import decode_event
from models.policy import Policy
from models.state import StateStore
from models.volume import VolumeWindow

__all__ = ["InputRecord", "BatchOutput", "Runtime", "deadletter_record", "kafka_partition",
           "MAX_DEADLETTER_ORIGINAL"]


@functools.lru_cache(maxsize=200_000)
def kafka_partition(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, Java-compatible) picks for a key.

    Cached: kafka-python's murmur2 is pure Python (tens of µs) and keys repeat.
    """
    from kafka.partitioner.default import murmur2

    raw = key.encode("utf-8") if isinstance(key, str) else key
    return (murmur2(raw) & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class InputRecord:
    """One consumed record: where it came from, its raw bytes and its Kafka timestamp (ms)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    kafka_ts_ms: int


@dataclass
class BatchOutput:
    """What one batch produced. Every list holds JSON-ready dicts."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    deadletters: list[dict[str, Any]] = field(default_factory=list)
    #: (kafka_ts_ms of the triggering record) per alert, for latency metrics
    alert_source_ts: list[int] = field(default_factory=list)
    events: int = 0
    #: events whose future ``ts`` was clamped to the wall clock + ``max_future_ms``
    clamped: int = 0
    engine_s: float = 0.0
    decode_s: float = 0.0

    def extend(self, res: StepResult, now_ms: int, source_ts: int) -> None:
        for alert in res.alerts:
            alert["detected_at"] = now_ms
            self.alerts.append(alert)
            self.alert_source_ts.append(source_ts)
        self.actions.extend(res.actions)
        self.links.extend(res.links)


#: Most bytes of an original record copied into its dead letter (base64 adds a third): a
#: record near the 1 MB event cap would otherwise make a dead letter larger than the
#: producer's max request size, and the failed send crashed the agent (found by the fault tests).
MAX_DEADLETTER_ORIGINAL = 256 * 1024


def deadletter_record(rec: InputRecord, reason: str) -> dict[str, Any]:
    """The dead-letter value: reason, origin and the original bytes (base64, truncated if huge).

    ``original_size`` and ``original_sha256`` always describe the whole record;
    ``truncated`` says whether ``original_b64`` holds only its first
    :data:`MAX_DEADLETTER_ORIGINAL` bytes.
    """
    value = rec.value or b""
    key = rec.key
    return {
        "reason": reason[:1000],
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "ts": rec.kafka_ts_ms,
        "key_b64": base64.b64encode(key[:1024]).decode() if key is not None else None,
        "original_b64": base64.b64encode(value[:MAX_DEADLETTER_ORIGINAL]).decode(),
        "original_size": len(value),
        "original_sha256": hashlib.sha256(value).hexdigest(),
        "truncated": len(value) > MAX_DEADLETTER_ORIGINAL,
    }


#: volume windows kept open per account (bounded state whatever the timestamps)
MAX_OPEN_WINDOWS = 4


def _load_volume(raw: bytes | None) -> dict[str, Any]:
    """Decode an account's volume state; the older single-window form ``[start, tokens]`` too.

    A value that is not a well-formed volume state (the changelog is a topic: someone else
    could write to it) starts the account afresh instead of failing the batch.
    """
    if not raw:
        return {"w": []}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"w": []}
    if isinstance(value, dict):
        windows = value.get("w")
        if (isinstance(windows, list) and len(windows) <= MAX_OPEN_WINDOWS
                and all(isinstance(w, list) and len(w) == 5 and all(type(x) is int for x in w) for w in windows)
                and type(value.get("p", 0)) is int and type(value.get("o", 0)) is int):
            return value
        return {"w": []}
    if isinstance(value, list) and len(value) == 2 and all(type(x) is int for x in value):  # [start, tokens]
        return {"w": [[value[0], value[1], -1, 0, 0]] if value[1] or value[0] else []}
    return {"w": []}


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


StoreFactory = Callable[[str, int], StateStore]


class Runtime:
    """Per-partition account and cluster engines plus the batch loop around them.

    :param store_factory: ``(kind, partition) -> StateStore`` where kind is ``"account"`` or
        ``"cluster"``. Default - in-memory dicts.
    :param policy: the enforcement policy shared by every engine (its dry-run switch is live).
    :param wall_clock_ms: source of ``detected_at`` (wall-clock ms). Tests may pin it.
    :param max_future_ms: how far ahead of the wall clock (or the record's Kafka timestamp, if
        later) an event's ``ts`` may be; later times are clamped to that bound, so one
        future-dated event cannot move an account's windows (and close every open one).
    """

    def __init__(
        self,
        *,
        store_factory: StoreFactory | None = None,
        policy: Policy | None = None,
        config: EngineConfig | None = None,
        cache_size: int = 50_000,
        seed: int = 0,
        model_key: bytes = b"distillguard-local",
        volume: VolumeWindow | None = None,
        wall_clock_ms: Callable[[], int] | None = None,
        max_future_ms: int = 15 * 60 * 1000,
    ) -> None:
        self.policy = policy or Policy.default()
        self.config = config or EngineConfig()
        self._stores = store_factory or (lambda kind, p: {})
        self._cache_size = cache_size
        self._seed = seed
        self._model_key = model_key
        self.volume = volume or VolumeWindow()
        #: per partition: account -> volume state (see :meth:`_count_volume`) touched since the last pop
        self._volume_dirty: dict[int, dict[str, dict[str, Any]]] = {}
        #: per partition: account -> its decoded volume state as last written (LRU, ``cache_size``),
        #: so an account's next batch does not read and parse it from the store again
        self._volume_cache: dict[int, dict[str, dict[str, Any]]] = {}
        self._clock = wall_clock_ms or (lambda: int(time.time() * 1000))
        #: event time is clamped to ``max(wall clock, record timestamp) + max_future_ms``
        self.max_future_ms = max_future_ms
        self.accounts: dict[int, AccountEngine] = {}
        self.clusters: dict[int, ClusterEngine] = {}

    # -- engines ---------------------------------------------------------------
    def account_engine(self, partition: int) -> AccountEngine:
        eng = self.accounts.get(partition)
        if eng is None:
            store = self._stores("account", partition)
            eng = AccountEngine(self.config, store=store, policy=self.policy,
                                seed=self._seed + partition, cache_size=self._cache_size,
                                model_key=self._model_key)
            blob = store.get(self.models_key(partition))
            if blob:
                # A snapshot this worker group wrote; restore_models refuses a bad signature.
                eng.restore_models(blob)
            self.accounts[partition] = eng
        return eng

    def cluster_engine(self, partition: int) -> ClusterEngine:
        eng = self.clusters.get(partition)
        if eng is None:
            eng = ClusterEngine(self.config, store=self._stores("cluster", partition),
                                policy=self.policy, cache_size=self._cache_size)
            self.clusters[partition] = eng
        return eng

    @staticmethod
    def models_key(partition: int) -> str:
        """State key of a partition's River model snapshot."""
        return f"__models__:{partition}"

    def drop_partitions(self, partitions: Iterable[int] | None = None) -> None:
        """Forget in-memory engines (after a rebalance); state is re-read from the stores."""
        self._volume_dirty = {}
        if partitions is None:
            self._volume_cache = {}
        else:
            for p in list(partitions):
                self._volume_cache.pop(p, None)
        for engines in (self.accounts, self.clusters):
            for p in list(engines) if partitions is None else list(partitions):
                # Dropped, not ``evict_all()``-ed: evicting flushes state into the store, and the
                # table store is written by the agent only (per batch, in an event's context, with
                # its changelog record). What the batches produced is already written.
                engines.pop(p, None)

    # -- batches -----------------------------------------------------------------
    def process_requests(self, records: Iterable[InputRecord]) -> BatchOutput:
        """Decode and score a batch of ``llm-requests`` records, in order."""
        out = BatchOutput()
        now = self._clock()
        perf = time.perf_counter
        for rec in records:
            out.events += 1
            t0 = perf()
            try:
                event = decode_event(rec.value)  # type: ignore[arg-type]
            except InvalidEvent as exc:
                out.deadletters.append(deadletter_record(rec, exc.reason))
                continue
            bound = max(now, rec.kafka_ts_ms) + self.max_future_ms
            if event.ts > bound:
                event.ts = bound
                out.clamped += 1
            t1 = perf()
            try:
                res = self.account_engine(rec.partition).process(event)
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop a partition
                out.deadletters.append(deadletter_record(rec, f"engine_error: {type(exc).__name__}: {exc}"))
                continue
            t2 = perf()
            out.decode_s += t1 - t0
            out.engine_s += t2 - t1
            out.extend(res, now, rec.kafka_ts_ms)
            vol_alert = self._count_volume(rec, event.account_id, event.ts, event.output_tokens)
            if vol_alert is not None:
                out.extend(StepResult([vol_alert], [], []), now, rec.kafka_ts_ms)
        return out

    def _count_volume(self, rec: InputRecord, account: str, ts: int, tokens: int) -> dict[str, Any] | None:
        """Add an event's output tokens to its account's window; the alert if it crossed.

        State per account (``vol|<account>``, one value, so it is written atomically):

        * ``w``: the open windows ``[start_ms, tokens, crossed_offset, crossed_ts, crossed_tokens]``
          (oldest first), those starting within ``max_future_ms + window_ms`` of the newest and
          at most :data:`MAX_OPEN_WINDOWS` - so an event dated in the (clamped) future opens a
          window of its own without closing the current one. Events older than every kept
          window are counted nowhere (late).
        * ``p``, ``o``: partition and offset of the last record counted. Delivery is
          at-least-once: after a crash the records since the last committed offset come again
          while the state restored from the changelog may already hold them. Such a record is
          not counted twice; if it is the one that crossed the threshold, the same alert is
          sent again (same id, same values), since the first send may have been lost.
        """
        partition = rec.partition
        dirty = self._volume_dirty.setdefault(partition, {})
        state = dirty.get(account)
        if state is None:
            cache = self._volume_cache.get(partition)
            if cache is None:
                cache = self._volume_cache[partition] = {}
            state = cache.pop(account, None)  # re-inserted below: most recently used last
            if state is None:
                state = _load_volume(self._stores("account", partition).get(f"vol|{account}"))
                if len(cache) >= self._cache_size:
                    del cache[next(iter(cache))]
            cache[account] = state
            dirty[account] = state
        start = self.volume.window_start(ts)
        windows = state["w"]
        if state.get("p") == partition and rec.offset <= state.get("o", -1):
            for w in windows:  # a replayed record: counted already
                if w[2] == rec.offset:
                    return self.volume.alert(account, w[0], w[4], ts=w[3])
            return None
        state["p"], state["o"] = partition, rec.offset
        for entry in windows:
            if entry[0] == start:
                break
        else:
            if windows and start < windows[0][0] and (
                    len(windows) >= MAX_OPEN_WINDOWS or start < windows[-1][0] - self._keep_ms()):
                return None  # late event from a closed window: counted nowhere, alerts nothing
            entry = [start, 0, -1, 0, 0]
            windows.append(entry)
            windows.sort()
            newest = windows[-1][0]
            windows[:] = [w for w in windows if w[0] >= newest - self._keep_ms()][-MAX_OPEN_WINDOWS:]
            if entry not in windows:
                return None
        before = entry[1]
        entry[1] += tokens
        if self.volume.crossed(before, tokens):
            entry[2], entry[3], entry[4] = rec.offset, ts, entry[1]
            return self.volume.alert(account, start, entry[1], ts=ts)
        return None

    def _keep_ms(self) -> int:
        return self.max_future_ms + self.volume.window_ms

    def process_links(self, records: Iterable[InputRecord]) -> BatchOutput:
        """Feed a batch of ``distill-links`` records to the cluster engines.

        A record holds one link update (a JSON object) or, as the worker sends them, the list
        of one batch's updates for that partition, in order (one Kafka record instead of
        several: each record costs the consuming agent far more than the update itself).
        """
        out = BatchOutput()
        now = self._clock()
        for rec in records:
            out.events += 1
            try:
                value = orjson.loads(rec.value or b"")
                links = value if isinstance(value, list) else [value]
                for link in links:
                    if not isinstance(link, dict) or "link_key" not in link:
                        raise ValueError("link update without link_key")
            except Exception as exc:  # noqa: BLE001
                out.deadletters.append(deadletter_record(rec, f"bad_link: {exc}"))
                continue
            engine = self.cluster_engine(rec.partition)
            for link in links:
                try:
                    res = engine.process(link)
                except Exception as exc:  # noqa: BLE001
                    out.deadletters.append(deadletter_record(rec, f"bad_link: {exc}"))
                    continue
                out.extend(res, now, rec.kafka_ts_ms)
        return out

    def process_feedback(self, records: Iterable[InputRecord]) -> BatchOutput:
        """Apply analyst verdicts (``distill-feedback``) to the account engines."""
        out = BatchOutput()
        now = self._clock()
        for rec in records:
            out.events += 1
            try:
                fb = orjson.loads(rec.value or b"")
                if not isinstance(fb, dict):
                    raise ValueError("feedback must be a JSON object")
                account, verdict, ts = fb.get("account_id"), fb.get("verdict"), fb.get("ts")
                if not isinstance(account, str) or not account:
                    raise ValueError("feedback.account_id must be a non-empty string")
                if verdict not in ("attack", "benign"):
                    raise ValueError("feedback.verdict must be 'attack' or 'benign'")
                if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
                    raise ValueError("feedback.ts must be epoch ms")
                res = self.account_engine(rec.partition).feedback(account, verdict, ts)
            except Exception as exc:  # noqa: BLE001
                out.deadletters.append(deadletter_record(rec, f"bad_feedback: {exc}"))
                continue
            out.extend(res, now, rec.kafka_ts_ms)
        return out

    def flush_all(self) -> None:
        """Write every engine's dirty state into its own store (local, dict-backed runs)."""
        for engines in (self.accounts, self.clusters):
            for eng in engines.values():
                eng.flush()
        for partition, kv in self._pop_volume().items():
            store = self._stores("account", partition)
            for key, value in kv.items():
                store[key] = value

    def _pop_volume(self) -> dict[int, dict[str, bytes]]:
        out = {p: {f"vol|{a}": orjson.dumps(v) for a, v in d.items()}
               for p, d in self._volume_dirty.items() if d}
        self._volume_dirty = {}
        return out

    def pop_dirty(self, kind: str) -> dict[int, dict[str, bytes]]:
        """State written since the last call, per partition: ``{partition: {key: bytes}}``."""
        engines = self.accounts if kind == "account" else self.clusters
        out: dict[int, dict[str, bytes]] = self._pop_volume() if kind == "account" else {}
        for p, eng in engines.items():
            dirty = eng.pop_dirty()
            if dirty:
                out.setdefault(p, {}).update(dirty)
        return out
