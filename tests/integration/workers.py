"""Running real ``distillguard worker`` processes against the real broker in tests.

Each :class:`Deployment` gets its own app id (consumer group), topic names and data
directories, so tests never see each other's records or state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

TOPIC_VARS = {
    "requests": "DISTILLGUARD_REQUESTS_TOPIC",
    "alerts": "DISTILLGUARD_ALERTS_TOPIC",
    "enforcement": "DISTILLGUARD_ENFORCEMENT_TOPIC",
    "links": "DISTILLGUARD_LINKS_TOPIC",
    "feedback": "DISTILLGUARD_FEEDBACK_TOPIC",
    "deadletter": "DISTILLGUARD_DEADLETTER_TOPIC",
    "control": "DISTILLGUARD_CONTROL_TOPIC",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    """One worker process."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                body = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError:
            return status, body.decode("utf-8", "replace")

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, _ = self.get("/ready")
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"worker not ready after {timeout_s} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final commit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout_s: float = 60) -> None:
        """SIGTERM and wait: Faust commits what it processed and closes RocksDB."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Deployment:
    """A consumer group of workers with its own topics."""

    bootstrap: str
    base: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    partitions: int = 2
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    workers: list[Worker] = field(default_factory=list)

    @property
    def topics(self) -> dict[str, str]:
        return {name: f"{name}-{self.run}" for name in TOPIC_VARS}

    def env(self, index: int, port: int) -> dict[str, str]:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
               "DISTILLGUARD_APP_ID": f"dgtest-{self.run}",
               "DISTILLGUARD_TOPIC_PARTITIONS": str(self.partitions),
               "DISTILLGUARD_DATA_DIR": str(self.base / f"data-{index}"),
               "DISTILLGUARD_WEB_PORT": str(port),
               "DISTILLGUARD_BATCH_WITHIN_MS": "20",
               "DISTILLGUARD_LOG_LEVEL": "info"}
        env.update({var: self.topics[name] for name, var in TOPIC_VARS.items()})
        env.update(self.extra_env)
        return env

    def create_topics(self) -> None:
        from streams.settings import Settings
        from streams.topics import create_topics

        env = self.env(0, 0)
        settings = Settings(**{"bootstrap_servers": self.bootstrap,
                               "topic_partitions": self.partitions,
                               **{f"{name}_topic": env[var] for name, var in TOPIC_VARS.items()}})
        create_topics(settings)

    def start(self, index: int | None = None, port: int | None = None) -> Worker:
        """Start worker ``index`` (its data dir is ``data-<index>``) on ``port`` (default: a free one).

        A restart with static membership (``DISTILLGUARD_GROUP_INSTANCE_ID``) must reuse the
        port: Faust's assignor checks that a member's URL did not change.
        """
        index = len(self.workers) if index is None else index
        port = free_port() if port is None else port
        log_path = self.base / f"worker-{index}-{len(self.workers)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"],
                                env=self.env(index, port), stdout=log_path.open("wb"),
                                stderr=subprocess.STDOUT)
        worker = Worker(proc, port, log_path)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]],
            max_request_size: int = 1024 * 1024, **security: Any) -> None:
    """Produce records (key, value) in order and wait for every ack.

    ``security``: kafka-python client settings (``security_protocol``, ``sasl_*``).
    """
    from kafka import KafkaProducer

    # 256 KiB batches: ~10,500 records/s here against ~6,300 with the 16 KiB default, so a
    # backlog is in the topic before the worker it is meant for has caught up
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024,
                             acks="all", max_request_size=max_request_size, **security)
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


def consume(bootstrap: str, topic: str, *, until: Any = None, timeout_s: float = 60,
            idle_s: float | None = None, **security: Any) -> list[dict[str, Any]]:
    """Read a topic from the beginning until ``until(records)`` is true, idle or timeout.

    With ``until``, only that or the timeout ends the read: a pause in the stream (a worker
    restoring its tables, a rebalance on a loaded machine) must not end a wait for records
    that are still coming. ``idle_s`` (seconds without a new record) ends reads without
    ``until``: draining a topic whose producers are done.
    ``security``: kafka-python client settings (``security_protocol``, ``sasl_*``).
    """
    if until is not None and idle_s is not None:
        raise ValueError("give until or idle_s, not both: an idle pause would end the wait early")
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=500, **security)
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            got = False
            for msg in consumer:
                out.append(orjson.loads(msg.value))
                got = True
            if got:
                last_new = time.monotonic()
            if until is not None and until(out):
                break
            if idle_s is not None and out and time.monotonic() - last_new > idle_s:
                break
        return out
    finally:
        consumer.close()


def scrape_metrics(worker: Worker) -> dict[str, float]:
    """The worker's ``/metrics`` as ``{name{labels}: value}``; empty while it does not answer
    (starting, restoring, or dead)."""
    from streams.bench import parse_metrics

    try:
        status, body = worker.get("/metrics")
    except (urllib.error.URLError, ConnectionError, OSError):
        return {}
    return parse_metrics(body) if status == 200 and isinstance(body, str) else {}


def events_total(worker: Worker) -> int:
    """The worker's ``distillguard_events_total``: llm-requests records processed (replays the
    cursors skipped are not counted); 0 while it does not answer."""
    return int(scrape_metrics(worker).get("distillguard_events_total", 0))


def wait_processed(workers: list[Worker], n: int, timeout_s: float = 120) -> None:
    """Wait until ``workers`` together have processed at least ``n`` records.

    The wait to use before draining an output topic: once the input is processed, what is
    left to arrive is the producer's last flush, not a pause of unknown length.
    """
    deadline = time.monotonic() + timeout_s
    while sum(events_total(w) for w in workers) < n:
        assert time.monotonic() < deadline, f"processed {[events_total(w) for w in workers]} of {n}"
        time.sleep(0.2)


def event(account: str, ts: int, i: int, **fields: Any) -> dict[str, Any]:
    """A valid request event with sensible defaults."""
    base = {"request_id": f"{account}-{ts}-{i}", "ts": ts, "account_id": account,
            "model": "claude-sonnet-4", "input_tokens": 200, "output_tokens": 300,
            "prompt": "What is a good name for a cat?", "account_created_ts": ts - 400 * 86_400_000,
            "account_tier": "pro", "client_ip": "198.51.100.7", "payment_fingerprint": f"pf_{account}"}
    base.update(fields)
    return base


def encode(events: list[dict[str, Any]]) -> Iterator[tuple[bytes, bytes]]:
    for ev in events:
        yield ev["account_id"].encode(), orjson.dumps(ev)


#: worker log lines repeated every 100 ms while a group join is retried
LOG_NOISE = ("coordinator dead", "Discovered coordinator", "(Re-)joining group")


def _collapse_noise(lines: list[str]) -> list[str]:
    """Runs of join-retry lines become their first line and a count: kept, since when a
    rebalance never completes they are the story, but not hundreds of them."""
    out: list[str] = []
    run = 0
    for ln in lines:
        if any(x in ln for x in LOG_NOISE):
            run += 1
            if run == 1:
                out.append(ln)
            continue
        if run > 1:
            out.append(f"    ... {run - 1} more join-retry lines")
        run = 0
        out.append(ln)
    if run > 1:
        out.append(f"    ... {run - 1} more join-retry lines")
    return out


def print_worker_logs(dep: Deployment, lines: int = 80) -> None:
    """The end of each worker's log, join-retry runs collapsed: what CI shows on a failure."""
    for n, worker in enumerate(dep.workers):
        tail = _collapse_noise(worker.log().splitlines())
        print(f"\n----- {dep.base.name} worker {n} (exit {worker.proc.poll()}), last {lines} lines -----")
        print("\n".join(ln[:300] for ln in tail[-lines:]))


