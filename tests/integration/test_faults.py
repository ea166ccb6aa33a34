"""Faults against real workers and the real broker: SIGKILL, lost RocksDB, bad input, kill switch.

The broker outage (stop the broker for 30 s under load) takes about two minutes and needs a
broker of its own: ``bench/broker_outage.py`` (documented in the README).
"""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

import orjson
import pytest

from models.errors import InvalidEvent
from models.event import decode_event
from models.volume import VolumeWindow
from streams.runtime import InputRecord, Runtime, kafka_partition
from tests.integration.workers import Deployment, consume, encode, event, events_total, produce

pytestmark = pytest.mark.broker

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a window boundary
WINDOW_MS = 600_000
THRESHOLD = 10_000


def workload(accounts: int, windows: int = 2, per_window: int = 12, tokens: int = 1000,
             prefix: str = "acct") -> list[dict[str, Any]]:
    """Time-ordered events: each account crosses the threshold at its 10th event of each window."""
    out = []
    for w in range(windows):
        for j in range(per_window):
            for a in range(accounts):
                ts = T0 + w * WINDOW_MS + j * 20_000 + a
                out.append(event(f"{prefix}-{a:03d}", ts, w * per_window + j, output_tokens=tokens,
                                 prompt=f"Please summarise document {j} for me."))
    return out


def expected_volume_alerts(events: list[dict[str, Any]]) -> dict[str, tuple[int, float]]:
    """alert_id -> (ts of the crossing event, window tokens at the crossing), computed directly."""
    vol = VolumeWindow(WINDOW_MS, THRESHOLD)
    sums: dict[tuple[str, int], int] = defaultdict(int)
    out = {}
    for ev in events:
        key = (ev["account_id"], vol.window_start(ev["ts"]))
        before = sums[key]
        sums[key] += ev["output_tokens"]
        if vol.crossed(before, ev["output_tokens"]):
            alert = vol.alert(key[0], key[1], sums[key], ts=ev["ts"])
            out[alert["alert_id"]] = (alert["ts"], alert["reasons"][0]["value"])
    return out


def reference_run(events: list[dict[str, Any]], partitions: int) -> tuple[set[str], set[str]]:
    """Alert and action ids of an uninterrupted run of the same code (in process, same partitions)."""
    runtime = Runtime(volume=VolumeWindow(WINDOW_MS, THRESHOLD))
    offsets = [0] * partitions
    records = []
    for key, value in encode(events):
        p = kafka_partition(key, partitions)
        records.append(InputRecord("llm-requests", p, offsets[p], key, value, 0))
        offsets[p] += 1
    out = runtime.process_requests(records)
    assert not out.deadletters
    return {a["alert_id"] for a in out.alerts}, {a["action_id"] for a in out.actions}


