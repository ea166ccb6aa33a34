"""``distillguard bench``: throughput, latency, memory and CPU of the topology on the real broker.

One run, one broker, one capture, measured in order so the phases never share the CPU:

1. **capture** - ``--events`` request events of steady traffic (:func:`backlog`): ``--accounts``
   accounts at a time, each sending ``events // accounts`` requests, new ones arriving at an
   even rate, rendered from the traffic simulator's events (real prompts, so the engine does
   its real work) with account, ids, network fields and event time rewritten. Each account
   sends one event of ``threshold`` output tokens half-way through its life, so every account
   raises a volume alert; engine alerts come on top. The default, 50 requests per account
   over 1,000 accounts at a time, is near the simulator's own mix (about 80 per account in 12
   hours); ``--accounts 10000`` (5 each) makes every event one of an account's first
   requests, all of whose text the engine reads: its costliest traffic.
2. **baseline** - a raw aiokafka consumer (no group) parsing each value with orjson.
3. **faust noop** - a Faust agent that only parses, in Faust's own ``take_events`` batches
   (a subprocess, the same Faust settings as the worker).
4. **topology** - ``--workers`` ``distillguard worker`` processes in one consumer group,
   started on the backlog; the rate is taken between the moment every worker is ready and
   the workers' last batch once ``distillguard_events_total`` adds up to the capture.
5. **latency** - paced traffic (``--rate`` events/s, then 80 % of the measured maximum) with
   each event's Kafka timestamp equal to its ``ts``; an alert's latency is the wall-clock time
   it is read from ``distill-alerts`` minus the ``ts`` of the event that triggered it
   (account alerts: triggered by one event of that account). The traffic is steady, as a
   provider's is (:func:`churn`): 1,000 accounts at a time, each sending as many requests as
   a backlog account did, then replaced by a new one, new accounts arriving at an even rate
   (their first requests, whose text the engine reads in full, cost ~110 µs per event against
   ~15 for later ones here), one alert per account half-way through its life. A run lasts
   ``--latency-s`` seconds, or at least one account lifetime, so "80 % of the maximum" is
   80 % of what the same mix sustained.
6. **memory and CPU** - RSS (``/proc/<pid>/status``) and CPU seconds (``/proc/<pid>/stat``)
   of the worker processes.

Everything it starts (subprocesses, topics, data directories) it stops or deletes. The last
line printed on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import orjson

__all__ = ["BenchConfig", "run_bench", "bench_command"]

#: volume threshold (output tokens per account per window) the bench workers run with
THRESHOLD = 1_000_000
#: light events carry at most this many output tokens, far below THRESHOLD per window
LIGHT_TOKENS_MAX = 2_000
#: the workers' timed stages (``distillguard_stage_latency_seconds``), reported per event
STAGES = ("decode", "engine", "emit", "state")
#: Faust batch settings shared by the noop agent and the workers (the worker's defaults)
BATCH_SIZE = 2000
BATCH_WITHIN_MS = 50


@dataclass
class BenchConfig:
    """What to measure. Rates in events/s, durations in s."""

    events: int = 50_000
    accounts: int = 1_000
    workers: int = 1
    rate: float = 5_000.0
    bootstrap: str | None = None
    partitions: int = 4
    latency_s: float = 5.0
    latency_accounts: int = 1_000
    latency: bool = True
    noop: bool = True
    seed: int = 1
    #: per waiting phase; None: 120 s + 1 s per 250 events (a slow, shared machine)
    timeout_s: float | None = None


@dataclass
class Phase:
    """The result of one measured phase."""

    name: str
    events: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- capture
_KEEP = ("model", "endpoint", "input_tokens", "output_tokens", "reasoning_tokens", "tool_count",
         "image_count", "status", "latency_ms", "prompt", "system_prompt", "user_agent", "country",
         "account_tier", "account_created_ts", "stop_reason", "temperature", "max_tokens")


def templates(n: int = 6_000, seed: int = 1) -> list[dict[str, Any]]:
    """Request events from the traffic simulator, stripped of identity (the bench sets it)."""
    from streams.simulate import iter_events, plan_simulation

    plan = plan_simulation(seed=seed, hours=0.25, scale=0.6)
    out: list[dict[str, Any]] = []
    for ev in iter_events(plan):
        out.append({k: v for k, v in ev.items() if k in _KEEP})
        if len(out) >= n:
            break
    if not out:
        raise RuntimeError("the simulator rendered no events")
    return out


def _render(tpl: dict[str, Any], prefix: str, u: int, j: int, heavy: bool) -> tuple[bytes, dict[str, Any]]:
    """Request ``j`` of account ``u``: the template's text, the account's own identity and
    network fields (a /24, ASN and payment fingerprint of its own: no clusters), and
    ``THRESHOLD`` output tokens when ``heavy``."""
    ev = dict(tpl)
    acct = f"{prefix}-{u}"
    ev["request_id"] = f"{prefix}-r{j}"
    ev["account_id"] = acct
    ev["payment_fingerprint"] = f"pf-{acct}"
    ev["client_ip"] = f"{11 + (u >> 16) % 200}.{u & 255}.{(u >> 8) & 255}.7"
    ev["asn"] = 100_000 + u
    ev["output_tokens"] = THRESHOLD if heavy else min(int(ev.get("output_tokens") or 0), LIGHT_TOKENS_MAX)
    return acct.encode(), ev


#: requests of its current account each slot of a latency run sends before the clock starts
#: (the engine reads the text of an account's first 8 in full)
WARM_DEPTH = 10


def churn(pool: list[dict[str, Any]], n: int, slots: int, lifetime: int, prefix: str, *,
          warm_depth: int = WARM_DEPTH) -> tuple[list[tuple[bytes, dict[str, Any]]],
                                                list[tuple[bytes, dict[str, Any]]]]:
    """Steady traffic for a latency run: (warm-up events, ``n`` paced events), ``ts`` unset.

    ``slots`` accounts at a time, round robin; each account sends
    ``lifetime`` requests (a backlog account's count), then its slot passes to a new account.
    The slots are staggered (slot ``i`` starts ``i * lifetime // slots`` requests into its first
    account, whose last ``warm_depth`` of those are the warm-up), so new accounts, whose first
    requests cost the most, arrive at an even rate, in the backlog's proportion, instead of
    all at the start. Each account is heavy (crosses the volume threshold: one alert) at its
    request ``lifetime // 2``, so the alerts, the latency samples, are spread over the run.
    """
    rng = random.Random(len(prefix) * 7919 + slots)
    npool = len(pool)
    half = lifetime // 2
    offsets = [i * lifetime // slots for i in range(slots)]
    j = 0

    def event(i: int, local: int) -> tuple[bytes, dict[str, Any]]:
        nonlocal j
        g, k = divmod(local, lifetime)
        j += 1
        return _render(pool[(j * 7 + rng.randrange(npool)) % npool], prefix, g * slots + i, j, k == half)

    warm = [event(i, offsets[i] - d) for d in range(warm_depth, 0, -1)
            for i in range(slots) if offsets[i] >= d and offsets[i] - d != half]
    paced = [event(i, offsets[i] + c) for c in range(-(-n // slots)) for i in range(slots)][:n]
    return warm, paced


# --------------------------------------------------------------------------- kafka helpers
def _topic_settings(bootstrap: str, run: str, partitions: int) -> Any:
    from streams.settings import Settings

    names = {f"{k}_topic": f"bench-{k}-{run}" for k in
             ("requests", "alerts", "enforcement", "feedback", "deadletter", "links", "control")}
    return Settings(bootstrap_servers=bootstrap, topic_partitions=partitions, **names)


def _delete_run_topics(bootstrap: str, run: str) -> None:
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="distillguard-bench")
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the results
        _log(f"cannot delete topics: {exc}")
        return
    try:
        mine = [t for t in admin.list_topics() if run in t]
        if mine:
            admin.delete_topics(mine, timeout_ms=30_000)
    except Exception as exc:  # noqa: BLE001
        _log(f"topic deletion failed: {exc}")
    finally:
        admin.close()


async def produce_backlog(bootstrap: str, topic: str, events: Iterator[tuple[bytes, dict[str, Any]]]) -> float:
    """Produce every event as fast as possible; returns the seconds it took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024,
                                acks=1, max_request_size=4 * 1024 * 1024)
    await producer.start()
    t0 = time.perf_counter()
    try:
        pending = []
        for key, ev in events:
            pending.append(await producer.send(topic, value=orjson.dumps(ev), key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def baseline_consume(bootstrap: str, topic: str, expected: int, timeout_s: float) -> Phase:
    """A raw aiokafka consumer (no group) parsing each value with orjson."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 1024 * 1024,
                                fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    n, n_first, first, last = 0, 0, 0.0, 0.0
    loads = orjson.loads
    deadline = time.monotonic() + timeout_s
    try:
        while n < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=2_000)
            for records in batches.values():
                for rec in records:
                    loads(rec.value)
                n += len(records)
            if batches:
                last = time.perf_counter()
                if not first:  # the clock starts once the first fetch is in: its events don't count
                    first, n_first = last, n
    finally:
        await consumer.stop()
    return Phase("raw aiokafka + orjson", n - n_first, last - first)


# --------------------------------------------------------------------------- processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLK  # utime, stime (fields 14, 15)


def proc_rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """Resident set size (or ``VmHWM``, its peak) of a process in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@dataclass
class WorkerProc:
    """One ``distillguard worker`` subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def get(self, path: str, timeout_s: float = 2.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout_s) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""

    def metrics(self) -> dict[str, float]:
        status, text = self.get("/metrics")
        return parse_metrics(text) if status == 200 else {}

    def tail(self, n: int = 3000) -> str:
        """The start of the log (where the first error usually is) and its end."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text if len(text) <= 2 * n else text[:n] + "\n...\n" + text[-n:]


_METRIC = re.compile(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) ([0-9.eE+-]+|NaN|[+-]Inf)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus exposition text → {name{labels}: value}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def start_worker(settings: Any, app_id: str, data_dir: Path, log_dir: Path, index: int) -> WorkerProc:
    port = _free_port()
    env = {**os.environ,
           "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "DISTILLGUARD_APP_ID": app_id,
           "DISTILLGUARD_TOPIC_PARTITIONS": str(settings.topic_partitions),
           "DISTILLGUARD_DATA_DIR": str(data_dir / f"worker-{index}"),
           "DISTILLGUARD_WEB_PORT": str(port),
           "DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD": str(THRESHOLD),
           "DISTILLGUARD_LOG_LEVEL": "warning"}
    for name in ("requests", "alerts", "enforcement", "feedback", "deadletter", "links", "control"):
        env[f"DISTILLGUARD_{name.upper()}_TOPIC"] = getattr(settings, f"{name}_topic")
    log = log_dir / f"worker-{index}.log"
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return WorkerProc(proc, port, log)


def run_noop_agent(settings: Any, expected: int, work: Path, timeout_s: float) -> Phase:
    """The parse-only Faust agent in a subprocess; reads its result file."""
    out = work / "noop.json"
    log = work / "noop.log"
    cmd = [sys.executable, "-m", "streams.bench", "noop-agent", settings.bootstrap_servers,
           settings.requests_topic, str(settings.topic_partitions), str(expected), str(out),
           str(work / "noop-data")]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    try:
        while not out.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"noop agent exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"noop agent timed out:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        time.sleep(0.05)
        res = json.loads(out.read_text())
    finally:
        _stop(proc)
    return Phase("faust agent, parse only", res["events"], res["seconds"],
                 {"cpu_s": res["cpu_s"], "rss_mb": res["rss_mb"]})


def _noop_agent_main(argv: list[str]) -> None:
    """Entry of the noop-agent subprocess: Faust app with one parse-only agent."""
    import faust

    from streams.settings import Settings

    bootstrap, topic_name, partitions, expected, out_path, data_dir = argv
    expected_n = int(expected)
    app = faust.App(f"bench-noop-{uuid.uuid4().hex[:8]}", broker="kafka://" + bootstrap,
                    store="memory://", datadir=data_dir, topic_partitions=int(partitions),
                    processing_guarantee="at_least_once", broker_commit_interval=1.0,
                    producer_linger_ms=1, consumer_auto_offset_reset="earliest",
                    stream_wait_empty=False, table_standby_replicas=0, web_enabled=False,
                    autodiscover=False, consumer_max_fetch_size=Settings().consumer_max_fetch_bytes)
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw", partitions=int(partitions))
    cpu0 = time.process_time()

    @app.agent(topic)
    async def parse_only(stream: Any) -> None:
        n, n_first, first, cpu_first, reported = 0, 0, 0.0, 0.0, False
        loads = orjson.loads
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_MS / 1000):
            for ev in events:
                loads(ev.message.value)
            n += len(events)
            if not first:  # like the baseline: the clock starts after the first batch
                first, cpu_first, n_first = time.perf_counter(), time.process_time(), n
            if n >= expected_n and not reported:  # report once, then idle until stopped
                reported = True
                res = {"events": n - n_first, "seconds": time.perf_counter() - first,
                       "cpu_s": time.process_time() - cpu_first,
                       "cpu_total_s": time.process_time() - cpu0,
                       "rss_mb": proc_rss_mb(os.getpid())}
                tmp = Path(out_path + ".tmp")
                tmp.write_text(json.dumps(res))
                tmp.rename(out_path)

    worker = faust.Worker(app, loglevel="warning")
    worker.spinner = None  # as the real worker (streams.commands): no DEBUG root logger
    worker.execute_from_commandline()


# --------------------------------------------------------------------------- topology phases
class Topology:
    """The worker processes of one consumer group."""

    def __init__(self, settings: Any, n: int, work: Path, run: str) -> None:
        self.settings = settings
        self.app_id = f"bench-{run}"
        self.workers = [start_worker(settings, self.app_id, work, work, i) for i in range(n)]
        self._probe: Any = None

    def check_alive(self) -> None:
        for w in self.workers:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {w.proc.returncode}:\n{w.tail()}")

    def all_ready(self) -> bool:
        return all(w.get("/ready")[0] == 200 for w in self.workers)

    def totals(self) -> dict[str, float]:
        tot: dict[str, float] = {}
        for w in self.workers:
            for k, v in w.metrics().items():
                tot[k] = tot.get(k, 0.0) + v
        return tot

    def events(self) -> int:
        return int(self.totals().get("distillguard_events_total", 0))

    def links_pending(self, totals: dict[str, float] | None = None) -> int:
        """Link updates on the links topic the cluster agents have not consumed yet."""
        from kafka import KafkaConsumer, TopicPartition

        if self._probe is None:
            self._probe = KafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers)
        tps = [TopicPartition(self.settings.links_topic, p) for p in range(self.settings.topic_partitions)]
        end = sum(self._probe.end_offsets(tps).values())
        totals = self.totals() if totals is None else totals
        done = int(totals.get("distillguard_link_updates_total", 0))
        return max(0, end - done)

    def drained(self, requests: int) -> bool:
        """Every request event processed, and every link update it caused (one scrape)."""
        totals = self.totals()
        return (int(totals.get("distillguard_events_total", 0)) >= requests
                and self.links_pending(totals) == 0)

    def cpu_s(self) -> float:
        return sum(proc_cpu_s(w.proc.pid) for w in self.workers)

    def rss_mb(self) -> list[float]:
        return [proc_rss_mb(w.proc.pid) for w in self.workers]

    def stop(self) -> None:
        if self._probe is not None:
            self._probe.close()
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers:
            _stop(w.proc)

    def consume_backlog(self, expected: int, timeout_s: float) -> Phase:
        """Wait until the group processed ``expected`` events and the link updates they caused;
        the rate is taken from the moment all workers were ready to the end of the last batch.

        Times are Unix seconds: the end is the latest ``distillguard_last_batch_timestamp_seconds``
        of the requests and links agents (the workers run on this host), not the poll that saw
        it, which comes up to a poll (0.5 s) later: a third of a 50,000-event run at 15,000
        events/s, whose rate came out up to a third low."""
        deadline = time.monotonic() + timeout_s
        t_ready = None
        n_ready = 0
        cpu_ready = 0.0
        cpu_idle: float | None = None  # at the last sample with no event processed yet
        samples: list[tuple[float, int]] = []
        while True:
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"topology processed {self.events()} of {expected} events\n"
                                   + self.workers[0].tail())
            now = time.time()  # just before the scrape: its count is at least the count at `now`
            totals = self.totals()
            n = int(totals.get("distillguard_events_total", 0))
            samples.append((now, n))
            if n == 0:
                cpu_idle = self.cpu_s()
            if t_ready is None and self.all_ready():
                t_ready, n_ready, cpu_ready = now, n, self.cpu_s()
            if n >= expected and t_ready is not None and self.links_pending(totals) == 0:
                break
            # One /metrics scrape per poll, twice a second: rendering the exposition costs the
            # worker CPU (the parse-only agent is not polled), ~2 % of it at 5 polls/s with two
            # scrapes each.
            time.sleep(0.5)
        cpu_done = self.cpu_s()
        # each worker's own (totals() sums them)
        ends = [v for w in self.workers for k, v in w.metrics().items()
                if k in ('distillguard_last_batch_timestamp_seconds{agent="requests"}',
                         'distillguard_last_batch_timestamp_seconds{agent="links"}')]
        t_done = max(ends) if ends else now
        if n_ready > 0.7 * expected:  # it was mostly done before the group settled: use the whole run
            # From the last sample before the first event was processed: a short run can be
            # processed whole between two polls, and starting at the first sample that saw an
            # event would then count no event at all. The rate is at most one poll (0.5 s) low.
            idle = [(t, k) for t, k in samples if k == 0]
            t_ready, n_ready = idle[-1] if idle else samples[0]
            # CPU from that sample (start-up, imports and the group's first rebalance before it)
            cpu_ready = cpu_idle if cpu_idle is not None else 0.0
        done = n - n_ready
        return Phase("distillguard workers (full topology)", done, max(t_done - t_ready, 1e-3),
                     {"cpu_s": cpu_done - cpu_ready, "processed_before_ready": n_ready})


