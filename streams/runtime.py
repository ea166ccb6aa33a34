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

__all__ = ["InputRecord", "BatchOutput", "Runtime", "deadletter_record", "kafka_partition"]


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
    engine_s: float = 0.0
    decode_s: float = 0.0

    def extend(self, res: StepResult, now_ms: int, source_ts: int) -> None:
        for alert in res.alerts:
            alert["detected_at"] = now_ms
            self.alerts.append(alert)
            self.alert_source_ts.append(source_ts)
        self.actions.extend(res.actions)
        self.links.extend(res.links)


def deadletter_record(rec: InputRecord, reason: str) -> dict[str, Any]:
    """The dead-letter value: reason, origin and the original bytes (base64)."""
    return {
        "reason": reason,
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "ts": rec.kafka_ts_ms,
        "key_b64": base64.b64encode(rec.key).decode() if rec.key is not None else None,
        "original_b64": base64.b64encode(rec.value or b"").decode(),
    }


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


StoreFactory = Callable[[str, int], StateStore]


class Runtime:
    """Per-partition account and cluster engines plus the batch loop around them.

    :param store_factory: ``(kind, partition) -> StateStore`` where kind is ``"account"`` or
        ``"cluster"``. Default - in-memory dicts.
    :param policy: the enforcement policy shared by every engine (its dry-run switch is live).
    :param wall_clock_ms: source of ``detected_at`` (wall-clock ms). Tests may pin it.
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
    ) -> None:
        self.policy = policy or Policy.default()
        self.config = config or EngineConfig()
        self._stores = store_factory or (lambda kind, p: {})
        self._cache_size = cache_size
        self._seed = seed
        self._model_key = model_key
        self.volume = volume or VolumeWindow()
        #: per partition: account -> [window_start_ms, output tokens] touched since the last pop
        self._volume_dirty: dict[int, dict[str, list[int]]] = {}
        self._clock = wall_clock_ms or (lambda: int(time.time() * 1000))
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
        for engines in (self.accounts, self.clusters):
            for p in list(engines) if partitions is None else list(partitions):
                eng = engines.pop(p, None)
                if eng is not None:
                    eng.evict_all()

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
            vol_alert = self._count_volume(rec.partition, event.account_id, event.ts, event.output_tokens)
            if vol_alert is not None:
                out.extend(StepResult([vol_alert], [], []), now, rec.kafka_ts_ms)
        return out

    def _count_volume(self, partition: int, account: str, ts: int, tokens: int) -> dict[str, Any] | None:
        """Add an event's output tokens to its account's window; the alert if it crossed."""
        dirty = self._volume_dirty.setdefault(partition, {})
        entry = dirty.get(account)
        if entry is None:
            raw = self._stores("account", partition).get(f"vol|{account}")
            entry = list(orjson.loads(raw)) if raw else [0, 0]
            dirty[account] = entry
        start = self.volume.window_start(ts)
        if start > entry[0]:
            entry[0], entry[1] = start, 0
        elif start < entry[0]:
            return None  # late event from a closed window: counted nowhere, alerts nothing
        before = entry[1]
        entry[1] += tokens
        if self.volume.crossed(before, tokens):
            return self.volume.alert(account, start, entry[1], ts=ts)
        return None

    def process_links(self, records: Iterable[InputRecord]) -> BatchOutput:
        """Feed a batch of ``distill-links`` records to the cluster engines."""
        out = BatchOutput()
        now = self._clock()
        for rec in records:
            out.events += 1
            try:
                link = orjson.loads(rec.value or b"")
                if not isinstance(link, dict) or "link_key" not in link:
                    raise ValueError("link update without link_key")
                res = self.cluster_engine(rec.partition).process(link)
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
