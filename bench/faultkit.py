"""Helpers of the fault and overload scripts (``bench/broker_outage.py``, ``bench/overload.py``).

* :class:`OwnBroker` - a private single-node Apache Kafka (``deploy/kafka/kafka.sh``) on other
  ports and in its own directory, which these scripts may stop and restart freely (the shared
  broker on 9092 is never touched);
* :class:`Sampler` - polls a worker's ``/ready`` and ``/metrics`` and its RSS in the background;
* workload helpers: time-ordered events whose volume alerts are known in advance.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from models.volume import VolumeWindow  # noqa: E402

KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"


class OwnBroker:
    """A private broker: ``KAFKA_PORT``/``KAFKA_CONTROLLER_PORT``/``KAFKA_HOME_DIR`` of its own."""

    def __init__(self, home: Path, port: int = 19092, controller_port: int = 19093) -> None:
        self.home, self.port, self.controller_port = home, port, controller_port
        self.bootstrap = f"127.0.0.1:{port}"

    def _run(self, *args: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(self.controller_port),
               "KAFKA_HOME_DIR": str(self.home), "KAFKA_NO_FALLBACK": "1", "PYTHON": sys.executable,
               "KAFKA_CACHE_DIR": os.environ.get("KAFKA_CACHE_DIR", str(REPO / ".cache"))}
        subprocess.run(["bash", str(KAFKA_SH), *args], env=env, check=True, stdout=subprocess.DEVNULL)

    def up(self) -> float:
        t0 = time.monotonic()
        self._run("up")
        return time.monotonic() - t0

    def down(self, purge: bool = False) -> None:
        self._run("down", *(["--purge"] if purge else []))


def wait_topics(bootstrap: str, topics: list[str], timeout_s: float = 60) -> None:
    """Wait until the broker's metadata lists every topic with its partitions.

    A worker started while a just-created topic is still missing from the metadata is
    assigned none of its partitions and only notices at the next metadata refresh (minutes).
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            known = consumer.topics()  # a fresh metadata request
            if set(topics) <= known and all(consumer.partitions_for_topic(t) for t in topics):
                return
            time.sleep(0.5)
        raise TimeoutError(f"topics not in the metadata after {timeout_s} s: {topics}")
    finally:
        consumer.close()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {name{labels}: value} (no comments)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


@dataclass
class Sample:
    t: float
    ready: int  # HTTP status of /ready (0 = no answer)
    reason: str
    lag: float
    events: float
    rss_mb: float


@dataclass
class Sampler:
    """Samples a worker every ``every`` seconds in a thread until :meth:`stop`."""

    port: int
    pid: int
    every: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import orjson

        while not self._stop.is_set():
            status, body = http_get(self.port, "/ready")
            try:
                reason = orjson.loads(body).get("reason", "") if status else "no answer"
            except orjson.JSONDecodeError:
                reason = body[:60]
            m = parse_metrics(http_get(self.port, "/metrics")[1])
            lag = sum(v for k, v in m.items() if k.startswith("distillguard_lag_events{"))
            self.samples.append(Sample(time.monotonic() - self.t0, status, reason, lag,
                                       m.get("distillguard_events_total", float("nan")), rss_mb(self.pid)))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def volume_workload(accounts: int, windows: int, t0_ms: int, *, per_window: int = 10, tokens: int = 1000,
                    spacing_ms: int = 20_000, prefix: str = "acct") -> list[dict[str, Any]]:
    """Time-ordered events; each account's window reaches the threshold (per_window x tokens)
    exactly at its last event of the window, so one skipped event means one missing alert."""
    from tests.integration.workers import event

    out = []
    for w in range(windows):
        for j in range(per_window):
            for a in range(accounts):
                ts = t0_ms + w * 600_000 + j * spacing_ms + a
                out.append(event(f"{prefix}-{a:04d}", ts, w * per_window + j, output_tokens=tokens,
                                 prompt=f"Summarise note {j}."))
    return out


def expected_alerts(events: list[dict[str, Any]], threshold: int, window_ms: int = 600_000) -> dict[str, int]:
    """alert_id -> ts of the crossing event, for the volume alerts of ``events``."""
    vol = VolumeWindow(window_ms, threshold)
    sums: dict[tuple[str, int], int] = defaultdict(int)
    out = {}
    for ev in events:
        key = (ev["account_id"], vol.window_start(ev["ts"]))
        before = sums[key]
        sums[key] += ev["output_tokens"]
        if vol.crossed(before, ev["output_tokens"]):
            out[vol.alert(key[0], key[1], sums[key], ts=ev["ts"])["alert_id"]] = ev["ts"]
    return out
