"""A real worker against the real broker: alerts, dead letters, views, kill switch."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest

from tests.integration.workers import (
    assert_walking_skeleton_alert,
    consume,
    encode,
    event,
    produce,
    walking_skeleton,
)

pytestmark = pytest.mark.broker

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a window boundary


def test_volume_window_alert_read_back_from_kafka(deployment_factory) -> None:
    """Walking skeleton: an account over the per-window output-token threshold is alerted once."""
    dep = deployment_factory(DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD="10000")
    worker = dep.start()
    worker.wait_ready()
    produce(dep.bootstrap, dep.topics["requests"], list(encode(walking_skeleton(T0))))

    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                     until=lambda got: any(a["campaign"] == "anomalous_usage" for a in got))
    assert_walking_skeleton_alert(alerts, T0)


def test_worker_started_before_its_topics_exist_creates_them_and_consumes(deployment_factory) -> None:
    """No topics yet: the worker creates them, joins only once they are visible, and consumes.

    A worker that joined its group before its topics showed in the broker's metadata used to
    be assigned nothing and stay idle (while alive) until its client refreshed metadata.
    """
    from kafka import KafkaConsumer

    dep = deployment_factory(partitions=3, create_topics=False,
                             DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD="4000")
    worker = dep.start()
    worker.wait_ready()
    probe = KafkaConsumer(bootstrap_servers=dep.bootstrap)
    try:
        assert probe.partitions_for_topic(dep.topics["requests"]) == {0, 1, 2}
    finally:
        probe.close()
    produce(dep.bootstrap, dep.topics["requests"],
            list(encode([event("acct-early", T0 + i * 1000, i, output_tokens=2000) for i in range(3)])))
    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                     until=lambda got: any(a["campaign"] == "anomalous_usage" for a in got))
    assert [a["ts"] for a in alerts if a["campaign"] == "anomalous_usage"] == [T0 + 1000]
    assert "created topics" in worker.log()


def test_bad_input_is_dead_lettered_and_processing_goes_on(deployment_factory) -> None:
    dep = deployment_factory(DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD="5000")
    worker = dep.start()
    worker.wait_ready()
    bad = [
        (b"k1", b"{not json"),
        (b"k2", orjson.dumps({"request_id": "x", "ts": "yesterday", "account_id": "a", "model": "m",
                              "input_tokens": 1, "output_tokens": 1})),
        (b"k3", orjson.dumps({"request_id": "y", "ts": T0, "account_id": "a", "model": "m",
                              "input_tokens": -5, "output_tokens": 1})),
        (b"k4", b'{"request_id":"z"}'),
    ]
    huge = orjson.dumps(event("acct-huge", T0, 0, prompt="x" * 10_000_000))  # a 10 MB prompt
    good = list(encode([event("acct-after-bad", T0 + i, i, output_tokens=2000) for i in range(3)]))
    produce(dep.bootstrap, dep.topics["requests"], bad + [(b"acct-huge", huge)] + good,
            max_request_size=16 * 1024 * 1024)

    dead = consume(dep.bootstrap, dep.topics["deadletter"], timeout_s=60,
                   until=lambda got: len(got) >= 5)
    assert len(dead) == 5
    too_large = [d for d in dead if d["reason"].startswith("too_large")]
    assert len(too_large) == 1 and too_large[0]["original_size"] == len(huge)
    assert too_large[0]["truncated"] and too_large[0]["original_sha256"] == hashlib.sha256(huge).hexdigest()
    dead = [d for d in dead if d is not too_large[0]]
    by_original = {base64.b64decode(d["original_b64"]): d for d in dead}
    assert set(by_original) == {value for _, value in bad}
    assert by_original[b"{not json"]["reason"].startswith("not_json")
    assert by_original[bad[1][1]]["reason"].startswith("schema")
    assert "ts" in by_original[bad[1][1]]["reason"]
    assert by_original[bad[2][1]]["reason"].startswith("schema")
    assert all(d["topic"] == dep.topics["requests"] and d["offset"] >= 0 for d in dead)
    # The good events after the bad ones were processed: their volume alert arrives.
    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
                     until=lambda got: any(a["subject"] == "acct-after-bad" for a in got))
    assert any(a["subject"] == "acct-after-bad" for a in alerts)
    status, metrics = worker.get("/metrics")
    assert status == 200 and 'distillguard_deadletter_total{reason="schema"} 3.0' in metrics
    assert 'distillguard_deadletter_total{reason="too_large"} 1.0' in metrics


def test_views_health_ready_account_and_token(deployment_factory) -> None:
    dep = deployment_factory(DISTILLGUARD_WEB_TOKEN="s3cret", DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD="5000",
                             DISTILLGUARD_LOG_FORMAT="json")
    worker = dep.start()
    worker.wait_ready()
    # Structured logs: Faust's own lines come out as JSON objects a log shipper can parse.
    records = []
    for line in worker.log().splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    assert any(r.get("logger", "").startswith("faust") and r.get("level") == "info" for r in records)
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records if isinstance(r, dict))
    produce(dep.bootstrap, dep.topics["requests"],
            list(encode([event("acct-view", T0 + i, i, output_tokens=2000,
                               prompt="my secret prompt text 12345") for i in range(3)])))
    consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60,
            until=lambda got: any(a["subject"] == "acct-view" for a in got))
    assert worker.get("/health")[0] == 200
    assert worker.get("/ready")[0] == 200
    assert worker.get("/accounts/acct-view")[0] == 401
    status, body = worker.get("/accounts/acct-view", token="s3cret")
    assert status == 200, body
    assert "my secret prompt text" not in orjson.dumps(body).decode()
    assert worker.get("/accounts/nobody-here", token="s3cret")[0] == 404
