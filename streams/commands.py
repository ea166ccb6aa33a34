"""Click commands for the worker, topic creation, replay and the kill switch."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.settings import Settings

__all__ = ["worker_command", "create_topics_command", "replay_command", "control_command"]

console = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@contextmanager
def _startup_logging(settings: Settings) -> Iterator[None]:
    """Log the ``distillguard`` logger to stderr until Faust installs its own handlers."""
    from streams.logs import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(
        "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"))
    logger = logging.getLogger("distillguard")
    logger.addHandler(handler)
    logger.setLevel(settings.log_level.upper())
    try:
        yield
    finally:
        logger.removeHandler(handler)


@click.command("worker")
@click.option("--web-port", type=int, default=None, help="Port of the web views (env DISTILLGUARD_WEB_PORT).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="RocksDB directory (env DISTILLGUARD_DATA_DIR).")
@click.option("--loglevel", default=None, help="Log level (env DISTILLGUARD_LOG_LEVEL).")
def worker_command(web_port: int | None, data_dir: Path | None, loglevel: str | None) -> None:
    """Run a Faust worker: consume llm-requests, detect, emit alerts and enforcement."""
    import faust

    from streams.app import build_app
    from streams.heap import settle_heap, watch_pauses

    from streams.logs import logging_config
    from streams.topics import ensure_topics

    settings = _settings(web_port=web_port, data_dir=data_dir, log_level=loglevel)
    # Join the group only once the topics are visible: a member that joins before would be
    # assigned nothing and could sit idle until its client next refreshes metadata.
    with _startup_logging(settings):
        ensure_topics(settings, timeout_s=settings.topics_wait_ms / 1000)
    dg = build_app(settings)
    # modules, Faust, River: out of the collector's way
    settle_heap(settings.gc_gen0_threshold)
    pauses = [dg.metrics.gc_pause.labels(str(g)) for g in range(3)]
    watch_pauses(lambda generation, seconds: pauses[generation].observe(seconds))

    worker = faust.Worker(dg.app, loglevel=settings.log_level,
                          logging_config=logging_config(settings.log_format, settings.log_level))
    # No terminal spinner: at log level warning and above Faust's spinner handler sets the root
    # logger to DEBUG, and every aiokafka/Faust debug call then builds a LogRecord per message.
    worker.spinner = None
    worker.execute_from_commandline()


@click.command("create-topics")
def create_topics_command() -> None:
    """Create every topic with its partitions and configs (idempotent)."""
    from streams.topics import create_topics, topic_specs

    settings = Settings()
    created = create_topics(settings)
    for spec in topic_specs(settings):
        state = "created" if spec.name in created else "exists"
        click.echo(f"{spec.name:24s} partitions={spec.partitions} {state}")


def _progress(target: Console | None = None) -> Progress:
    """A progress bar on ``target`` (default: stderr, so stdout stays machine-readable)."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=target or console,
                    transient=False)


def _count_lines(path: Path) -> int:
    from streams.capture import iter_lines

    return sum(1 for _ in iter_lines(path))


@click.command("replay")
@click.argument("capture", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", default=None,
              help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092).")
@click.option("--speed", type=float, default=None, help="Divide event-time gaps by X (e.g. 60 = 1 h/min).")
@click.option("--max-speed", is_flag=True, help="Produce as fast as possible (default without --speed).")
@click.option("--topic", default=None, help="Target topic (default llm-requests).")
@click.option("--local", is_flag=True, help="Run detection in-process instead, with no broker.")
@click.option("--alerts-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --local: write alerts here as JSON lines.")
@click.option("--enforcement-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --local: write enforcement actions here as JSON lines.")
@click.option("--partitions", type=int, default=None,
              help="With --local: partitions to emulate (default DISTILLGUARD_TOPIC_PARTITIONS).")
@click.option("--policy", "policy_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="With --local: enforcement policy YAML to backtest.")
@click.option("--fast", is_flag=True,
              help="Produce with aiokafka's batch API instead of kafka-python (~5x the rate).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def replay_command(capture: Path, bootstrap_servers: str | None, speed: float | None, max_speed: bool,
                   topic: str | None, local: bool, alerts_out: Path | None, enforcement_out: Path | None,
                   partitions: int | None, policy_file: Path | None, fast: bool, quiet: bool) -> None:
    """Replay a recorded capture (.jsonl / .jsonl.gz) onto Kafka, or detect locally (--local)."""
    if speed is not None and max_speed:
        raise click.UsageError("--speed and --max-speed are exclusive")
    settings = _settings(bootstrap_servers=bootstrap_servers)
    total = _count_lines(capture)
    with _progress() as progress:
        task = progress.add_task("local detection" if local else "replay", total=total, rate="",
                                 visible=not quiet)

        def advance(n: int) -> None:
            progress.advance(task, n)

        if local:
            _replay_local(capture, settings, partitions, policy_file, alerts_out, enforcement_out, advance)
        else:
            from streams.replay import replay_to_kafka

            summary = replay_to_kafka(capture, settings, topic=topic, speed=speed, progress=advance, fast=fast)
            progress.update(task, rate=f"{summary.rate:,.0f} ev/s")
            console.print(f"replayed [bold]{summary.events:,}[/] events to "
                          f"{topic or settings.requests_topic} in {summary.seconds:.1f} s "
                          f"({summary.rate:,.0f} events/s), errors={summary.errors}, "
                          f"unkeyed={summary.unkeyed}")
            if summary.errors:
                sys.exit(1)


def _replay_local(capture: Path, settings: Settings, partitions: int | None, policy_file: Path | None,
                  alerts_out: Path | None, enforcement_out: Path | None, advance: Any) -> None:
    from models.policy import Policy
    from streams.replay import replay_local

    policy = Policy.from_yaml(policy_file) if policy_file else Policy.default()
    a_fh = alerts_out.open("wb") if alerts_out else None
    e_fh = enforcement_out.open("wb") if enforcement_out else None
    try:
        result = replay_local(capture, partitions=partitions or settings.topic_partitions, policy=policy,
                              volume=settings.volume_window(), model_key=settings.model_key.encode(),
                              progress=advance, alerts_out=a_fh, actions_out=e_fh)
    finally:
        for fh in (a_fh, e_fh):
            if fh is not None:
                fh.close()
    table = Table(title="local detection")
    for col in ("events", "alerts", "actions", "dead-lettered", "seconds", "µs/event (engine)"):
        table.add_column(col, justify="right")
    table.add_row(f"{result.events:,}", f"{len(result.alerts):,}", f"{len(result.actions):,}",
                  f"{result.deadletters:,}", f"{result.seconds:.1f}",
                  f"{1e6 * result.engine_s / max(1, result.events):.1f}")
    console.print(table)
    if result.deadletter_reasons:
        console.print("dead-lettered by reason: " + ", ".join(
            f"{k}={v}" for k, v in sorted(result.deadletter_reasons.items())))


@click.command("control")
@click.option("--dry-run", "dry_run", type=click.Choice(["on", "off"]), required=True,
              help="on: enforcement events are marked dry_run (nothing enforced); off: live.")
def control_command(dry_run: str) -> None:
    """Flip the enforcement kill switch on every running worker, without a restart."""
    from streams.control import publish_dry_run_sync

    publish_dry_run_sync(Settings(), dry_run == "on")
    click.echo(f"dry_run={'on' if dry_run == 'on' else 'off'} published")


logging.getLogger("kafka").setLevel(logging.WARNING)
