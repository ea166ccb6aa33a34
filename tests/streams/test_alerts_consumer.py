"""streams.alerts: filter, dedup, bad messages, webhook retries, and a real-broker run."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from rich.console import Console

from streams.alerts import (
    AlertFilter,
    AlertPrinter,
    BadMessage,
    SeenIds,
    WebhookSender,
    alerts_command,
    decode_alert,
    follow_alerts,
    select_alerts,
)

T0 = 1_700_000_000_000


def _alert(alert_id: str, severity: str = "high", campaign: str = "reasoning_extraction",
           accounts: list[str] | None = None, score: float = 0.9) -> dict[str, Any]:
    return {
        "alert_id": alert_id, "ts": T0, "detected_at": T0 + 5, "kind": "account",
        "subject": (accounts or ["acct-1"])[0], "accounts": accounts or ["acct-1"],
        "score": score, "severity": severity, "step": 1, "campaign": campaign,
        "reasons": [{"signal": "cot_request_share", "value": 0.8, "baseline": 0.05}],
    }


@dataclass
class Rec:
    """Stand-in for a kafka ConsumerRecord."""

    value: bytes | None
    topic: str = "distill-alerts"
    partition: int = 0
    offset: int = 0


# --------------------------------------------------------------------------- no broker


def test_filter_by_severity_campaign_and_account() -> None:
    f = AlertFilter("medium")
    assert f.matches(_alert("a", "medium")) and f.matches(_alert("a", "critical"))
    assert not f.matches(_alert("a", "low"))
    assert not f.matches(_alert("a", "bogus"))
    assert AlertFilter().matches(_alert("a", "low"))

    fc = AlertFilter(campaigns=frozenset({"hydra_cluster", "vision_harvest"}))
    assert fc.matches(_alert("a", campaign="hydra_cluster"))
    assert not fc.matches(_alert("a", campaign="reasoning_extraction"))

    fa = AlertFilter(accounts=frozenset({"acct-7"}))
    assert fa.matches(_alert("a", accounts=["acct-1", "acct-7"]))
    assert not fa.matches(_alert("a", accounts=["acct-1"]))
    with pytest.raises(ValueError, match="min_severity"):
        AlertFilter("urgent")


def test_seen_ids_is_a_bounded_lru() -> None:
    seen = SeenIds(capacity=3)
    assert [seen.check_and_add(x) for x in "abca"] == [False, False, False, True]
    seen.check_and_add("d")  # evicts b (a was refreshed)
    assert len(seen) == 3
    assert seen.check_and_add("a") is True
    assert seen.check_and_add("b") is False


def test_decode_alert_rejects_bad_values() -> None:
    assert decode_alert(orjson.dumps(_alert("x")))["alert_id"] == "x"
    for bad in (b"not json", b"[1, 2]", b'{"score": 1}', b'{"alert_id": ""}', None):
        with pytest.raises(BadMessage):
            decode_alert(bad)


def test_select_alerts_dedups_filters_and_reports_bad() -> None:
    bad: list[tuple[str, int]] = []
    records = [
        Rec(orjson.dumps(_alert("A", "high")), offset=0),
        Rec(b"{oops", offset=1),
        Rec(orjson.dumps(_alert("A", "high")), offset=2),  # redelivery
        Rec(orjson.dumps(_alert("L", "low")), offset=3),
        Rec(None, offset=4),  # tombstone: skipped silently
        Rec(orjson.dumps(_alert("C", "critical", "hydra_cluster")), offset=5),
        Rec(orjson.dumps(_alert("L", "critical")), offset=6),  # id already seen though filtered
    ]
    out = list(select_alerts(records, AlertFilter("medium"), SeenIds(),
                             lambda reason, rec: bad.append((reason, rec.offset))))
    assert [a["alert_id"] for a in out] == ["A", "C"]
    assert [off for _, off in bad] == [1]
    assert bad[0][0].startswith("not JSON")


def test_printer_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    printer = AlertPrinter(console=Console(file=buf, width=160, color_system=None))
    printer.print(_alert("A", "critical", accounts=["acct-1", "acct-2", "acct-3", "acct-4"]))
    printer.print(_alert("B", "low"))
    text = buf.getvalue()
    assert text.count("campaign") == 1  # header once
    assert "2023-11-14 22:13:20Z" in text
    assert "acct-1, acct-2, acct-3 +1" in text
    assert "cot_request_share 0.8 vs 0.05" in text and "critical" in text

    AlertPrinter(as_json=True).print(_alert("J"))
    line = capsys.readouterr().out.strip()
    assert orjson.loads(line)["alert_id"] == "J"


# --------------------------------------------------------------------------- webhook


class _Hook:
    """Local HTTP receiver that answers with the given status codes in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, Any]] = []
        self.keys: list[str | None] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.received.append(orjson.loads(body))
                    hook.keys.append(self.headers.get("idempotency-key"))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Any]:
    hooks: list[_Hook] = []

    def make(statuses: list[int]) -> _Hook:
        hooks.append(_Hook(statuses))
        return hooks[-1]

    yield make
    for h in hooks:
        h.close()


