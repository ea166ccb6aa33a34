"""Typed, frozen settings built once from the environment.

Every knob of the worker and the command line lives here, with its default and unit.
Nothing else in distillguard reads ``os.environ``. Environment variables use the
``DISTILLGUARD_`` prefix, except the Kafka connection settings, which use the
conventional ``KAFKA_*`` names so the same variables serve every Kafka tool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.volume import VolumeWindow

__all__ = ["Settings", "load_settings"]


def _kafka(name: str) -> AliasChoices:
    return AliasChoices(f"KAFKA_{name}", f"DISTILLGUARD_KAFKA_{name}")


class Settings(BaseSettings):
    """distillguard settings. Environment variable names are given per field."""

    # populate_by_name: Settings(bootstrap_servers=...) must not be silently ignored (the
    # Kafka fields have KAFKA_* aliases; without it only the alias names were accepted).
    model_config = SettingsConfigDict(env_prefix="DISTILLGUARD_", frozen=True, extra="ignore",
                                      populate_by_name=True)

    # --- Kafka connection -------------------------------------------------
    bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_kafka("BOOTSTRAP_SERVERS"),
        description="KAFKA_BOOTSTRAP_SERVERS: comma-separated host:port list.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=_kafka("SECURITY_PROTOCOL"))
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", validation_alias=_kafka("SASL_MECHANISM"))
    sasl_username: str | None = Field(None, validation_alias=_kafka("SASL_USERNAME"))
    sasl_password: str | None = Field(None, validation_alias=_kafka("SASL_PASSWORD"))
    ssl_cafile: str | None = Field(None, validation_alias=_kafka("SSL_CAFILE"))
    ssl_certfile: str | None = Field(None, validation_alias=_kafka("SSL_CERTFILE"))
    ssl_keyfile: str | None = Field(None, validation_alias=_kafka("SSL_KEYFILE"))

    # --- Application --------------------------------------------------------
    app_id: str = Field("distillguard", description="Faust app id = consumer group id.")
    data_dir: Path = Field(Path("distillguard-data"), description="RocksDB tables live here.")
    topic_partitions: int = Field(4, ge=1, le=1024, description="partitions of every topic")
    replication_factor: int = Field(1, ge=1, le=10)
    requests_topic: str = "llm-requests"
    alerts_topic: str = "distill-alerts"
    enforcement_topic: str = "distill-enforcement"
    feedback_topic: str = "distill-feedback"
    deadletter_topic: str = "distill-deadletter"
    links_topic: str = "distill-links"
    control_topic: str = "distill-control"
    retention_ms: int = Field(7 * 24 * 3600 * 1000, description="retention of the data topics, ms")

    # --- Processing -----------------------------------------------------------
    batch_size: int = Field(2000, ge=1, description="max events per processing batch")
    batch_within_ms: int = Field(50, ge=1, description="max wait to fill a batch, ms")
    batch_when_caught_up: bool = Field(
        True, description="close a batch as soon as the worker has read everything the consumer "
        "delivered (batches sized by the load: low latency when quiet, large batches under load); "
        "false: Faust's take_events, which waits batch_within_ms unless the batch is full")
    batch_min_fill_ms: int = Field(
        10, ge=0, description="a caught-up batch closes only once its first event is this old, ms: "
        "a busy worker hands over batches of at least this much traffic, not of a few events")
    state_flush_ms: int = Field(
        1000, ge=0, description="how long processed events wait for their state write, ms: a "
        "table's dirty state is written once for the batches of this interval, and their events "
        "are acknowledged (committable) after that write; 0: written after every batch")
    state_flush_max_events: int = Field(
        20_000, ge=1, description="processed events held for a state write before it is made, "
        "however young they are")
    gc_gen0_threshold: int = Field(
        20_000, ge=0, description="allocations between young-generation collections (CPython's "
        "default: 700); what lives as long as the worker is frozen out of the collector at start "
        "and once ready (see streams/heap.py). 0: the collector as CPython sets it")
    model_snapshot_every: int = Field(20_000, ge=1, description="events between model snapshots")
    model_key: str = Field("change-me-distillguard", description="HMAC key for model snapshots")
    cache_size: int = Field(
        5_000, ge=100, description="decoded account/cluster states kept in memory per partition (LRU; "
        "~6 KB each): memory is bounded by this, not by the number of accounts, which live in RocksDB")
    rocksdb_block_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=1024 * 1024,
        description="RocksDB block cache of the worker, shared by every table partition database; "
        "holds data, index and filter blocks and is charged with the memtables (Faust's default: "
        "2 GiB per database, index and filter blocks outside it)")
    rocksdb_write_buffer_bytes: int = Field(
        8 * 1024 * 1024, ge=1024 * 1024,
        description="RocksDB memtable size per table partition database, 2 of them (Faust's: 3 x 64 MiB)")
    rocksdb_memtable_budget_bytes: int = Field(
        32 * 1024 * 1024, ge=0,
        description="total memtable memory of the worker's table databases (a write buffer manager "
        "charged to the block cache: a database is flushed when the total passes it); 0: no "
        "budget, each database up to 2 x rocksdb_write_buffer_bytes")
    malloc_trim_interval_s: float = Field(
        10.0, ge=0, description="seconds between malloc_trim(0) calls, in a thread of their own: "
        "glibc keeps freed memory in its heaps (200-250 MiB in a loaded worker here) and hands "
        "back only their tops. 0: never")
    rocksdb_cache_index_and_filter_blocks: bool = Field(
        True, description="keep SST index and filter blocks in the block cache (bounded) rather "
        "than in each open file's table reader (grows with the data)")
    commit_interval_ms: int = Field(1000, ge=100)
    consumer_max_fetch_bytes: int = Field(
        8 * 1024 * 1024, ge=65_536, description="bytes fetched per partition per request (Faust's "
        "1 MiB default caps a worker at ~3,300 events/s of 700-byte events here)")
    consumer_fetch_max_wait_ms: int = Field(
        20, ge=1, le=1500, description="longest the broker holds a fetch with no new records, ms "
        "(Faust's 1,500: new records of one partition could wait behind a fetch of quiet ones)")
    consumer_fetch_min_bytes: int = Field(
        65_536, ge=1, le=1_048_576, description="bytes the broker gathers before it answers a fetch "
        "(or the fetch wait passes, whichever is first). Kafka's default of 1 answers every fetch "
        "as soon as one record is there: paced at 5,000 events/s the consumer thread then spent 23 % "
        "of a core (46 µs per event) on small fetches, 10 % with 64 KiB; the cost is at most the "
        "fetch wait of added latency when traffic is light")
    producer_batch_bytes: int = Field(
        1_000_000, ge=16_384, le=1_048_576, description="bytes per producer record batch (one "
        "partition): a batch's state changelog goes out in batches of this size, 1 to 3 per partition "
        "at the default batch size (Faust's 16 KB default: dozens of sequential round trips per batch). "
        "At most the broker's and the topics' max message size (1 MiB by default)")
    eager_delivery: bool = Field(
        True, description="hand each fetched record to the stream in place when that does not block, "
        "instead of Faust's four tasks per record (see streams.app._EagerDeliveryConsumer); false: "
        "Faust's own path")
    session_timeout_ms: int = Field(
        30_000, ge=1000, description="consumer group session timeout, ms: how long a dead worker keeps "
        "its partitions before the group hands them to the others (broker minimum: 6000 by default)")
    metadata_max_age_ms: int = Field(
        10_000, ge=1000, description="how often the consumer refreshes topic metadata, ms: a topic "
        "that appears (or gains partitions) after the worker joined is assigned within this time "
        "(the client's default, 5 minutes, leaves a worker idle that long)")
    topics_wait_ms: int = Field(
        120_000, ge=0, description="at start-up, how long the worker waits for its topics to be "
        "visible in the broker's metadata before it gives up, ms")
    max_future_ms: int = Field(15 * 60 * 1000, ge=0,
                               description="event times later than now + this are clamped, ms")

    # --- Policy and web ---------------------------------------------------------
    policy_file: Path | None = Field(None, description="enforcement policy YAML; default: built-in")
    dry_run: bool | None = Field(None, description="override the policy's dry_run")
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    web_token: str | None = Field(None, description="bearer token required by the web views")
    group_instance_id: str | None = Field(None, description="static membership id (pod name)")
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        "text", description="worker logs: Faust's text lines, or one JSON object per line")

    # --- Volume guard rail: output tokens per account per tumbling window ----------
    window_ms: int = Field(10 * 60 * 1000, ge=1000, description="token window length, ms")
    output_tokens_threshold: int = Field(
        2_000_000, ge=1, description="output tokens per account per window that raise a volume alert")

    def volume_window(self) -> VolumeWindow:
        """The volume guard rail configured by these settings."""
        return VolumeWindow(self.window_ms, self.output_tokens_threshold)

    def broker_url(self) -> str:
        """The Faust broker URL (``kafka://h1:p1;h2:p2``)."""
        hosts = [h.strip() for h in self.bootstrap_servers.split(",") if h.strip()]
        return "kafka://" + ";".join(hosts)

    def kafka_python_security(self) -> dict[str, object]:
        """Security keyword arguments for kafka-python clients."""
        kw: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            kw.update(sasl_mechanism=self.sasl_mechanism,
                      sasl_plain_username=self.sasl_username,
                      sasl_plain_password=self.sasl_password)
        if self.security_protocol.endswith("SSL"):
            kw.update(ssl_cafile=self.ssl_cafile, ssl_certfile=self.ssl_certfile,
                      ssl_keyfile=self.ssl_keyfile)
        return kw


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
