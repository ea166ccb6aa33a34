"""``distillguard replay`` onto a real broker: every line arrives, keyed like the live API's."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from streams.runtime import kafka_partition

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_767_225_600_000


def _capture(path: Path, accounts: int, per_account: int, gap_ms: int) -> list[bytes]:
    lines = []
    for i in range(per_account):
        for a in range(accounts):
            lines.append(orjson.dumps({"request_id": f"r{a}-{i}", "ts": T0 + i * gap_ms, "account_id": f"acct-{a}",
                                       "model": "m", "input_tokens": 10, "output_tokens": 20, "seq": i}))
    lines.insert(7, b"{this is not json")  # bad lines travel too: the worker dead-letters them
    lines.insert(30, b'{"ts": 5}')
    with gzip.open(path, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    return lines


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=1000)
    out: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(consumer)
        return out
    finally:
        consumer.close()


def _replay(bootstrap: str, topic: str, capture: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", "replay", str(capture), "--topic", topic,
                           "--bootstrap-servers", bootstrap, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("producer", [[], ["--fast"]], ids=["kafka-python", "aiokafka-batches"])
def test_replay_delivers_every_line_in_account_order_on_the_default_partition(
        kafka_bootstrap, kafka_topic_factory, tmp_path, producer) -> None:
    topic = kafka_topic_factory("replay", partitions=4)
    lines = _capture(tmp_path / "cap.jsonl.gz", accounts=25, per_account=40, gap_ms=10)
    proc = _replay(kafka_bootstrap, topic, tmp_path / "cap.jsonl.gz", *producer)
    assert proc.returncode == 0, proc.stderr[-2000:]

    records = _read_all(kafka_bootstrap, topic, len(lines))
    assert sorted(r.value for r in records) == sorted(lines)  # nothing lost, nothing added
    seqs: dict[bytes, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        if r.key is None:
            continue
        assert r.partition == kafka_partition(r.key, 4)  # same partition as the API's producer
        seqs[r.key].append(orjson.loads(r.value)["seq"])
    assert len(seqs) == 25 and all(s == list(range(40)) for s in seqs.values())
    assert sum(1 for r in records if r.key is None) == 2
    assert f"replayed {len(lines):,} events" in proc.stderr and "errors=0" in proc.stderr


@pytest.mark.parametrize("producer", [[], ["--fast"]], ids=["kafka-python", "aiokafka-batches"])
def test_replay_speed_paces_by_event_time(kafka_bootstrap, kafka_topic_factory, tmp_path, producer) -> None:
    topic = kafka_topic_factory("replay-paced", partitions=1)
    # 20 events over 3.8 s of event time, replayed at 2x: at least ~1.9 s of wall clock.
    lines = _capture(tmp_path / "paced.jsonl.gz", accounts=1, per_account=20, gap_ms=200)
    t0 = time.monotonic()
    proc = _replay(kafka_bootstrap, topic, tmp_path / "paced.jsonl.gz", "--speed", "2", *producer)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert elapsed >= 1.8
    assert len(_read_all(kafka_bootstrap, topic, len(lines))) == len(lines)
