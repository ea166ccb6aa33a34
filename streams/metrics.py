"""Prometheus metrics of the worker (prometheus-client, one registry per process).

Names are part of the contract with the Grafana dashboard (deploy/grafana) and the Helm
chart's ServiceMonitor: change them together.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

# Latency buckets in seconds: sub-millisecond stages up to multi-second stalls.
_STAGE_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_ALERT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """All worker metrics, registered in :attr:`registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("distillguard_events", "Request events consumed", registry=r)
        self.link_updates = Counter("distillguard_link_updates", "Link updates consumed by the cluster agent",
                                    registry=r)
        self.deadletter = Counter("distillguard_deadletter", "Records sent to the dead-letter topic",
                                  ["reason"], registry=r)
        self.alerts = Counter("distillguard_alerts", "Alerts emitted", ["campaign", "severity"], registry=r)
        self.actions = Counter("distillguard_actions", "Enforcement actions emitted", ["action"], registry=r)
        self.lag = Gauge("distillguard_lag_events", "Consumer lag of llm-requests", ["partition"], registry=r)
        self.stage_latency = Histogram("distillguard_stage_latency_seconds",
                                       "Stage time per batch (state: per state write)",
                                       ["stage"], buckets=_STAGE_BUCKETS, registry=r)
        self.alert_latency = Histogram("distillguard_alert_latency_seconds",
                                       "From the event's Kafka timestamp to its alert's emission",
                                       buckets=_ALERT_BUCKETS, registry=r)
        self.table_keys = Gauge("distillguard_table_keys", "Keys cached per table", ["table"], registry=r)
        self.state_held = Gauge("distillguard_state_held_events", "Processed events waiting for "
                                "their table's state write (not yet acknowledged)", ["table"], registry=r)
        self.offset_gaps = Counter(
            "distillguard_offset_gaps", "Offset ranges not delivered by the consumer: read from the "
            "topic (refilled), not in it (absent), or sought back to when no later record came (sought)", ["agent", "outcome"], registry=r)
        self.skipped = Counter(
            "distillguard_records_skipped", "Records not processed: replays of records whose effects "
            "are already in the state", ["agent", "reason"], registry=r)
        self.gc_pause = Histogram("distillguard_gc_pause_seconds",
                                  "Garbage collections: how long each held the event loop",
                                  ["generation"], buckets=_STAGE_BUCKETS, registry=r)
        self.ready = Gauge("distillguard_ready", "1 when the worker is ready", registry=r)
        self.last_batch = Gauge("distillguard_last_batch_timestamp_seconds", "Unix time the agent "
                                "last finished a batch (processed, outputs sent)", ["agent"], registry=r)

    def render(self) -> bytes:
        """The exposition text for ``GET /metrics``."""
        return generate_latest(self.registry)
