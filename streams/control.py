"""The enforcement kill switch: publish ``{"dry_run": bool}`` to the compacted control topic.

Every worker reads that topic in full (no consumer group) and applies the latest value
live, so the switch takes effect on all workers without a restart and survives restarts.
"""

from __future__ import annotations

import time

import orjson

from streams.security import aiokafka_security
from streams.settings import Settings

__all__ = ["publish_dry_run", "publish_dry_run_sync"]


def _payload(flag: bool) -> bytes:
    return orjson.dumps({"dry_run": flag, "ts": int(time.time() * 1000)})


async def publish_dry_run(settings: Settings, flag: bool) -> None:
    """Publish the switch with aiokafka (from inside the worker's event loop)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, **aiokafka_security(settings))
    await producer.start()
    try:
        await producer.send_and_wait(settings.control_topic, _payload(flag), key=b"dry_run")
    finally:
        await producer.stop()


def publish_dry_run_sync(settings: Settings, flag: bool) -> None:
    """Publish the switch with kafka-python (from the command line)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, **settings.kafka_python_security())
    try:
        producer.send(settings.control_topic, key=b"dry_run", value=_payload(flag)).get(timeout=30)
    finally:
        producer.close()
