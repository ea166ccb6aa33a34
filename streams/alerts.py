"""Follow the ``distill-alerts`` topic: filter, drop duplicates, print, forward to a webhook.

What it does
    :func:`follow_alerts` runs a kafka-python ``KafkaConsumer`` in its own consumer group
    and yields alert dicts that pass an :class:`AlertFilter`, dropping redeliveries by
    ``alert_id`` (a bounded LRU, :class:`SeenIds`). Delivery from Kafka is at least once
    and ``alert_id`` is deterministic (sha1 of subject|campaign|step), so the same id
    always means the same alert. Records that are not a JSON object with a string
    ``alert_id`` are reported through ``on_bad`` and skipped; they never stop the loop.

    :class:`WebhookSender` POSTs one alert per request with httpx and retries transport
    errors, HTTP 429 and 5xx with bounded exponential backoff. It sends
    ``Idempotency-Key: <alert_id>`` so a receiver can drop repeats too.

How to use
    ``distillguard alerts --from-beginning --severity high --webhook http://hook/…``, or in
    Python::

        for alert in follow_alerts("127.0.0.1:9092", alert_filter=AlertFilter("high")):
            ...
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click
import httpx
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = [
    "SEVERITIES",
    "AlertFilter",
    "AlertPrinter",
    "BadMessage",
    "SeenIds",
    "WebhookSender",
    "alerts_command",
    "decode_alert",
    "follow_alerts",
    "select_alerts",
]

#: Severity names from the alert contract, lowest first.
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
_RANK = {name: i for i, name in enumerate(SEVERITIES)}

BadHandler = Callable[[str, Any], None]


class BadMessage(ValueError):
    """A record on the alerts topic is not a usable alert; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to keep. Empty ``campaigns`` / ``accounts`` mean "any".

    :param min_severity: keep alerts at this severity or above (``low`` … ``critical``);
        ``None`` keeps every severity. An alert with an unknown severity is dropped when a
        minimum is set. Default - None.
    :param campaigns: keep only alerts whose ``campaign`` is one of these. Default - any.
    :param accounts: keep only alerts naming at least one of these accounts. Default - any.

    >>> f = AlertFilter("medium", campaigns=frozenset({"hydra_cluster"}))
    >>> f.matches({"severity": "high", "campaign": "hydra_cluster", "accounts": ["a"]})
    True
    >>> f.matches({"severity": "low", "campaign": "hydra_cluster", "accounts": ["a"]})
    False
    """

    min_severity: str | None = None
    campaigns: frozenset[str] = field(default_factory=frozenset)
    accounts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.min_severity is not None and self.min_severity not in _RANK:
            raise ValueError(f"min_severity must be one of {SEVERITIES}, got {self.min_severity!r}")
        object.__setattr__(self, "campaigns", frozenset(self.campaigns))
        object.__setattr__(self, "accounts", frozenset(self.accounts))

    def matches(self, alert: dict[str, Any]) -> bool:
        """True if ``alert`` passes every configured condition."""
        if self.min_severity is not None:
            rank = _RANK.get(str(alert.get("severity")))
            if rank is None or rank < _RANK[self.min_severity]:
                return False
        if self.campaigns and alert.get("campaign") not in self.campaigns:
            return False
        if self.accounts:
            accounts = alert.get("accounts")
            if not isinstance(accounts, list) or self.accounts.isdisjoint(
                a for a in accounts if isinstance(a, str)
            ):
                return False
        return True


class SeenIds:
    """Bounded LRU set of ids: remembers the ``capacity`` most recently seen.

    >>> seen = SeenIds(capacity=2)
    >>> [seen.check_and_add(x) for x in ["a", "b", "a", "c", "b", "a"]]
    [False, False, True, False, False, False]
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def check_and_add(self, item: str) -> bool:
        """Return True if ``item`` was already present (and refresh it), else add it."""
        if item in self._ids:
            self._ids.move_to_end(item)
            return True
        self._ids[item] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)


