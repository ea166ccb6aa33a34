"""``make demo`` / ``make demo-local``: the user's first look at distillguard.

Kafka mode: find or start a broker, simulate a mixed capture (benign populations and every
attack pattern), start a worker, replay the capture at full speed with a progress bar, show
alerts live as they arrive on ``distill-alerts``, then evaluate against the labels, write the
HTML report and stop everything it started. Local mode does the same with ``replay --local``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from streams.broker import ensure_broker
from streams.commands import _progress

# Wide enough for the alert table when the output is a log file rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 160)


def _alert_printer(target: Console) -> Any:
    """The same aligned table rows ``distillguard alerts`` prints (header once)."""
    from streams.alerts import AlertPrinter

    return AlertPrinter(console=target)


def _simulate(out: Path, hours: float, scale: float, seed: int) -> tuple[Path, Path]:
    from streams.simulate import simulate

    capture, labels = out / "capture.jsonl.gz", out / "labels.csv"
    with console.status(f"simulating {hours:g} h of traffic (scale {scale:g}, seed {seed})"):
        summary = simulate(capture, labels, seed=seed, hours=hours, scale=scale)
    console.print(f"simulated capture: {capture} ({getattr(summary, 'events', '?'):,} events)")
    return capture, labels


def _report(capture: Path, labels: Path, alerts_path: Path, actions_path: Path, out: Path) -> None:
    from streams.evaluate import evaluate, load_jsonl, print_result
    from streams.report import write_html_report

    result = evaluate(capture, labels, alerts_path, actions_path)
    print_result(result, console)
    alerts, _ = load_jsonl(alerts_path)
    html = write_html_report(result, result.capture, alerts, out / "report.html")
    console.print(f"\n[bold green]HTML report:[/] {html.resolve()}")


def run_local(out: Path, hours: float, scale: float, seed: int) -> None:
    from streams.replay import replay_local

    capture, labels = _simulate(out, hours, scale, seed)
    alerts_path, actions_path = out / "alerts.jsonl", out / "enforcement.jsonl"
    with alerts_path.open("wb") as a_fh, actions_path.open("wb") as e_fh, _progress(console) as progress:
        printer = _alert_printer(progress.console)
        task = progress.add_task("local detection", total=None, rate="")
        result = replay_local(capture, partitions=4, alerts_out=a_fh, actions_out=e_fh,
                              on_alert=printer.print,
                              progress=lambda n: progress.advance(task, n))
    console.print(f"{result.events:,} events, {len(result.alerts):,} alerts, "
                  f"{result.deadletters} dead-lettered in {result.seconds:.1f} s "
                  f"({1e6 * result.engine_s / max(1, result.events):.1f} µs/event in the engine)")
    _report(capture, labels, alerts_path, actions_path, out)


def _follow(bootstrap: str, topic: str, sink: list[dict[str, Any]], stop: threading.Event,
            id_field: str, show: Any = None) -> None:
    """Collect (and optionally show) every record of ``topic``, dropping duplicates by id."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=500)
    seen: set[str] = set()
    while not stop.is_set():
        for msg in consumer:
            try:
                alert = orjson.loads(msg.value)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(alert, dict) or alert.get(id_field) in seen:
                continue  # at-least-once: drop duplicates by id
            seen.add(alert[id_field])
            sink.append(alert)
            if show is not None:
                show(alert)
            if stop.is_set():
                break
    consumer.close()


class WorkerDied(RuntimeError):
    """The demo's worker process exited before it finished."""


def _check_alive(worker: subprocess.Popen[bytes], log_path: Path) -> None:
    if worker.poll() is not None:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise WorkerDied(f"worker exited with code {worker.returncode}; last log lines:\n" + "\n".join(tail))


def _wait_ready(port: int, worker: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    """Wait until the worker's ``/ready`` view answers 200 (partitions assigned, tables recovered)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _check_alive(worker, log_path)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise WorkerDied(f"worker not ready after {timeout_s:.0f} s (log {log_path})")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_drained(bootstrap: str, group: str, topic: str, timeout_s: float,
                  alive: Any = None) -> bool:
    """Wait until the worker's committed offsets reach the end of the topic."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + timeout_s
    try:
        parts = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or []]
        while time.monotonic() < deadline:
            if alive is not None:
                alive()
            ends = probe.end_offsets(parts)
            done = admin.list_group_offsets(group).get(group, {})
            lag = sum(ends[tp] - (done[tp].offset if tp in done else 0) for tp in parts)
            if lag <= 0:
                return True
            time.sleep(1)
        return False
    finally:
        probe.close()
        admin.close()