def walking_skeleton(t0: int) -> list[dict[str, Any]]:
    """Six events each of ``acct-heavy`` (3,000 output tokens) and ``acct-light`` (1,000), 1 s
    apart from ``t0`` (a window boundary): heavy crosses a 10,000-token threshold at its 4th."""
    heavy = [event("acct-heavy", t0 + i * 1000, i, output_tokens=3000) for i in range(6)]  # 18k
    light = [event("acct-light", t0 + i * 1000, i, output_tokens=1000) for i in range(6)]  # 6k
    return heavy + light


def assert_walking_skeleton_alert(alerts: list[dict[str, Any]], t0: int) -> dict[str, Any]:
    """Exactly one volume alert, schema-valid, for ``acct-heavy`` at its 4th event (12k vs 10k)."""
    import jsonschema

    from models.event import load_schema

    volume = [a for a in alerts if a["campaign"] == "anomalous_usage"]
    assert [a["accounts"] for a in volume] == [["acct-heavy"]]
    alert = volume[0]
    jsonschema.validate(alert, load_schema("alert"))
    assert alert["ts"] == t0 + 3000  # the fourth event took the window to 12k >= 10k
    assert alert["reasons"][0]["signal"] == "output_tokens_10m"
    assert alert["reasons"][0]["value"] == 12000 and alert["reasons"][0]["baseline"] == 10000
    assert alert["detected_at"] >= alert["ts"]
    return alert


def finish(deployments: list[Deployment], request: Any) -> None:
    """Stop every worker; if the test failed, print their logs (see ``print_worker_logs``)."""
    for dep in deployments:
        dep.stop_all()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for dep in deployments:
            print_worker_logs(dep)