class _TickSender:
    """The paced producer: librdkafka (confluent-kafka) under a ``send`` per tick.

    It shares 2 cores with the broker and the workers it measures, so its CPU is taken from
    what is measured. Paced at 10,000 events/s with the same tick loop, aiokafka cost 22 µs of
    CPU per record here (record batches built per partition, earlier ``send`` per record: ~52),
    librdkafka 11 (its batching and I/O run in C threads). Each record goes to the partition
    Kafka's default partitioner (murmur2, as Faust and aiokafka) picks for its key, given
    explicitly: librdkafka's own default is CRC32.
    """

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        from confluent_kafka import Producer

        from streams.runtime import kafka_partition

        # linger 1 ms, leader ack only: what the latency runs measured with aiokafka before
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "acks": 1,
                                   "queue.buffering.max.messages": 1_000_000})
        self._topic = topic
        self._partitions = partitions
        self._partition_of = kafka_partition
        self._errors: list[str] = []

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    async def send(self, records: list[tuple[bytes, bytes, int]]) -> None:
        """Queue ``(key, value, timestamp_ms)`` records; returns once they are queued."""
        produce, topic, parts = self._producer.produce, self._topic, self._partitions
        for key, value, ts in records:
            while True:
                try:
                    produce(topic, value, key, partition=self._partition_of(key, parts), timestamp=ts,
                            on_delivery=self._delivered)
                    break
                except BufferError:  # librdkafka's queue is full: let it drain
                    self._producer.poll(0)
                    await asyncio.sleep(0.001)
        self._producer.poll(0)  # delivery reports; never blocks

    async def flush(self) -> None:
        """Wait until every record sent so far was acknowledged; raises on a failed delivery."""
        while await asyncio.to_thread(self._producer.flush, 1.0) > 0:
            pass
        if self._errors:
            raise RuntimeError(f"{len(self._errors)} paced records not delivered: {self._errors[0]}")