def run_kafka(out: Path, hours: float, scale: float, seed: int) -> None:
    from streams.replay import replay_to_kafka
    from streams.settings import Settings
    from streams.topics import create_topics

    broker = ensure_broker()
    console.print(f"kafka broker: {broker.how} at {broker.bootstrap}")
    worker: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    try:
        capture, labels = _simulate(out, hours, scale, seed)
        run = uuid.uuid4().hex[:8]
        port = int(os.environ.get("DISTILLGUARD_WEB_PORT") or _free_port())
        data_dir = out / "worker-data"
        shutil.rmtree(data_dir, ignore_errors=True)  # state of an earlier demo run is not ours
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
               "DISTILLGUARD_APP_ID": f"distillguard-demo-{run}",
               "DISTILLGUARD_REQUESTS_TOPIC": f"llm-requests-demo-{run}",
               "DISTILLGUARD_ALERTS_TOPIC": f"distill-alerts-demo-{run}",
               "DISTILLGUARD_ENFORCEMENT_TOPIC": f"distill-enforcement-demo-{run}",
               "DISTILLGUARD_LINKS_TOPIC": f"distill-links-demo-{run}",
               "DISTILLGUARD_FEEDBACK_TOPIC": f"distill-feedback-demo-{run}",
               "DISTILLGUARD_DEADLETTER_TOPIC": f"distill-deadletter-demo-{run}",
               "DISTILLGUARD_DATA_DIR": str(data_dir),
               "DISTILLGUARD_WEB_PORT": str(port)}
        os.environ.update(env)
        settings = Settings()
        create_topics(settings)
        log_path = out / "worker.log"
        log = log_path.open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        with console.status(f"starting the worker (pid {worker.pid}, log {log_path})"):
            _wait_ready(port, worker, log_path, 120)
        console.print(f"worker ready (pid {worker.pid}, web views on http://127.0.0.1:{port}, log {log_path})")
        alerts: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        printer = _alert_printer(console)
        threads = [threading.Thread(target=_follow, args=(broker.bootstrap, t, sink, stop, id_field, show),
                                    daemon=True)
                   for t, sink, id_field, show in ((settings.alerts_topic, alerts, "alert_id", printer.print),
                                                   (settings.enforcement_topic, actions, "action_id", None))]
        for t in threads:
            t.start()
        with _progress(console) as progress:
            task = progress.add_task("replay", total=None, rate="")
            summary = replay_to_kafka(capture, settings, progress=lambda n: progress.advance(task, n),
                                      fast=True)
            progress.update(task, rate=f"{summary.rate:,.0f} ev/s")
        console.print(f"replayed {summary.events:,} events in {summary.seconds:.1f} s "
                      f"({summary.rate:,.0f} events/s); waiting for the worker to drain...")
        drained = _wait_drained(broker.bootstrap, settings.app_id, settings.requests_topic, 180,
                                alive=lambda: _check_alive(worker, log_path))
        time.sleep(3)  # let the last alerts travel
        console.print("worker drained" if drained else "[yellow]worker did not drain in time[/]")
        stop.set()
        for t in threads:
            t.join(timeout=5)
        alerts_path, actions_path = out / "alerts.jsonl", out / "enforcement.jsonl"
        alerts_path.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in alerts))
        actions_path.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in actions))
        console.print(f"{len(alerts)} alerts and {len(actions)} enforcement events read back from Kafka")
        _report(capture, labels, alerts_path, actions_path, out)
    finally:
        stop.set()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        broker.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["kafka", "local"], default="kafka")
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--hours", type=float, default=float(os.environ.get("DEMO_HOURS", "6")))
    parser.add_argument("--scale", type=float, default=float(os.environ.get("DEMO_SCALE", "0.25")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DEMO_SEED", "11")))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        (run_kafka if args.mode == "kafka" else run_local)(args.out, args.hours, args.scale, args.seed)
    except WorkerDied as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        sys.exit(1)
    console.print(f"demo finished in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