def decode_alert(value: bytes | None) -> dict[str, Any]:
    """Decode one record value into an alert dict or raise :class:`BadMessage`."""
    if value is None:
        raise BadMessage("empty value (tombstone)")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise BadMessage(f"not a JSON object: {type(obj).__name__}")
    if not isinstance(obj.get("alert_id"), str) or not obj["alert_id"]:
        raise BadMessage("missing alert_id")
    return obj


def _stderr_bad(reason: str, record: Any) -> None:
    where = f"{getattr(record, 'topic', '?')}[{getattr(record, 'partition', '?')}]" \
            f"@{getattr(record, 'offset', '?')}"
    click.echo(f"distillguard alerts: skipped bad message {where}: {reason}", err=True)


def select_alerts(
    records: Iterable[Any],
    alert_filter: AlertFilter | None = None,
    seen: SeenIds | None = None,
    on_bad: BadHandler | None = None,
) -> Iterator[dict[str, Any]]:
    """Decode, de-duplicate and filter Kafka records (anything with a ``.value`` in bytes).

    The order is: decode (bad records go to ``on_bad``; tombstones are skipped silently),
    drop an ``alert_id`` already in ``seen`` (every decoded alert is remembered, filtered
    or not), then yield it if ``alert_filter`` matches. This is the whole per-record logic
    of :func:`follow_alerts`.
    """
    alert_filter = alert_filter or AlertFilter()
    seen = seen if seen is not None else SeenIds()
    on_bad = on_bad or _stderr_bad
    for record in records:
        value = record.value
        if value is None:
            continue
        try:
            alert = decode_alert(value)
        except BadMessage as exc:
            on_bad(exc.reason, record)
            continue
        if seen.check_and_add(alert["alert_id"]):
            continue
        if alert_filter.matches(alert):
            yield alert