def backlog(pool: list[dict[str, Any]], n: int, accounts: int, prefix: str,
            ts0: int) -> list[tuple[bytes, dict[str, Any]]]:
    """The backlog: ``n`` events of :func:`churn`'s steady traffic (``accounts`` at a time, each
    sending ``n // accounts`` requests, new ones arriving at an even rate), its warm-up first,
    stamped ``ts0`` + 1 ms apart.

    The backlog's rate is timed from the moment the group is ready, by which a worker has
    often processed half of it. Before 2026-12-04 it was round robin over ``accounts`` accounts
    that were all new at once: the timed half held only their later requests (text sampled,
    not read in full), so the maximum was read on cheaper traffic than the paced runs, which
    have new accounts all along (engine ~25 µs per event over the whole backlog, ~15 µs over
    the second half at 400 requests per account), and 80 % of it overstated what they sustain.
    Now every stretch of the backlog has the paced runs' mix.
    """
    lifetime = max(1, n // max(1, accounts))
    warm_n = len(churn(pool, 0, accounts, lifetime, prefix)[0])
    depth = WARM_DEPTH if warm_n <= n else 0
    warm, rest = churn(pool, n - (warm_n if depth else 0), accounts, lifetime, prefix, warm_depth=depth)
    events = warm + rest
    for k, (_, ev) in enumerate(events):
        ev["ts"] = ts0 + k
    return events


def paced_events(cfg: BenchConfig, rate: float, accounts: int) -> int:
    """Events of a latency run at ``rate``: ``rate x latency_s``, and at least as many per
    account as the backlog sent each of its accounts."""
    return max(1, int(rate * cfg.latency_s), round(cfg.events / cfg.accounts * accounts))


async def paced_latency(settings: Any, topo: Topology, pool: list[dict[str, Any]], rate: float,
                        n_total: int, accounts: int, lifetime: int, prefix: str, max_rate: float) -> Phase:
    """Produce ``n_total`` events at ``rate`` events/s; latency of each account alert.

    The traffic is :func:`churn`'s: ``accounts`` at a time, each living ``lifetime`` requests,
    new ones arriving at an even rate, one alert per account half-way through its life. Its
    warm-up (the slots' current accounts, up to ``WARM_DEPTH`` requests each, stamped just
    before now) is processed before the clock starts. The alerts used to come from the
    first 20 passes over 1,000 accounts that were all new at once, so the p99
    measured that start (every event among an account's first, text read in full) alone.
    The paced events are generated before the clock starts; each is stamped (``ts`` and
    Kafka timestamp) and serialised when it is due, every 2 ms.
    """
    from aiokafka import AIOKafkaConsumer

    sender = _TickSender(settings.bootstrap_servers, settings.requests_topic, settings.topic_partitions)
    warm_events, paced = churn(pool, n_total, accounts, lifetime, prefix)  # stamped when due
    warm = topo.events() + len(warm_events)
    dumps = orjson.dumps
    ts = int(time.time() * 1000) - len(warm_events)  # 1 ms apart, up to now
    warm_records = []
    for k, (key, ev) in enumerate(warm_events):
        ev["ts"] = ts + k
        warm_records.append((key, dumps(ev), ts + k))
    await sender.send(warm_records)
    await sender.flush()
    deadline = time.monotonic() + 30.0 + 2 * len(warm_events) / max(max_rate, 1.0)
    # drained() scrapes the workers over HTTP (blocking): in a thread, so that this event loop,
    # which reads the alerts whose latency is measured, is never held up by a busy worker.
    while not await asyncio.to_thread(topo.drained, warm) and time.monotonic() < deadline:
        topo.check_alive()
        await asyncio.sleep(0.25)
    totals0 = topo.totals()
    before = int(totals0.get("distillguard_events_total", 0))
    consumer = AIOKafkaConsumer(settings.alerts_topic, bootstrap_servers=settings.bootstrap_servers,
                                group_id=None, auto_offset_reset="latest", enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    await consumer.start()
    await consumer.seek_to_end()
    for tp in consumer.assignment():  # resolve positions now, before the first alert exists
        await consumer.position(tp)
    latencies: list[float] = []
    waits: list[float] = []  # detected_at - ts: the time before the event's batch was taken up
    alerts = 0
    stop = asyncio.Event()

    async def read_alerts() -> None:
        nonlocal alerts
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            now_ms = time.time() * 1000
            for records in batches.values():
                for rec in records:
                    alert = orjson.loads(rec.value)
                    if alert.get("kind") == "account" and str(alert.get("subject", "")).startswith(prefix + "-"):
                        alerts += 1
                        latencies.append(now_ms - alert["ts"])
                        if alert.get("detected_at"):
                            waits.append(alert["detected_at"] - alert["ts"])

    reader = asyncio.create_task(read_alerts())
    sent = 0
    t0 = time.perf_counter()
    cpu0 = topo.cpu_s()
    gen_cpu0 = time.process_time()  # this process: the paced producer and the alert reader
    try:
        while sent < n_total:
            due = min(n_total, int((time.perf_counter() - t0) * rate) + 1)
            ts = int(time.time() * 1000)
            tick = []
            for key, ev in paced[sent:due]:
                ev["ts"] = ts
                tick.append((key, dumps(ev), ts))
            if tick:
                await sender.send(tick)
                sent = due
            await asyncio.sleep(0.002)
        await sender.flush()
        produce_s = time.perf_counter() - t0
        gen_cpu_s = time.process_time() - gen_cpu0
        # overload (rate above what the workers sustain) drains at max_rate
        deadline = time.monotonic() + 30.0 + 2 * n_total / max(max_rate, 1.0)
        while not await asyncio.to_thread(topo.drained, before + n_total) and time.monotonic() < deadline:
            topo.check_alive()
            await asyncio.sleep(0.25)  # the workers still alert: scrape them sparingly
        cpu1 = topo.cpu_s()
        await asyncio.sleep(1.5)  # the last alerts on their way
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await reader
        await consumer.stop()
    latencies.sort()
    waits.sort()
    totals1 = topo.totals()
    processed = int(totals1.get("distillguard_events_total", 0)) - before
    stage_s = {stage: totals1.get(key, 0.0) - totals0.get(key, 0.0)
               for stage, key in ((st, f'distillguard_stage_latency_seconds_sum{{stage="{st}"}}')
                                  for st in STAGES)}
    return Phase(f"latency at {rate:,.0f} ev/s", sent, produce_s,
                 {"p50_ms": _pct(latencies, 50), "p99_ms": _pct(latencies, 99),
                  "wait_ms_p50": _pct(waits, 50), "wait_ms_p99": _pct(waits, 99),
                  "max_ms": latencies[-1] if latencies else None, "alerts": alerts,
                  "target_rate": rate, "processed": processed,
                  **{f"{st}_us_per_event": round(1e6 * v / processed, 1) if processed > 0 else None
                     for st, v in stage_s.items()},
                  "cpu_s": cpu1 - cpu0,
                  "cpu_us_per_event": round(1e6 * (cpu1 - cpu0) / processed, 1) if processed > 0 else None,
                  "load_cpu_us_per_event": round(1e6 * gen_cpu_s / sent, 1) if sent else None})


def _pct(sorted_vals: list[float], q: float) -> float | None:
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(q / 100 * (len(sorted_vals) - 1)))))
    return round(sorted_vals[k], 1)


