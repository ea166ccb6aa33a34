"""Overload: drive one worker at ~2x its sustained maximum for 60 s, then watch it drain.

Runs a private broker (``deploy/kafka/kafka.sh`` on ports 19192/19193 in a temporary
directory; pass ``--bootstrap`` to use another) and one ``distillguard worker``.

1. **Sustained maximum**: a backlog of ``--backlog`` events is produced first; the worker's
   processing rate through it (``distillguard_events_total``) is the sustained maximum R.
2. **Overload**: events are produced at ``--factor`` x R (default 2) for ``--seconds`` (60),
   each stamped with the wall clock as its event time, so an alert's ``detected_at - ts`` is
   its real end-to-end latency (queueing included).
3. **Drain**: production stops; the script waits for the lag to return to 0.

Printed: lag growth and drain, RSS over time, produced / processed / dropped, dead letters,
volume alerts expected and received, and alert latency percentiles.

Usage::

    .venv/bin/python bench/overload.py [--seconds 60] [--factor 2] [--backlog 40000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import orjson
from faultkit import OwnBroker, Sampler, http_get, parse_metrics, wait_topics

from models.volume import VolumeWindow
from tests.integration.workers import Deployment, consume

THRESHOLD = 40_000  # output tokens per account per 10-min window
TOKENS = 1_000
ACCOUNTS = 3_000


def make_event(i: int, ts: int) -> tuple[bytes, bytes, str, int]:
    account = f"ov-{i % ACCOUNTS:05d}"
    value = orjson.dumps({"request_id": f"ov-{i}", "ts": ts, "account_id": account, "model": "claude-sonnet-4",
                          "input_tokens": 120, "output_tokens": TOKENS, "prompt": f"Summarise note {i % 97}.",
                          "account_created_ts": ts - 400 * 86_400_000, "account_tier": "pro"})
    return account.encode(), value, account, ts


def produce(bootstrap: str, topic: str, start_i: int, n: int | None, rate: float | None, seconds: float | None,
            sent: list[tuple[str, int]], counters: dict[str, int]) -> None:
    """Produce ``n`` events as fast as possible, or ``rate``/s for ``seconds``; records (account, ts)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, batch_size=256 * 1024,
                             max_block_ms=120_000)

    def ok(_md: object) -> None:
        counters["acked"] += 1

    def err(_exc: object) -> None:
        counters["failed"] += 1

    i = start_i
    t0 = time.monotonic()
    try:
        while True:
            if n is not None and i - start_i >= n:
                break
            if seconds is not None:
                elapsed = time.monotonic() - t0
                if elapsed >= seconds:
                    break
                due = int(elapsed * rate) + 1
                if i - start_i >= due:
                    time.sleep(0.002)
                    continue
            ts = int(time.time() * 1000)
            key, value, account, ts = make_event(i, ts)
            producer.send(topic, key=key, value=value).add_callback(ok).add_errback(err)
            sent.append((account, ts))
            i += 1
        producer.flush(timeout=120)
    finally:
        producer.close()