def follow_alerts(
    bootstrap_servers: str = "127.0.0.1:9092",
    topic: str = "distill-alerts",
    *,
    from_beginning: bool = False,
    group_id: str | None = None,
    alert_filter: AlertFilter | None = None,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
    dedup_capacity: int = 100_000,
    on_bad: BadHandler | None = None,
    poll_timeout_ms: int = 500,
    consumer_config: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield alerts from ``topic``, filtered and without duplicate ``alert_id``.

    :param bootstrap_servers: ``host:port[,host:port]``. Default - ``127.0.0.1:9092``.
    :param topic: alerts topic. Default - ``distill-alerts``.
    :param from_beginning: rewind every newly assigned partition to its earliest offset
        (once per partition). Otherwise a new group starts at the end ("from now") and a
        named group resumes from its committed offsets. Default - False.
    :param group_id: consumer group; ``None`` makes a throw-away group
        ``distillguard-alerts-<uuid>`` that commits nothing. A named group auto-commits.
    :param alert_filter: which alerts to yield. Default - all.
    :param max_messages: stop after reading this many records (bad, duplicate and
        filtered-out records included, like ``kafka-console-consumer``). Default - no limit.
    :param idle_timeout_s: stop when no record has arrived for this many seconds (wall
        clock, counted from the start and from the last record). Default - never.
    :param dedup_capacity: alert ids remembered for duplicate dropping. Default - 100 000.
    :param on_bad: ``on_bad(reason, record)`` for undecodable records. Default - a line
        on stderr with topic, partition and offset.
    :param poll_timeout_ms: longest single poll, ms. Default - 500.
    :param consumer_config: extra ``KafkaConsumer`` keyword arguments (e.g. security).
    """
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    seen = SeenIds(dedup_capacity)
    named_group = group_id is not None
    consumer = KafkaConsumer(
        bootstrap_servers=[h.strip() for h in bootstrap_servers.split(",") if h.strip()],
        group_id=group_id or f"distillguard-alerts-{uuid.uuid4()}",
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=named_group,
        value_deserializer=None,
        client_id="distillguard-alerts",
        **(consumer_config or {}),
    )

    rewound: set[Any] = set()

    class _Rewind(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Any) -> None:
            return None

        def on_partitions_assigned(self, assigned: Any) -> None:
            fresh = [tp for tp in assigned if tp not in rewound]
            if from_beginning and fresh:
                consumer.seek_to_beginning(*fresh)
            rewound.update(fresh)

    consumer.subscribe([topic], listener=_Rewind())
    consumed = 0
    last_activity = time.monotonic()
    try:
        while max_messages is None or consumed < max_messages:
            remaining = None if max_messages is None else max_messages - consumed
            batch = consumer.poll(timeout_ms=poll_timeout_ms,
                                  max_records=remaining if remaining else None)
            if not batch:
                idle_s = time.monotonic() - last_activity
                if idle_timeout_s is not None and idle_s >= idle_timeout_s:
                    return
                continue
            last_activity = time.monotonic()
            for records in batch.values():
                consumed += len(records)
                yield from select_alerts(records, alert_filter, seen, on_bad)
    finally:
        consumer.close(autocommit=named_group)


# --------------------------------------------------------------------------- webhook


class WebhookSender:
    """POST alerts as JSON to ``url``, retrying with bounded exponential backoff.

    :param url: the receiver.
    :param retries: extra attempts after the first one on transport errors, HTTP 429 and
        5xx (other 4xx are final). Default - 3.
    :param backoff_s: first wait, doubled after each failed attempt. Default - 0.5 s.
    :param max_backoff_s: cap of a single wait. Default - 10 s.
    :param timeout_s: per-request timeout. Default - 5 s.
    :param sleep: injectable sleep, seconds (tests). Default - :func:`time.sleep`.
    """

    def __init__(
        self,
        url: str,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        timeout_s: float = 5.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("backoff_s and max_backoff_s must be >= 0")
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._client = client or httpx.Client(timeout=timeout_s)
        self._sleep = sleep
        self.last_error: str | None = None

    def send(self, alert: dict[str, Any]) -> bool:
        """Deliver ``alert``; True on a 2xx answer, False once retries are exhausted."""
        body = orjson.dumps(alert)
        headers = {"content-type": "application/json",
                   "idempotency-key": str(alert.get("alert_id", ""))}
        wait = self.backoff_s
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(min(wait, self.max_backoff_s))
                wait *= 2
            try:
                resp = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            if resp.is_success:
                self.last_error = None
                return True
            self.last_error = f"HTTP {resp.status_code}"
            if resp.status_code != 429 and resp.status_code < 500:
                return False
        return False

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


# --------------------------------------------------------------------------- output


def _fmt_ts(ms: Any) -> str:
    if not isinstance(ms, (int, float)):
        return "?"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _fmt_accounts(alert: dict[str, Any], shown: int = 3) -> str:
    accounts = alert.get("accounts")
    accounts = [str(a) for a in accounts] if isinstance(accounts, list) else []
    text = ", ".join(accounts[:shown])
    return text + (f" +{len(accounts) - shown}" if len(accounts) > shown else "")


def _fmt_reasons(alert: dict[str, Any], limit: int = 3) -> str:
    parts = []
    reasons = alert.get("reasons")
    for r in (reasons if isinstance(reasons, list) else [])[:limit]:
        if isinstance(r, dict):
            v, b = r.get("value"), r.get("baseline")
            v = format(v, ".3g") if isinstance(v, (int, float)) else "?"
            b = format(b, ".3g") if isinstance(b, (int, float)) else "?"
            parts.append(f"{r.get('signal', '?')} {v} vs {b}")
    return "; ".join(parts)


_SEV_STYLE = {"low": "dim", "medium": "yellow", "high": "red", "critical": "bold white on red"}
_COLUMNS = [("time (event, UTC)", 20), ("accounts", 26), ("campaign", 22), ("score", 5),
            ("severity", 8), ("top reasons", None)]


class AlertPrinter:
    """Print alerts as aligned rich table rows (header once) or as JSON lines."""

    def __init__(self, as_json: bool = False, console: Console | None = None) -> None:
        self.as_json = as_json
        self.console = console or Console(highlight=False)
        self._header_done = False

    def _table(self, header: bool) -> Table:
        table = Table(show_header=header, header_style="bold", box=None, pad_edge=False,
                      show_edge=False)
        for name, width in _COLUMNS:
            table.add_column(name, width=width, no_wrap=width is not None, overflow="ellipsis",
                             ratio=1 if width is None else None)
        return table

    def print(self, alert: dict[str, Any]) -> None:
        """Print one alert."""
        if self.as_json:
            sys.stdout.write(orjson.dumps(alert).decode() + "\n")
            sys.stdout.flush()
            return
        table = self._table(header=not self._header_done)
        self._header_done = True
        sev = str(alert.get("severity", "?"))
        score = alert.get("score")
        table.add_row(
            _fmt_ts(alert.get("ts")), escape(_fmt_accounts(alert)),
            escape(str(alert.get("campaign", "?"))),
            f"{score:.2f}" if isinstance(score, (int, float)) else "?",
            f"[{_SEV_STYLE.get(sev, '')}]{escape(sev)}[/]" if sev in _SEV_STYLE else escape(sev),
            escape(_fmt_reasons(alert)),
        )
        self.console.print(table)


# --------------------------------------------------------------------------- CLI


def _security_config() -> dict[str, Any]:
    """kafka-python security kwargs from :mod:`streams.settings` (KAFKA_* env vars)."""
    from streams.settings import load_settings

    return dict(load_settings().kafka_python_security())


@click.command("alerts")
@click.option("--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092",
              show_default=True, help="Kafka bootstrap servers host:port[,host:port].")
@click.option("--topic", default="distill-alerts", show_default=True, help="Alerts topic.")
@click.option("--from-beginning/--from-now", default=False,
              help="Read from the earliest offset instead of only new alerts.")
@click.option("--group-id", default=None,
              help="Consumer group (commits offsets). Default: a throw-away unique group.")
@click.option("--severity", type=click.Choice(SEVERITIES), default=None,
              help="Minimum severity to show.")
@click.option("--campaign", "campaigns", multiple=True, help="Only these campaigns (repeatable).")
@click.option("--account", "accounts", multiple=True,
              help="Only alerts naming this account (repeatable).")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print JSON lines.")
@click.option("--webhook", default=None, help="POST each shown alert as JSON to this URL.")
@click.option("--webhook-retries", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Retries per alert on errors, 429 and 5xx (exponential backoff).")
@click.option("--max-messages", type=click.IntRange(1), default=None,
              help="Stop after reading this many records from the topic.")
@click.option("--idle-timeout-s", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop after this many seconds without a new record.")
def alerts_command(
    bootstrap_servers: str,
    topic: str,
    from_beginning: bool,
    group_id: str | None,
    severity: str | None,
    campaigns: tuple[str, ...],
    accounts: tuple[str, ...],
    as_json: bool,
    webhook: str | None,
    webhook_retries: int,
    max_messages: int | None,
    idle_timeout_s: float | None,
) -> None:
    """Follow distill-alerts: print (or forward to a webhook) each new alert once."""
    printer = AlertPrinter(as_json=as_json)
    sender = WebhookSender(webhook, retries=webhook_retries) if webhook else None
    alerts = follow_alerts(
        bootstrap_servers, topic, from_beginning=from_beginning, group_id=group_id,
        alert_filter=AlertFilter(severity, frozenset(campaigns), frozenset(accounts)),
        max_messages=max_messages, idle_timeout_s=idle_timeout_s,
        consumer_config=_security_config(),
    )
    from kafka.errors import KafkaError

    try:
        for alert in alerts:
            printer.print(alert)
            if sender is not None and not sender.send(alert):
                click.echo(f"distillguard alerts: webhook failed for {alert['alert_id']}:"
                           f" {sender.last_error}", err=True)
    except KafkaError as exc:  # e.g. KafkaTimeoutError "Unable to bootstrap from [...]"
        raise click.ClickException(f"Kafka at {bootstrap_servers}: {exc}") from exc
    except KeyboardInterrupt:
        pass
    finally:
        alerts.close()
        if sender is not None:
            sender.close()
