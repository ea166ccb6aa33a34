"""Broker outage under load: stop the broker for 30 s while a worker processes a paced stream.

Runs a private broker (``deploy/kafka/kafka.sh`` on ports 19092/19093 in a temporary
directory; the shared broker is never touched), one ``distillguard worker`` and a paced
producer. Mid-stream the broker is stopped for ``--outage`` seconds and started again.
The workload makes every account's 10-minute window reach the volume threshold exactly at
its last event, so a single skipped event shows up as a missing alert.

Checks (exit status 1 if one fails) and figures printed:

* the worker process survives and reconnects on its own (same pid, no restart);
* ``/ready`` answers 503 while the broker is away, 200 again after it is back;
* every expected alert arrives, at the right event (nothing skipped);
* lag grows during the outage and drains back to 0.

Usage::

    .venv/bin/python bench/broker_outage.py [--outage 30] [--rate 150] [--seconds 75]

Takes about 2.5 minutes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from faultkit import OwnBroker, Sampler, expected_alerts, volume_workload, wait_topics

from tests.integration.workers import Deployment, consume, encode

T0 = 1_767_225_600_000
THRESHOLD = 10_000


def produce_paced(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], seconds: float,
                  failures: list[str], acked: list[int]) -> None:
    """Produce evenly over ``seconds``; keeps retrying through an outage (5 min delivery timeout)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=1_000_000,
                             delivery_timeout_ms=300_000, request_timeout_ms=10_000, max_block_ms=300_000,
                             retry_backoff_ms=200, reconnect_backoff_max_ms=2_000)
    start = time.monotonic()
    try:
        for i, (key, value) in enumerate(records):
            fut = producer.send(topic, key=key, value=value)
            fut.add_callback(lambda _md: acked.append(1))
            fut.add_errback(lambda exc: failures.append(repr(exc)))
            delay = start + seconds * (i + 1) / len(records) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.flush(timeout=300)
    finally:
        producer.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outage", type=float, default=30.0, help="seconds the broker is down")
    ap.add_argument("--rate", type=float, default=150.0, help="events per second produced")
    ap.add_argument("--seconds", type=float, default=75.0, help="production time")
    ap.add_argument("--down-at", type=float, default=20.0, help="seconds into production")
    ap.add_argument("--port", type=int, default=19092)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dg-outage-"))
    broker = OwnBroker(work / "kafka", args.port, args.port + 1)
    ok = True
    dep = None
    try:
        print(f"broker up in {broker.up():.1f} s at {broker.bootstrap} (private, {work})")
        accounts = 75
        windows = max(1, round(args.rate * args.seconds / (accounts * 10)))
        events = volume_workload(accounts, windows, T0)
        expected = expected_alerts(events, THRESHOLD)
        dep = Deployment(broker.bootstrap, work / "dep", {"DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD": str(THRESHOLD)},
                         partitions=2)
        dep.base.mkdir(parents=True)
        dep.create_topics()
        wait_topics(dep.bootstrap, list(dep.topics.values()))
        worker = dep.start(index=0)
        worker.wait_ready(timeout_s=120)
        pid = worker.proc.pid
        sampler = Sampler(worker.port, pid, every=0.5)
        failures: list[str] = []
        acked: list[int] = []
        t_start = time.monotonic()
        producer = threading.Thread(target=produce_paced, args=(broker.bootstrap, dep.topics["requests"],
                                                                list(encode(events)), args.seconds,
                                                                failures, acked))
        producer.start()
        time.sleep(args.down_at)
        if not sampler.samples or not sampler.samples[-1].events > 0:
            raise RuntimeError("the worker processed nothing before the outage:\n" + worker.log()[-3000:])
        t_down = time.monotonic() - sampler.t0
        broker.down()
        print(f"broker stopped at t={t_down:.1f} s for {args.outage:.0f} s")
        time.sleep(args.outage)
        t_up0 = time.monotonic() - sampler.t0
        took = broker.up()
        t_up = time.monotonic() - sampler.t0
        print(f"broker started at t={t_up0:.1f} s, answering after {took:.1f} s")
        producer.join(timeout=600)
        alerts = consume(broker.bootstrap, dep.topics["alerts"], timeout_s=240,
                         until=lambda got: {a["alert_id"] for a in got} >= set(expected))
        t_all = time.monotonic() - t_start
        # wait for the lag gauge to settle to 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not sampler.samples or sampler.samples[-1].lag > 0):
            time.sleep(0.5)
        time.sleep(1.0)
        sampler.stop()

        s = sampler.samples
        got = {a["alert_id"]: a["ts"] for a in alerts}
        missing = set(expected) - set(got)
        wrong = [i for i in expected if i in got and got[i] != expected[i]]
        not_ready = [x for x in s if t_down <= x.t <= t_up + 5 and x.ready != 200]
        first_nr = min((x.t for x in not_ready), default=None)
        back = min((x.t for x in s if x.t > t_up and x.ready == 200), default=None)
        max_lag = max((x.lag for x in s), default=0)
        t_peak = max((x for x in s if x.t >= t_down), key=lambda x: x.lag).t
        drained = min((x.t for x in s if x.t > max(t_peak, t_up) and x.lag == 0 and x.ready == 200),
                      default=None)
        reasons = sorted({x.reason for x in not_ready})
        alive = worker.proc.poll() is None and worker.proc.pid == pid
        rss = [x.rss_mb for x in s if x.rss_mb == x.rss_mb]

        print("\n== broker outage figures ==")
        print(f"events produced           {len(events)} over {args.seconds:.0f} s ({args.rate:.0f}/s), "
              f"acked {len(acked)}, producer failures {len(failures)}")
        print(f"outage                    {t_up - t_down:.1f} s (stop at {t_down:.1f} s, answering at {t_up:.1f} s)")
        print(f"worker                    {'same process, reconnected on its own' if alive else 'DIED'} (pid {pid})")
        print(f"/ready not-ready          first at +{(first_nr - t_down) if first_nr else float('nan'):.1f} s "
              f"after the stop; {len(not_ready)} samples; reasons {reasons}")
        print(f"/ready ready again        +{(back - t_up) if back else float('nan'):.1f} s after the broker answered")
        print(f"max lag                   {max_lag:.0f} events (at t={t_peak:.1f} s)")
        print(f"lag drained to 0          +{(drained - t_up) if drained else float('nan'):.1f} s after the broker answered")
        print(f"alerts                    expected {len(expected)}, received {len(got)} distinct "
              f"({len(alerts)} records), missing {len(missing)}, at a wrong event {len(wrong)}")
        print(f"worker RSS                {min(rss):.0f}-{max(rss):.0f} MB")
        print(f"all alerts in             {t_all:.1f} s after production started")
        checks = {
            "worker survived": alive,
            "no producer failure": not failures and len(acked) == len(events),
            "not ready while away": bool(not_ready) and all(x.ready != 200 for x in s
                                                              if t_down + 5 <= x.t <= t_up0),
            "ready again": back is not None,
            "no alert missing": not missing and not wrong,
            "lag drained": drained is not None,
        }
        for name, passed in checks.items():
            print(f"check {name:24s} {'ok' if passed else 'FAILED'}")
        ok = all(checks.values())
        if not ok:
            print(worker.log()[-5000:], file=sys.stderr)
        dep.stop_all()
    finally:
        if dep is not None:
            dep.stop_all()
        try:
            broker.down()
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