def expected_volume(sent: list[tuple[str, int]]) -> dict[str, int]:
    vol = VolumeWindow(600_000, THRESHOLD)
    sums: dict[tuple[str, int], int] = defaultdict(int)
    out = {}
    for account, ts in sent:
        key = (account, vol.window_start(ts))
        before = sums[key]
        sums[key] += TOKENS
        if vol.crossed(before, TOKENS):
            out[vol.alert(account, key[1], sums[key], ts=ts)["alert_id"]] = ts
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--factor", type=float, default=2.0)
    ap.add_argument("--backlog", type=int, default=40_000)
    ap.add_argument("--bootstrap", default=None, help="use this broker instead of a private one")
    ap.add_argument("--port", type=int, default=19192)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dg-overload-"))
    broker = None if args.bootstrap else OwnBroker(work / "kafka", args.port, args.port + 1)
    bootstrap = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
    ok = True
    dep = None
    try:
        if broker:
            print(f"private broker up in {broker.up():.1f} s at {bootstrap}")
        dep = Deployment(bootstrap, work / "dep", {"DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD": str(THRESHOLD)},
                         partitions=4)
        dep.base.mkdir(parents=True)
        dep.create_topics()
        wait_topics(dep.bootstrap, list(dep.topics.values()))
        topic = dep.topics["requests"]
        sent: list[tuple[str, int]] = []
        counters = {"acked": 0, "failed": 0}

        # 1. sustained maximum, through a backlog
        produce(bootstrap, topic, 0, args.backlog, None, None, sent, counters)
        worker = dep.start(index=0)
        sampler = Sampler(worker.port, worker.proc.pid, every=1.0)
        worker.wait_ready(timeout_s=120)
        while not sampler.samples or not sampler.samples[-1].events >= args.backlog:
            if worker.proc.poll() is not None:
                raise RuntimeError(worker.log()[-3000:])
            time.sleep(0.5)
        pts = [(x.t, x.events) for x in sampler.samples if x.events == x.events]
        # the second half of the backlog: the worker is warm (the first seconds run slower)
        lo = next(p for p in pts if p[1] >= 0.5 * args.backlog)
        hi = next(p for p in pts if p[1] >= 0.95 * args.backlog)
        max_rate = (hi[1] - lo[1]) / max(1e-3, hi[0] - lo[0])
        rate = args.factor * max_rate
        print(f"sustained maximum R = {max_rate:,.0f} events/s (backlog of {args.backlog:,}); "
              f"driving {rate:,.0f}/s ({args.factor:g}x) for {args.seconds:.0f} s")

        # 2. overload
        t_over = time.monotonic() - sampler.t0
        n_before = len(sent)
        producer = threading.Thread(target=produce, args=(bootstrap, topic, args.backlog, None, rate,
                                                          args.seconds, sent, counters))
        producer.start()
        producer.join()
        t_end = time.monotonic() - sampler.t0
        produced_over = len(sent) - n_before
        print(f"produced {produced_over:,} events in {t_end - t_over:.1f} s "
              f"({produced_over / (t_end - t_over):,.0f}/s achieved)")

        # 3. drain
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            last = sampler.samples[-1]
            if last.events >= len(sent) and last.lag == 0:
                break
            time.sleep(0.5)
        t_drained = time.monotonic() - sampler.t0
        time.sleep(2)
        sampler.stop()
        metrics = parse_metrics(http_get(worker.port, "/metrics")[1])
        expected = expected_volume(sent)
        alerts = consume(bootstrap, dep.topics["alerts"], timeout_s=120,
                         until=lambda got: {a["alert_id"] for a in got} >= set(expected))
        vol_alerts = {a["alert_id"]: a for a in alerts if a["alert_id"] in expected}
        lat = [(a["detected_at"] - a["ts"]) / 1000 for a in vol_alerts.values()]
        processed = metrics.get("distillguard_events_total", 0)
        dead = sum(v for k, v in metrics.items() if k.startswith("distillguard_deadletter_total"))

        print("\n   t(s)  phase     processed    lag      RSS(MB)")
        for x in sampler.samples[:: max(1, len(sampler.samples) // 40)]:
            phase = "backlog" if x.t < t_over else "overload" if x.t < t_end else "drain"
            print(f"{x.t:7.1f}  {phase:8s} {x.events:10,.0f} {x.lag:8,.0f}  {x.rss_mb:8.0f}")
        over = [x for x in sampler.samples if t_over <= x.t <= t_end]
        rss = [x.rss_mb for x in sampler.samples if x.rss_mb == x.rss_mb]
        print("\n== overload figures ==")
        print(f"sustained maximum R       {max_rate:,.0f} events/s")
        print(f"offered load              {produced_over / (t_end - t_over):,.0f} events/s for {t_end - t_over:.0f} s")
        def events_at(t: float) -> float:
            return next((x.events for x in sampler.samples if x.t >= t), float("nan"))

        print(f"processing rate           {(events_at(t_end) - events_at(t_over)) / (t_end - t_over):,.0f} events/s "
              f"during the overload, {(events_at(t_drained) - events_at(t_end)) / max(1e-3, t_drained - t_end):,.0f}"
              f" events/s while draining")
        print(f"backlog at end of overload {len(sent) - events_at(t_end):,.0f} events (produced - processed; "
              f"the lag gauge below only sees each partition's last fetched high-water mark)")
        print(f"lag                       peak {max(x.lag for x in sampler.samples):,.0f} events; "
              f"at end of overload {over[-1].lag if over else float('nan'):,.0f}")
        print(f"drain                     {t_drained - t_end:.1f} s after production stopped")
        print(f"RSS                       {min(rss):.0f} MB min, {max(rss):.0f} MB max "
              f"(backlog end {next((x.rss_mb for x in sampler.samples if x.t >= t_over), float('nan')):.0f} MB)")
        print(f"produced / processed      {len(sent):,} acked {counters['acked']:,} failed {counters['failed']} / "
              f"{processed:,.0f}")
        print(f"dropped                   {len(sent) - processed:,.0f}   dead letters {dead:.0f}")
        print(f"volume alerts             expected {len(expected):,}, received {len(vol_alerts):,}")
        print(f"alert latency (detected_at - event ts)  p50 {pct(lat, .5):.2f} s  p95 {pct(lat, .95):.2f} s  "
              f"max {max(lat, default=float('nan')):.2f} s")
        hist = {k: v for k, v in metrics.items() if k.startswith("distillguard_alert_latency_seconds_bucket")}
        total = metrics.get("distillguard_alert_latency_seconds_count", 0)
        under1 = next((v for k, v in hist.items() if 'le="1.0"' in k), float("nan"))
        print(f"worker histogram          {total:.0f} alerts, {under1 / total if total else float('nan'):.0%} "
              f"within 1 s of their record's Kafka timestamp")
        ok = (len(sent) - processed == 0 and counters["failed"] == 0 and dead == 0
              and len(vol_alerts) == len(expected) and worker.proc.poll() is None)
        print(f"check                     {'ok' if ok else 'FAILED'}")
        dep.stop_all()
    finally:
        if dep is not None:
            dep.stop_all()
        if broker:
            broker.down()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
