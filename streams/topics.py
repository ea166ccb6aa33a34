"""Topic names, partition counts and configs, and an idempotent creator.

The worker declares the same topics through Faust at start-up; ``distillguard
create-topics`` (and the Helm hook Job) creates them ahead of time with explicit
configs, so partitions and retention never come from broker defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.settings import Settings

__all__ = ["TopicSpec", "topic_specs", "create_topics"]


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
