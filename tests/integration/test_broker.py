"""The test broker itself: a real Kafka round trip, and kafka.sh idempotency."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.broker import KAFKA_SH, REPO_ROOT, SOURCE_LOCAL, BrokerInfo

pytestmark = pytest.mark.broker


def test_produce_consume_keyed_roundtrip(kafka_bootstrap: str, kafka_topic_factory) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    topic = kafka_topic_factory("roundtrip", partitions=2)
    sent = [(b"acct-1", b'{"n":1}'), (b"acct-2", b'{"n":2}'), (b"acct-1", b'{"n":3}')]

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=0)
    try:
        metas = [producer.send(topic, key=k, value=v).get(timeout=30) for k, v in sent]
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    # The default partitioner is deterministic per key.
    assert metas[0].partition == metas[2].partition
    assert {m.partition for m in metas} <= {0, 1}

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"test-roundtrip-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    got = []
    try:
        deadline = time.monotonic() + 60
        while len(got) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                got.extend(records)
    finally:
        consumer.close()

    assert sorted((r.key, r.value) for r in got) == sorted(sent)
    # Every record of a key sits in one partition, the one the producer reported.
    partition_of = {}
    for r in got:
        partition_of.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in partition_of.values()), partition_of
    assert partition_of[b"acct-1"] == {metas[0].partition}
    assert partition_of[b"acct-2"] == {metas[1].partition}
    # Per-partition order is preserved (acct-1's two messages in send order).
    acct1 = [r.value for r in sorted(got, key=lambda r: r.offset) if r.key == b"acct-1"]
    assert acct1 == [b'{"n":1}', b'{"n":3}']


def test_kafka_sh_up_is_idempotent(kafka_broker: BrokerInfo) -> None:
    if kafka_broker.source != SOURCE_LOCAL:
        pytest.skip(
            f"broker is not the local deploy/kafka one "
            f"({kafka_broker.source}: {kafka_broker.description})"
        )
    port = kafka_broker.bootstrap.rsplit(":", 1)[1]
    env = dict(os.environ, PYTHON=sys.executable, KAFKA_PORT=port)
    t0 = time.monotonic()
    r = subprocess.run(
        ["bash", str(KAFKA_SH), "up"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already running" in r.stdout, r.stdout
    assert elapsed < 10, f"'up' on a running broker took {elapsed:.1f}s"

    s = subprocess.run(
        ["bash", str(KAFKA_SH), "status"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert s.returncode == 0, s.stdout + s.stderr
