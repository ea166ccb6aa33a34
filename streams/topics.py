"""Topic names, partition counts and configs, and an idempotent creator.

The worker declares the same topics through Faust at start-up; ``distillguard
create-topics`` (and the Helm hook Job) creates them ahead of time with explicit
configs, so partitions and retention never come from broker defaults.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from streams.settings import Settings

log = logging.getLogger("distillguard")

__all__ = ["TopicSpec", "topic_specs", "create_topics", "ensure_topics", "TopicsNotVisible"]


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, partitions, replication and broker-side configs."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str] = field(default_factory=dict)


#: largest record the requests topic accepts (bytes); events over ``models.event.MAX_EVENT_BYTES``
#: are dead-lettered by the worker as ``too_large``
REQUESTS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic distillguard reads or writes, with its configs.

    Data topics are time-retained; the control topic is compacted (latest switch state wins);
    alert and enforcement topics are compacted *and* time-retained so consumers can rebuild
    the latest state per id without growing forever.
    """
    p, r = settings.topic_partitions, settings.replication_factor
    retained = {"cleanup.policy": "delete", "retention.ms": str(settings.retention_ms)}
    keyed_outputs = {"cleanup.policy": "compact,delete", "retention.ms": str(settings.retention_ms)}
    # Oversized events must reach the worker, which dead-letters them with a reason; with the
    # broker's 1 MiB default the producer would get an error and the detector would never know.
    requests = {**retained, "max.message.bytes": str(REQUESTS_MAX_MESSAGE_BYTES)}
    return [
        TopicSpec(settings.requests_topic, p, r, requests),
        TopicSpec(settings.feedback_topic, p, r, retained),
        TopicSpec(settings.links_topic, p, r, {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)}),
        TopicSpec(settings.alerts_topic, p, r, keyed_outputs),
        TopicSpec(settings.enforcement_topic, p, r, keyed_outputs),
        TopicSpec(settings.deadletter_topic, p, r, retained),
        TopicSpec(settings.control_topic, 1, r, {"cleanup.policy": "compact"}),
    ]


def create_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; existing ones are left alone. Returns the names created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                             client_id="distillguard-admin",
                             request_timeout_ms=int(timeout_s * 1000),
                             **settings.kafka_python_security())
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(s.name, s.partitions, s.replication, topic_configs=s.configs)
               for s in topic_specs(settings) if s.name not in existing]
        created: list[str] = []
        for topic in new:
            try:
                admin.create_topics([topic], timeout_ms=int(timeout_s * 1000))
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # a concurrent creator won the race: fine
        return created
    finally:
        admin.close()


class TopicsNotVisible(RuntimeError):
    """The broker does not show every topic the worker reads, with a leader on each partition."""


def ensure_topics(settings: Settings, timeout_s: float = 120.0) -> None:
    """Create missing topics, then wait until the broker's metadata shows all of them.

    A consumer that joins its group before its topics appear in the broker's metadata is
    assigned nothing and, with the client's metadata cached, can stay idle for minutes while
    reporting itself alive. The worker therefore starts only once every topic it reads has
    every partition led. Creation needs the ``CREATE`` ACL; without it the topics must come
    from ``distillguard create-topics`` (or the chart's hook Job) and this only waits.

    Raises :class:`TopicsNotVisible` after ``timeout_s`` seconds.
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        created = create_topics(settings)
        if created:
            log.info("created topics %s", ", ".join(created))
    except KafkaError as exc:  # e.g. no CREATE ACL: the topics may still exist
        log.warning("could not create topics (%s); waiting for them to exist", exc)
    wanted = {s.name: s.partitions for s in topic_specs(settings)}
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             client_id="distillguard-topic-check",
                             **settings.kafka_python_security())
    deadline = time.monotonic() + timeout_s
    missing: list[str] = list(wanted)
    try:
        while True:
            topics = consumer.topics()  # a fresh metadata request each call
            missing = [name for name in wanted
                       if name not in topics or not consumer.partitions_for_topic(name)]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TopicsNotVisible(f"topics not visible after {timeout_s:.0f} s: {missing}")
            time.sleep(0.5)
    finally:
        consumer.close()