# --------------------------------------------------------------------------- the run
def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Run every phase; returns the result dict (the JSON line)."""
    from streams.broker import ensure_broker, reachable
    from streams.topics import create_topics

    t_start = time.perf_counter()
    if cfg.timeout_s is None:
        cfg.timeout_s = 120.0 + cfg.events / 250
    broker = None
    if cfg.bootstrap:
        if not reachable(cfg.bootstrap, 3.0):
            raise click.ClickException(f"broker {cfg.bootstrap} does not answer")
        bootstrap = cfg.bootstrap
    else:
        broker = ensure_broker()
        bootstrap = broker.bootstrap
    run = uuid.uuid4().hex[:10]
    settings = _topic_settings(bootstrap, run, cfg.partitions)
    phases: dict[str, Phase] = {}
    topo: Topology | None = None
    work_dir = tempfile.TemporaryDirectory(prefix=f"dg-bench-{run}-")
    work = Path(work_dir.name)
    result: dict[str, Any] = {}
    try:
        create_topics(settings)
        _log(f"run {run}: broker {bootstrap}, topics bench-*-{run}, {cfg.partitions} partitions")
        pool = templates(seed=cfg.seed)
        ts0 = int(time.time() * 1000) - 3_600_000  # an hour ago, 1 ms apart
        produce_s = asyncio.run(produce_backlog(
            bootstrap, settings.requests_topic, iter(backlog(pool, cfg.events, cfg.accounts, f"b{run}", ts0))))
        _log(f"produced {cfg.events:,} events over {cfg.accounts:,} accounts in {produce_s:.1f} s")

        phases["baseline"] = asyncio.run(baseline_consume(bootstrap, settings.requests_topic, cfg.events,
                                                          cfg.timeout_s))
        _log(f"baseline: {phases['baseline'].rate:,.0f} ev/s")
        if cfg.noop:
            phases["noop"] = run_noop_agent(settings, cfg.events, work, cfg.timeout_s)
            _log(f"faust noop: {phases['noop'].rate:,.0f} ev/s")

        topo = Topology(settings, cfg.workers, work, run)
        full = topo.consume_backlog(cfg.events, cfg.timeout_s)
        phases["full"] = full
        rss_after = topo.rss_mb()
        m = topo.totals()
        full.extra["rss_mb"] = rss_after
        full.extra["engine_s"] = m.get('distillguard_stage_latency_seconds_sum{stage="engine"}', 0.0)
        full.extra["decode_s"] = m.get('distillguard_stage_latency_seconds_sum{stage="decode"}', 0.0)
        full.extra["emit_s"] = m.get('distillguard_stage_latency_seconds_sum{stage="emit"}', 0.0)
        full.extra["state_s"] = m.get('distillguard_stage_latency_seconds_sum{stage="state"}', 0.0)
        full.extra["alerts"] = sum(v for k, v in m.items() if k.startswith("distillguard_alerts_total"))
        _log(f"topology ({cfg.workers} worker(s)): {full.rate:,.0f} ev/s, RSS {rss_after} MiB")

        if cfg.latency:
            lat_accounts = min(cfg.accounts, cfg.latency_accounts)
            lifetime = max(1, round(cfg.events / cfg.accounts))  # a backlog account's requests
            phases["lat1"] = asyncio.run(paced_latency(settings, topo, pool, cfg.rate,
                                                       paced_events(cfg, cfg.rate, lat_accounts),
                                                       lat_accounts, lifetime, f"l1{run}", full.rate))
            _log(f"latency at {cfg.rate:,.0f} ev/s: p50 {phases['lat1'].extra['p50_ms']} ms, "
                 f"p99 {phases['lat1'].extra['p99_ms']} ms ({phases['lat1'].extra['alerts']} alerts)")
            rate80 = round(0.8 * full.rate, -2)
            if rate80 > 0 and abs(rate80 - cfg.rate) > 0.05 * cfg.rate:
                phases["lat2"] = asyncio.run(paced_latency(settings, topo, pool, rate80,
                                                           paced_events(cfg, rate80, lat_accounts),
                                                           lat_accounts, lifetime, f"l2{run}", full.rate))
                _log(f"latency at {rate80:,.0f} ev/s: p50 {phases['lat2'].extra['p50_ms']} ms, "
                     f"p99 {phases['lat2'].extra['p99_ms']} ms ({phases['lat2'].extra['alerts']} alerts)")
            elif rate80 > 0:
                # 80 % of max is the first run's rate (within 5 %): that run answers for both rows.
                phases["lat2"] = phases["lat1"]
        rss_end = topo.rss_mb()
        hwm = [proc_rss_mb(w.proc.pid, "VmHWM") for w in topo.workers]
        result = _summary(cfg, phases, rss_after, rss_end, hwm)
        result.update(gc_pauses(topo.totals()))
        result["seconds_total"] = round(time.perf_counter() - t_start, 1)
        result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    finally:
        if topo is not None:
            topo.stop()
        _delete_run_topics(bootstrap, run)
        work_dir.cleanup()
        if broker is not None:
            broker.stop()
    return result


def _summary(cfg: BenchConfig, phases: dict[str, Phase], rss_after: list[float], rss_end: list[float],
             hwm: list[float]) -> dict[str, Any]:
    full, base = phases["full"], phases["baseline"]
    noop = phases.get("noop")
    events = cfg.events
    return {
        "events": events,
        "accounts": cfg.accounts,
        "workers": cfg.workers,
        "partitions": cfg.partitions,
        "events_per_s": round(full.rate, 1),
        "events_per_s_per_worker": round(full.rate / cfg.workers, 1),
        "baseline_events_per_s": round(base.rate, 1),
        "ratio": round(full.rate / base.rate, 4) if base.rate else None,
        "faust_noop_events_per_s": round(noop.rate, 1) if noop else None,
        "ratio_to_faust_noop": round(full.rate / noop.rate, 4) if noop and noop.rate else None,
        **_latency_fields("latency", phases.get("lat1")),
        **_latency_fields("latency80", phases.get("lat2")),
        "rss_mb": round(max(rss_after), 1),
        "rss_mb_per_worker": [round(r, 1) for r in rss_after],
        "rss_mb_end": [round(r, 1) for r in rss_end],
        "rss_mb_peak": [round(r, 1) for r in hwm],
        "cpu_s_per_event": round(full.extra["cpu_s"] / full.events, 8) if full.events else None,
        "faust_noop_rss_mb": round(noop.extra["rss_mb"], 1) if noop else None,
        "faust_noop_cpu_s_per_event": round(noop.extra["cpu_s"] / noop.events, 8) if noop and noop.events else None,
        "engine_us_per_event": round(1e6 * full.extra["engine_s"] / events, 1) if events else None,
        "decode_us_per_event": round(1e6 * full.extra["decode_s"] / events, 1) if events else None,
        "emit_us_per_event": round(1e6 * full.extra["emit_s"] / events, 1) if events else None,
        # encoding and writing dirty state, every agent (its changelog records included)
        "state_us_per_event": round(1e6 * full.extra["state_s"] / events, 1) if events else None,
        "alerts": int(full.extra.get("alerts", 0)),
        # events processed before every worker was ready (over 70 %: the rate is the whole run's)
        "processed_before_ready": int(full.extra.get("processed_before_ready", 0)),
    }


#: a latency run's figures in the JSON line: name after the prefix -> key in its Phase.extra
_LATENCY_FIELDS = {
    "rate": "target_rate", "ms_p50": "p50_ms", "ms_p99": "p99_ms", "alerts": "alerts",
    "wait_ms_p99": "wait_ms_p99", **{f"{st}_us_per_event": f"{st}_us_per_event" for st in STAGES},
    # the workers' CPU per event while paced, and the paced producer's (it shares the cores)
    "cpu_us_per_event": "cpu_us_per_event", "load_cpu_us_per_event": "load_cpu_us_per_event",
}


def _latency_fields(prefix: str, phase: Phase | None) -> dict[str, Any]:
    """``<prefix>_<name>`` for each of :data:`_LATENCY_FIELDS`; None without the run (0 alerts)."""
    return {f"{prefix}_{name}": (phase.extra[key] if phase is not None else (0 if name == "alerts" else None))
            for name, key in _LATENCY_FIELDS.items()}


def _latency_note(res: dict[str, Any], prefix: str) -> str:
    """The table's note on where a latency run's time went: the p99 of the wait before the
    worker took the event's batch up (``detected_at - ts``), the rest being the batch and
    the alert's way out; and the state writes per event (batches are small when paced)."""
    wait = res.get(f"{prefix}_wait_ms_p99")
    note = "waiting p99 –" if wait is None else f"waiting to be taken up p99 {wait:,.1f} ms"
    state = res.get(f"{prefix}_state_us_per_event")
    if state is not None:
        note += f"; state {state:,.1f} µs/ev"
    cpu, load = res.get(f"{prefix}_cpu_us_per_event"), res.get(f"{prefix}_load_cpu_us_per_event")
    if cpu is not None:
        note += f"; worker CPU {cpu:,.1f} µs/ev"
    if load is not None:
        note += f", paced producer CPU {load:,.1f} µs/ev"
    return note