def test_webhook_retries_after_500_and_delivers_once(hook_factory) -> None:
    hook = hook_factory([500])
    waits: list[float] = []
    sender = WebhookSender(hook.url, retries=3, backoff_s=0.25, sleep=waits.append)
    try:
        assert sender.send(_alert("W1")) is True
    finally:
        sender.close()
    assert [a["alert_id"] for a in hook.received] == ["W1"]
    assert hook.keys == ["W1"]
    assert waits == [0.25]


def test_webhook_gives_up_after_bounded_retries(hook_factory) -> None:
    hook = hook_factory([503, 502, 500, 500, 500])
    waits: list[float] = []
    sender = WebhookSender(hook.url, retries=2, backoff_s=1.0, max_backoff_s=1.5,
                           sleep=waits.append)
    try:
        assert sender.send(_alert("W2")) is False
    finally:
        sender.close()
    assert hook.received == []
    assert hook.statuses == [500, 500]  # exactly 3 attempts made
    assert waits == [1.0, 1.5]  # doubled, capped
    assert sender.last_error == "HTTP 500"


def test_webhook_does_not_retry_client_errors(hook_factory) -> None:
    hook = hook_factory([400, 500])
    sender = WebhookSender(hook.url, retries=3, sleep=lambda s: None)
    try:
        assert sender.send(_alert("W3")) is False
    finally:
        sender.close()
    assert hook.statuses == [500]  # only one attempt
    assert sender.last_error == "HTTP 400"


def test_webhook_retries_connection_errors() -> None:
    sender = WebhookSender("http://127.0.0.1:9/unreachable", retries=1, sleep=lambda s: None,
                           timeout_s=1.0)
    try:
        assert sender.send(_alert("W4")) is False
    finally:
        sender.close()
    assert sender.last_error is not None and "Error" in sender.last_error


# --------------------------------------------------------------------------- broker


@pytest.mark.broker
def test_follow_alerts_on_real_broker(
    kafka_bootstrap: str, kafka_topic_factory, hook_factory
) -> None:
    from kafka import KafkaProducer

    topic = kafka_topic_factory()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    sent = [
        ("acct-1", orjson.dumps(_alert("A1", "high", accounts=["acct-1"]))),
        ("acct-1", orjson.dumps(_alert("A1", "high", accounts=["acct-1"]))),  # duplicate id
        ("acct-2", orjson.dumps(_alert("L1", "low", accounts=["acct-2"]))),
        ("acct-3", b"definitely not json"),
    ]
    for key, value in sent:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()

    bad: list[str] = []
    out = list(follow_alerts(kafka_bootstrap, topic, from_beginning=True,
                             alert_filter=AlertFilter("medium"), max_messages=len(sent),
                             idle_timeout_s=20, on_bad=lambda reason, rec: bad.append(reason)))
    assert [a["alert_id"] for a in out] == ["A1"]
    assert out[0]["accounts"] == ["acct-1"]
    assert len(bad) == 1

    # the CLI in its own group: JSON lines out, webhook gets the alert once after a 500
    hook = hook_factory([500])
    res = CliRunner().invoke(alerts_command, [
        "--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--from-beginning",
        "--severity", "medium", "--json", "--webhook", hook.url, "--webhook-retries", "2",
        "--max-messages", str(len(sent)), "--idle-timeout-s", "20",
    ])
    assert res.exit_code == 0, res.output
    lines = [orjson.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [a["alert_id"] for a in lines] == ["A1"]
    assert [a["alert_id"] for a in hook.received] == ["A1"]