def produce_paced(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], seconds: float) -> None:
    """Produce records evenly over ``seconds`` and wait for every ack."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    try:
        start = time.monotonic()
        for i, (key, value) in enumerate(records):
            producer.send(topic, key=key, value=value)
            delay = start + seconds * (i + 1) / len(records) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.flush(timeout=60)
    finally:
        producer.close()


def assert_duplicates_identical(alerts: list[dict[str, Any]]) -> None:
    """At-least-once: an alert may come twice, but only as the same alert (same id, same values)."""
    by_id: dict[str, dict[str, Any]] = {}
    for a in alerts:
        body = {k: v for k, v in a.items() if k != "detected_at"}
        assert by_id.setdefault(a["alert_id"], body) == body, (by_id[a["alert_id"]], body)


def fast_group(**env: str) -> dict[str, str]:
    """Worker settings of these tests: a low volume threshold, static group membership.

    With a static member id (the pod name in Kubernetes) a restarted worker takes its
    partitions back at once instead of waiting for the dead member's session to expire.
    """
    return {"DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD": str(THRESHOLD),
            "DISTILLGUARD_GROUP_INSTANCE_ID": "worker-0", **env}


def test_sigkill_mid_stream_then_restart_gives_the_uninterrupted_alerts(deployment_factory) -> None:
    dep: Deployment = deployment_factory(**fast_group())
    events = workload(accounts=40)  # 960 events, 80 volume alerts
    expected = expected_volume_alerts(events)
    ref_alerts, ref_actions = reference_run(events, dep.partitions)
    assert len(expected) == 80 and set(expected) <= ref_alerts

    worker = dep.start(index=0)
    worker.wait_ready()
    producer = threading.Thread(target=produce_paced, args=(dep.bootstrap, dep.topics["requests"],
                                                            list(encode(events)), 12.0))
    producer.start()
    # Kill once the worker is visibly mid-stream: some alerts out, most still to come.
    seen = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=30,
                   until=lambda got: len(got) >= 10)
    assert 10 <= len(seen) < len(expected)
    before_kill = events_total(worker)
    worker.kill()
    assert worker.proc.returncode == -9
    time.sleep(1.0)
    restarted = dep.start(index=0, port=worker.port)  # same data dir, group, member id and URL
    restarted.wait_ready(timeout_s=120)
    producer.join(timeout=60)

    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=90,
                     until=lambda got: {a["alert_id"] for a in got} >= ref_alerts)
    ids = {a["alert_id"] for a in alerts}
    assert ids == ref_alerts, (f"missing {len(ref_alerts - ids)}, unexpected {len(ids - ref_alerts)}")
    assert_duplicates_identical(alerts)
    for a in alerts:  # window sums survived the crash: each alert fired at the right event
        if a["alert_id"] in expected:
            assert (a["ts"], a["reasons"][0]["value"]) == expected[a["alert_id"]], a
    actions = consume(dep.bootstrap, dep.topics["enforcement"], timeout_s=5, idle_s=2)
    assert {a["action_id"] for a in actions} == ref_actions
    # Records since the last commit come again; those whose effects reached the state before
    # the kill are skipped as replays (offset cursors), the others are processed again. The
    # alerts above are what proves nothing was lost or counted twice.
    after_restart = events_total(restarted)
    assert after_restart > 0
    print(f"\nsigkill: >= {before_kill:.0f} events processed before the kill, {after_restart:.0f} after "
          f"the restart; {len(alerts)} alert records, {len(ids)} distinct, "
          f"{len(alerts) - len(ids)} duplicates (identical), expected {len(ref_alerts)}")


def test_deleted_rocksdb_dir_is_rebuilt_from_the_changelog(deployment_factory) -> None:
    dep: Deployment = deployment_factory(**fast_group())
    worker = dep.start(index=0)
    worker.wait_ready()
    first = [event("acct-rebuilt", T0 + i * 1000, i, output_tokens=1000) for i in range(6)]  # 6 000
    produce(dep.bootstrap, dep.topics["requests"], list(encode(first)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, view = worker.get("/accounts/acct-rebuilt")
        if status == 200 and view["requests"] == 6:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"first events not processed: {view}")
    worker.stop()
    assert worker.proc.returncode == 0, worker.log()[-3000:]
    data_dir = dep.base / "data-0"
    assert any(data_dir.rglob("*.sst")) or any(data_dir.rglob("CURRENT"))  # RocksDB was there
    shutil.rmtree(data_dir)

    restarted = dep.start(index=0, port=worker.port)
    restarted.wait_ready(timeout_s=120)
    status, view = restarted.get("/accounts/acct-rebuilt")
    assert status == 200 and view["requests"] == 6, view  # engine state rebuilt from the changelog
    more = [event("acct-rebuilt", T0 + i * 1000, i, output_tokens=1000) for i in range(6, 10)]
    produce(dep.bootstrap, dep.topics["requests"], list(encode(more)))
    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                     until=lambda got: any(a["subject"] == "acct-rebuilt" for a in got))
    volume = [a for a in alerts if a["campaign"] == "anomalous_usage"]
    # 6 000 tokens from before the deletion + 4 000 after = the threshold, at the 10th event
    assert [(a["ts"], a["reasons"][0]["value"]) for a in volume] == [(T0 + 9000, 10_000.0)]
    assert any(data_dir.rglob("CURRENT"))  # and the RocksDB directory exists again


def hostile_records(rng: random.Random, n: int) -> list[bytes]:
    """A fixed mixture of records that break the contract in every way the fuzz tests know."""
    base = {"request_id": "r", "ts": T0, "account_id": "acct-bad", "model": "m",
            "input_tokens": 1, "output_tokens": 1}
    pool = [
        b"", b"{not json", b"\xff\xfe\xfd", b"[]", b"null", b"1e999", b'{"ts": NaN}',
        b"[" * 5000 + b"]" * 5000, b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'"' + b"x" * 1_000_001 + b'"',
        orjson.dumps({**base, "ts": "yesterday"}), orjson.dumps({**base, "ts": -1}),
        orjson.dumps({**base, "ts": 32_503_680_000_001}), orjson.dumps({**base, "output_tokens": 2**63}),
        orjson.dumps({**base, "input_tokens": True}), orjson.dumps({**base, "prompt": "p" * 200_001}),
        orjson.dumps({**base, "account_id": ""}), orjson.dumps({**base, "status": 99}),
        orjson.dumps({**base, "asn": {"nested": [1, 2, {"x": None}]}}),
        orjson.dumps({k: v for k, v in base.items() if k != "model"}),
        orjson.dumps(base).replace(b'"m"', b'"\xed\xa0\x80"'),
    ]
    out = list(pool)
    while len(out) < n:
        raw = bytearray(rng.choice(pool[10:]))
        raw[rng.randrange(len(raw))] = rng.randrange(256)  # corrupt one byte
        out.append(bytes(raw))
    return out


def test_bad_event_mixture_is_dead_lettered_and_the_partitions_keep_flowing(deployment_factory) -> None:
    dep: Deployment = deployment_factory(**fast_group())
    worker = dep.start(index=0)
    worker.wait_ready()
    rng = random.Random(8)
    bad = hostile_records(rng, 120)
    reasons = {}
    for raw in bad:
        try:
            decode_event(raw)
        except InvalidEvent as exc:
            reasons[raw] = exc.reason
    bad = [raw for raw in bad if raw in reasons]  # a corrupted byte may leave a valid event
    assert len(bad) >= 100
    good = workload(accounts=8, windows=1, prefix="acct-after")  # both partitions
    keys = [b"acct-bad-%d" % i for i in range(len(bad))]
    records = list(zip(keys, bad))
    # bad records first on every partition, then good ones interleaved with more bad ones
    mixed = records[:60] + [r for pair in zip(list(encode(good)), records[60:]) for r in pair]
    mixed += list(encode(good))[len(records) - 60:]
    produce(dep.bootstrap, dep.topics["requests"], mixed)

    dead = consume(dep.bootstrap, dep.topics["deadletter"], timeout_s=60,
                   until=lambda got: len(got) >= len(bad))
    by_hash = {hashlib.sha256(raw).hexdigest(): raw for raw in bad}
    missing = set(by_hash) - {d["original_sha256"] for d in dead}
    assert len(dead) == len(bad) and not missing, [by_hash[h][:80] for h in missing]
    for d in dead:
        original = by_hash[d["original_sha256"]]
        assert d["reason"] == reasons[original]
        assert d["original_size"] == len(original)
        copied = base64.b64decode(d["original_b64"])
        assert copied == original if not d["truncated"] else original.startswith(copied)
        assert len(orjson.dumps(d)) < 1_000_000  # always small enough to send
        assert d["topic"] == dep.topics["requests"] and d["offset"] >= 0
    assert {d["partition"] for d in dead} == set(range(dep.partitions))
    expected = expected_volume_alerts(good)
    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                     until=lambda got: {a["alert_id"] for a in got} >= set(expected))
    got = {a["alert_id"]: (a["ts"], a["reasons"][0]["value"]) for a in alerts if a["alert_id"] in expected}
    assert got == expected  # every good event after the bad ones was processed, in order
    assert worker.proc.poll() is None  # no crash
    _, metrics = worker.get("/metrics")
    lag = [line for line in metrics.splitlines() if line.startswith("distillguard_lag_events{")]
    assert lag and all(line.endswith(" 0.0") for line in lag), lag  # no stalled partition
    assert "engine_error" not in metrics


def run_control(dep: Deployment, flag: str) -> None:
    env = dep.env(0, 6066)  # the command line only publishes; it serves nothing
    done = subprocess.run([sys.executable, "-m", "streams.cli", "control", "--dry-run", flag], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"dry_run={flag}" in done.stdout


def wait_dry_run(worker: Any, flag: bool, timeout_s: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if worker.get("/control/dry-run")[1] == {"dry_run": flag}:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"dry_run never became {flag}")


def confirm_attack(dep: Deployment, account: str, ts: int) -> None:
    """An analyst verdict: the engine raises a critical alert and the policy suspends."""
    produce(dep.bootstrap, dep.topics["feedback"],
            [(account.encode(), orjson.dumps({"account_id": account, "verdict": "attack", "ts": ts}))])


def test_dry_run_kill_switch_applies_to_enforcement_without_restart(deployment_factory) -> None:
    dep: Deployment = deployment_factory(**fast_group(DISTILLGUARD_WEB_TOKEN="tok"))
    worker = dep.start(index=0)
    worker.wait_ready()
    pid = worker.proc.pid
    accounts = ["acct-ks-1", "acct-ks-2", "acct-ks-3"]
    produce(dep.bootstrap, dep.topics["requests"],
            list(encode([event(a, T0 + i, i) for a in accounts for i in range(3)])))

    def action_for(account: str) -> dict[str, Any]:
        got = consume(dep.bootstrap, dep.topics["enforcement"], timeout_s=60,
                      until=lambda acts: any(account in a["accounts"] for a in acts))
        mine = [a for a in got if account in a["accounts"]]
        assert mine, f"no action for {account}"
        return mine[0]

    confirm_attack(dep, accounts[0], T0 + 10_000)
    first = action_for(accounts[0])
    assert first["action"] == "suspend" and first["dry_run"] is False

    t0 = time.monotonic()
    run_control(dep, "on")  # the CLI publishes to the compacted control topic
    wait_dry_run(worker, True)
    took_on = time.monotonic() - t0
    confirm_attack(dep, accounts[1], T0 + 20_000)
    second = action_for(accounts[1])
    assert second["action"] == "suspend" and second["dry_run"] is True

    # and back through the web view (token required), still without a restart
    import urllib.error
    import urllib.request

    anonymous = urllib.request.Request(f"http://127.0.0.1:{worker.port}/control/dry-run", method="POST",
                                       data=b'{"dry_run": false}')
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(anonymous, timeout=10)
    assert denied.value.code == 401

    req = urllib.request.Request(f"http://127.0.0.1:{worker.port}/control/dry-run", method="POST",
                                 data=b'{"dry_run": false}', headers={"Authorization": "Bearer tok"})
    t0 = time.monotonic()
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    wait_dry_run(worker, False)
    took_off = time.monotonic() - t0
    confirm_attack(dep, accounts[2], T0 + 30_000)
    third = action_for(accounts[2])
    assert third["action"] == "suspend" and third["dry_run"] is False
    assert worker.proc.pid == pid and worker.proc.poll() is None
    print(f"\nkill switch: on (CLI) applied {took_on:.2f} s after the command started, "
          f"off (POST) {took_off:.2f} s after the request")