def gc_pauses(totals: dict[str, float]) -> dict[str, Any]:
    """The workers' garbage collections over the whole run (``distillguard_gc_pause_seconds``):
    full collections (count, mean ms) and pauses of any generation over 100 ms."""
    name = "distillguard_gc_pause_seconds"
    full_n = totals.get(f'{name}_count{{generation="2"}}', 0.0)
    full_s = totals.get(f'{name}_sum{{generation="2"}}', 0.0)
    over = sum(totals.get(f'{name}_count{{generation="{g}"}}', 0.0)
               - totals.get(f'{name}_bucket{{generation="{g}",le="0.1"}}', 0.0) for g in range(3))
    return {"gc_full_collections": int(full_n),
            "gc_full_ms_mean": round(1000 * full_s / full_n, 1) if full_n else None,
            "gc_pauses_over_100ms": int(over)}


def print_table(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def f(v: Any, unit: str = "") -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.1f}{unit}"
        return f"{v:,}{unit}" if isinstance(v, int) else f"{v}{unit}"

    t = Table(title=f"distillguard bench: {res['events']:,} events, {res['accounts']:,} accounts, "
                    f"{res['workers']} worker(s), {res['partitions']} partitions")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("note")
    t.add_row("raw aiokafka + orjson", f(res["baseline_events_per_s"], " ev/s"), "same topic, same run")
    t.add_row("faust agent, parse only", f(res["faust_noop_events_per_s"], " ev/s"),
              f"CPU {f(_us(res['faust_noop_cpu_s_per_event']), ' µs/ev')}")
    t.add_row("full topology", f(res["events_per_s"], " ev/s"),
              f"{f(res['events_per_s_per_worker'], ' ev/s per worker')}")
    t.add_row("  / raw consumer", _ratio(res["ratio"]), "")
    t.add_row("  / faust noop", _ratio(res["ratio_to_faust_noop"]), "target ≥ 0.7")
    t.add_row("CPU per event (workers)", f(_us(res["cpu_s_per_event"]), " µs"),
              f"engine (wall) {f(res['engine_us_per_event'], ' µs')}, decode {f(res['decode_us_per_event'], ' µs')}, "
              f"emit {f(res['emit_us_per_event'], ' µs')}, state {f(res.get('state_us_per_event'), ' µs')}")
    t.add_row(f"latency p50 / p99 @ {f(res['latency_rate'], ' ev/s')}",
              f"{f(res['latency_ms_p50'])} / {f(res['latency_ms_p99'])} ms",
              f"{res['latency_alerts']:,} account alerts; target p99 ≤ 250 ms; {_latency_note(res, 'latency')}")
    t.add_row(f"latency p50 / p99 @ {f(res['latency80_rate'], ' ev/s')}",
              f"{f(res['latency80_ms_p50'])} / {f(res['latency80_ms_p99'])} ms",
              f"{res['latency80_alerts']:,} account alerts; 80 % of max, target p99 ≤ 1 s; "
              f"{_latency_note(res, 'latency80')}"
              + ("; the run above (within 5 %)" if res["latency80_rate"] == res["latency_rate"] else ""))
    t.add_row("worker RSS", f(res["rss_mb"], " MiB"),
              f"per worker {res['rss_mb_per_worker']} after backlog, {res['rss_mb_end']} at end, "
              f"peak {res['rss_mb_peak']}")
    if "gc_full_collections" in res:
        t.add_row("full garbage collections", f(res["gc_full_collections"]),
                  f"mean {f(res['gc_full_ms_mean'], ' ms')}; pauses over 100 ms (any generation): "
                  f"{res['gc_pauses_over_100ms']:,}")
    Console(stderr=False).print(t)


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _us(v: float | None) -> float | None:
    return None if v is None else round(v * 1e6, 1)


@click.command("bench")
@click.option("--events", type=int, default=50_000, show_default=True, help="Events in the capture.")
@click.option("--accounts", type=int, default=1_000, show_default=True,
              help="Distinct accounts (10,000: every event among an account's first few, the engine's costliest).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes (one group).")
@click.option("--rate", type=float, default=5_000.0, show_default=True,
              help="Paced rate of the first latency run, events/s (the second runs at 80 % of max).")
@click.option("--bootstrap", "--bootstrap-servers", "bootstrap", default=None,
              help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, else a local broker).")
@click.option("--partitions", type=int, default=4, show_default=True, help="Partitions of every topic.")
@click.option("--latency-s", type=float, default=5.0, show_default=True,
              help="Minimum seconds per latency run (longer when its accounts need more events "
                   "to match the backlog's).")
@click.option("--no-latency", is_flag=True, help="Skip the latency runs.")
@click.option("--no-noop", is_flag=True, help="Skip the parse-only Faust agent.")
@click.option("--seed", type=int, default=1, show_default=True, help="Simulator seed of the templates.")
def bench_command(events: int, accounts: int, workers: int, rate: float, bootstrap: str | None,
                  partitions: int, latency_s: float, no_latency: bool, no_noop: bool, seed: int) -> None:
    """Benchmark the topology against the real broker; a table, then one JSON line."""
    if events < 1 or accounts < 1 or workers < 1 or partitions < 1:
        raise click.BadParameter("--events, --accounts, --workers and --partitions must be ≥ 1")
    cfg = BenchConfig(events=events, accounts=accounts, workers=workers, rate=rate,
                      bootstrap=bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
                      partitions=partitions, latency_s=latency_s, latency=not no_latency,
                      noop=not no_noop, seed=seed)
    res = run_bench(cfg)
    print_table(res)
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "noop-agent":
        _noop_agent_main(sys.argv[2:])
    else:
        bench_command()
