"""Score a run of the detector against simulator ground truth.

What it does
    Reads a request capture (``.jsonl`` or ``.jsonl.gz``, streamed line by line), the
    simulator's labels CSV (``account_id,label,scenario,group[,attack_from_ts]``) and the alerts the
    detector emitted (JSON lines), and answers per true scenario: how many accounts were
    alerted, how late (event time, first request -> first alert), and how much of the
    scenario's traffic came after that first alert (what acting on it would have stopped).

Conventions (the contract tests rely on)
    * Times are event time, epoch ms; delays are reported in minutes.
    * Alerts are deduplicated by ``alert_id`` (first occurrence wins). An alert counts for
      every account in its ``accounts`` list; an account's first alert is the smallest
      ``ts`` among the alerts naming it.
    * Delay = first alert ts - first request ts of the account, floored at 0 (a cluster
      alert may name a member before that member's own first request in the capture).
      Accounts alerted but absent from the capture have no delay.
    * An account with an ``attack_from_ts`` in the labels (honest until then) is measured
      from that time: its delay starts there, and only its requests from then on count as
      its scenario's requests (an alert before the switch counts as a delay of 0).
    * "After the first alert" means ``request.ts > first_alert_ts`` (the triggering
      request itself was already served).
    * The account universe is the labels file; alerted accounts not in it are counted as
      ``unlabelled_alerted``. Unparseable lines in any input are counted, never fatal.
    * A target whose metric is undefined (e.g. no attack accounts) is reported as failed.

Example::

    distillguard evaluate --capture run.jsonl.gz --labels labels.csv \\
        --alerts alerts.jsonl --enforcement actions.jsonl --html report.html --json out.json
"""

from __future__ import annotations

import csv
import gzip
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import click
import orjson
from rich.console import Console
from rich.table import Table

__all__ = [
    "ATTACK_SCENARIOS",
    "BENIGN_SCENARIOS",
    "TARGETS",
    "UNLABELLED",
    "CaptureStats",
    "EvaluationResult",
    "ScenarioRow",
    "check_targets",
    "evaluate",
    "evaluate_command",
    "load_jsonl",
    "print_result",
    "read_attack_starts",
    "read_labels",
]

#: Scenario names from docs/CONTRACTS.md, in display order. Unknown names sort after these.
ATTACK_SCENARIOS: tuple[str, ...] = (
    "cot_elicitation",
    "rubric_grading",
    "policy_rewrite",
    "agentic_harvest",
    "coding_pivot",
    "hydra",
    "low_and_slow",
)
BENIGN_SCENARIOS: tuple[str, ...] = (
    "chat",
    "coding_agent",
    "enterprise_batch",
    "researcher_bench",
    "eval_pipeline",
    "campus_nat",
    "reseller_customer",
)

#: Project targets (README "Targets"): recall per attack scenario, benign false-positive
#: rate over accounts (overall and per scenario), median time to detect, and share of
#: attack requests that arrive after the first alert on their account.
TARGETS: dict[str, float] = {
    "attack_recall_per_scenario_min": 0.97,
    "benign_fp_rate_overall_max": 0.002,
    "benign_fp_rate_per_scenario_max": 0.01,
    "median_ttd_min_max": 15.0,
    "attack_requests_after_alert_min": 0.90,
}

UNLABELLED = "unlabelled"
_MS_PER_MIN = 60_000.0


@dataclass(slots=True)
class CaptureStats:
    """What was read from the capture. Times are epoch ms (None when nothing was read)."""

    path: str = ""
    events: int = 0
    bad_lines: int = 0
    accounts_seen: int = 0
    unlabelled_accounts_seen: int = 0
    first_ts: int | None = None
    last_ts: int | None = None


@dataclass(slots=True)
class ScenarioRow:
    """One true scenario. ``rate`` is recall for attack rows, false-positive rate for benign."""

    scenario: str
    label: str
    accounts: int
    alerted: int
    rate: float | None
    median_delay_min: float | None
    requests: int
    requests_after_alert: int
    share_after_alert: float | None
    delays_min: list[float] = field(default_factory=list)

    @property
    def rate_name(self) -> str:
        """``recall`` for attack scenarios, ``fp_rate`` for benign ones."""
        return "recall" if self.label == "attack" else "fp_rate"


@dataclass(slots=True)
class EvaluationResult:
    """Everything :func:`evaluate` measured. ``to_dict()`` is the ``--json`` document.

    ``account_scenarios`` maps each alerted account to its true scenario (``unlabelled``
    if unknown); the HTML report uses it and it is left out of ``to_dict()``.
    """

    scenarios: list[ScenarioRow]
    overall: dict[str, Any]
    campaign_confusion: dict[str, dict[str, int]]
    targets: dict[str, Any]
    capture: CaptureStats
    alerts: dict[str, int]
    enforcement: dict[str, Any] | None
    account_scenarios: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (rates as fractions in 0..1, delays in minutes)."""
        rows = []
        for row in self.scenarios:
            d = asdict(row)
            d["rate_name"] = row.rate_name
            rows.append(d)
        return {
            "scenarios": rows,
            "overall": dict(self.overall),
            "campaign_confusion": {k: dict(v) for k, v in self.campaign_confusion.items()},
            "targets": dict(self.targets),
            "capture": asdict(self.capture),
            "alerts": dict(self.alerts),
            "enforcement": self.enforcement,
        }


# --------------------------------------------------------------------------- readers


def _open_text(path: str | Path) -> IO[bytes]:
    """Open a file for binary line reading, transparently gunzipping ``*.gz``."""
    p = Path(path)
    if p.suffix == ".gz":
        return gzip.open(p, "rb")
    return p.open("rb")


def load_jsonl(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """Read JSON lines (optionally gzipped) into dicts; returns ``(records, bad_lines)``.

    Blank lines are skipped; lines that are not a JSON object are counted as bad.
    """
    records: list[dict[str, Any]] = []
    bad = 0
    with _open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
                continue
            if isinstance(obj, dict):
                records.append(obj)
            else:
                bad += 1
    return records, bad


def _iter_capture(path: str | Path, stats: CaptureStats) -> Iterator[tuple[str, int]]:
    """Yield ``(account_id, ts_ms)`` per valid event, counting bad lines in ``stats``."""
    with _open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
                account = obj["account_id"]
                ts = obj["ts"]
            except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
                stats.bad_lines += 1
                continue
            if not isinstance(account, str) or not isinstance(ts, int) or isinstance(ts, bool):
                stats.bad_lines += 1
                continue
            yield account, ts


def read_labels(path: str | Path) -> dict[str, tuple[str, str, str]]:
    """Read the labels CSV into ``{account_id: (label, scenario, group)}``.

    Raises :class:`click.BadParameter`-friendly ``ValueError`` if the header lacks a column.
    """
    labels: dict[str, tuple[str, str, str]] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"account_id", "label", "scenario"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"labels file {path}: missing column(s) {sorted(missing)}")
        for row in reader:
            account = (row.get("account_id") or "").strip()
            if not account:
                continue
            label = (row.get("label") or "").strip().lower()
            labels[account] = (label, (row.get("scenario") or "").strip(), row.get("group") or "")
    return labels


def read_attack_starts(path: str | Path) -> dict[str, int]:
    """Read the optional ``attack_from_ts`` column of the labels CSV: ``{account_id: epoch ms}``
    for the accounts honest until then (empty or absent column: none). A value that is not
    an integer is ignored, like any unparseable input."""
    starts: dict[str, int] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            account = (row.get("account_id") or "").strip()
            raw = (row.get("attack_from_ts") or "").strip()
            if account and raw.lstrip("-").isdigit():
                starts[account] = int(raw)
    return starts


def _dedup(records: Iterable[dict[str, Any]], key: str) -> tuple[list[dict[str, Any]], int]:
    """Keep the first record per ``key`` value; records without the key are kept as-is."""
    seen: set[Any] = set()
    out: list[dict[str, Any]] = []
    dups = 0
    for rec in records:
        k = rec.get(key)
        if k is not None:
            if k in seen:
                dups += 1
                continue
            seen.add(k)
        out.append(rec)
    return out, dups


# --------------------------------------------------------------------------- core


def _scenario_order(label: str, scenario: str) -> tuple[int, int, str]:
    """Sort key: attack rows first, known scenarios in CONTRACTS order, then by name."""
    known = ATTACK_SCENARIOS if label == "attack" else BENIGN_SCENARIOS
    pos = known.index(scenario) if scenario in known else len(known)
    return (0 if label == "attack" else 1, pos, scenario)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def evaluate(
    capture: str | Path,
    labels: str | Path,
    alerts: str | Path | Iterable[dict[str, Any]],
    enforcement: str | Path | Iterable[dict[str, Any]] | None = None,
) -> EvaluationResult:
    """Measure detection quality of ``alerts`` on ``capture`` against ``labels``.

    :param capture: path to the request capture (``.jsonl`` or ``.jsonl.gz``), streamed.
    :param labels: path to the labels CSV ``account_id,label,scenario,group[,attack_from_ts]``.
    :param alerts: path to alert JSON lines, or an iterable of alert dicts.
    :param enforcement: optional path or iterable of enforcement action dicts.
    :returns: an :class:`EvaluationResult`; see the module docstring for the conventions.
    """
    label_map = read_labels(labels)
    attack_from = read_attack_starts(labels)
    if isinstance(alerts, (str, Path)):
        raw_alerts, alert_bad = load_jsonl(alerts)
    else:
        raw_alerts, alert_bad = list(alerts), 0
    alert_list, alert_dups = _dedup(raw_alerts, "alert_id")

    first_alert: dict[str, int] = {}
    malformed_alerts = 0
    for alert in alert_list:
        accounts = alert.get("accounts")
        ts = alert.get("ts")
        if not isinstance(accounts, list) or not isinstance(ts, (int, float)):
            malformed_alerts += 1
            continue
        for acc in accounts:
            if isinstance(acc, str) and (acc not in first_alert or ts < first_alert[acc]):
                first_alert[acc] = int(ts)

    # One streaming pass over the capture: per account first ts, requests, requests after alert.
    stats = CaptureStats(path=str(capture))
    first_req: dict[str, int] = {}
    n_req: Counter[str] = Counter()
    n_after: Counter[str] = Counter()
    for account, ts in _iter_capture(capture, stats):
        stats.events += 1
        if stats.first_ts is None or ts < stats.first_ts:
            stats.first_ts = ts
        if stats.last_ts is None or ts > stats.last_ts:
            stats.last_ts = ts
        prev = first_req.get(account)
        if prev is None or ts < prev:
            first_req[account] = ts
        start = attack_from.get(account)
        if start is not None and ts < start:  # its honest part
            continue
        n_req[account] += 1
        fa = first_alert.get(account)
        if fa is not None and ts > fa:
            n_after[account] += 1
    stats.accounts_seen = len(first_req)
    stats.unlabelled_accounts_seen = sum(1 for a in first_req if a not in label_map)

    # Per (label, scenario) aggregation over the labelled account universe.
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account, (label, scenario, _group) in label_map.items():
        groups[(label, scenario)].append(account)

    rows: list[ScenarioRow] = []
    for (label, scenario) in sorted(groups, key=lambda k: _scenario_order(*k)):
        accounts = groups[(label, scenario)]
        alerted = [a for a in accounts if a in first_alert]
        delays = sorted(
            max(0, first_alert[a] - attack_from.get(a, first_req[a])) / _MS_PER_MIN
            for a in alerted if a in first_req
        )
        requests = sum(n_req[a] for a in accounts)
        after = sum(n_after[a] for a in accounts)
        rows.append(
            ScenarioRow(
                scenario=scenario,
                label=label,
                accounts=len(accounts),
                alerted=len(alerted),
                rate=_ratio(len(alerted), len(accounts)),
                median_delay_min=_median(delays),
                requests=requests,
                requests_after_alert=after,
                share_after_alert=_ratio(after, requests),
                delays_min=delays,
            )
        )

    attack_rows = [r for r in rows if r.label == "attack"]
    benign_rows = [r for r in rows if r.label != "attack"]
    attack_accounts = sum(r.accounts for r in attack_rows)
    attack_alerted = sum(r.alerted for r in attack_rows)
    benign_accounts = sum(r.accounts for r in benign_rows)
    benign_alerted = sum(r.alerted for r in benign_rows)
    attack_requests = sum(r.requests for r in attack_rows)
    attack_after = sum(r.requests_after_alert for r in attack_rows)
    attack_delays = [d for r in attack_rows for d in r.delays_min]
    worst = max(
        (r for r in benign_rows if r.rate is not None), key=lambda r: r.rate or 0.0, default=None
    )
    unlabelled_alerted = sorted(a for a in first_alert if a not in label_map)

    overall: dict[str, Any] = {
        "attack_accounts": attack_accounts,
        "attack_alerted": attack_alerted,
        "attack_recall": _ratio(attack_alerted, attack_accounts),
        "benign_accounts": benign_accounts,
        "benign_alerted": benign_alerted,
        "benign_fp_rate": _ratio(benign_alerted, benign_accounts),
        "worst_benign_scenario": worst.scenario if worst else None,
        "worst_benign_fp_rate": worst.rate if worst else None,
        "median_ttd_min": _median(attack_delays),
        "attack_requests": attack_requests,
        "attack_requests_after_alert": attack_after,
        "attack_requests_after_alert_share": _ratio(attack_after, attack_requests),
        "unlabelled_alerted": len(unlabelled_alerted),
        "unlabelled_alerted_sample": unlabelled_alerted[:20],
    }

    account_scenarios = {
        a: (label_map[a][1] if a in label_map else UNLABELLED) for a in first_alert
    }
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for alert in alert_list:
        accounts = alert.get("accounts")
        if not isinstance(accounts, list):
            continue
        campaign = str(alert.get("campaign", "?"))
        scenarios = {account_scenarios.get(a, UNLABELLED) for a in accounts if isinstance(a, str)}
        for scenario in scenarios:
            confusion[scenario][campaign] += 1
    label_of = {s: lab for (lab, s) in groups}
    confusion_sorted = {
        s: dict(sorted(confusion[s].items(), key=lambda kv: (-kv[1], kv[0])))
        for s in sorted(
            confusion,
            key=lambda s: (2, 0, s) if s == UNLABELLED else _scenario_order(label_of.get(s, ""), s),
        )
    }

    enforcement_summary = None if enforcement is None else _summarise_enforcement(enforcement)

    result = EvaluationResult(
        scenarios=rows,
        overall=overall,
        campaign_confusion=confusion_sorted,
        targets={},
        capture=stats,
        alerts={
            "total": len(alert_list),
            "duplicates_dropped": alert_dups,
            "bad_lines": alert_bad,
            "malformed": malformed_alerts,
            "accounts_alerted": len(first_alert),
        },
        enforcement=enforcement_summary,
        account_scenarios=account_scenarios,
    )
    result.targets = check_targets(result)
    return result


def _summarise_enforcement(source: str | Path | Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Count enforcement actions by ``action`` kind after dropping duplicate ``action_id``."""
    if isinstance(source, (str, Path)):
        raw, bad = load_jsonl(source)
    else:
        raw, bad = list(source), 0
    actions, dups = _dedup(raw, "action_id")
    by_kind = Counter(str(a.get("action", "?")) for a in actions)
    return {
        "total": len(actions),
        "by_action": dict(sorted(by_kind.items())),
        "dry_run": sum(1 for a in actions if a.get("dry_run") is True),
        "duplicates_dropped": dups,
        "bad_lines": bad,
    }


def check_targets(result: EvaluationResult) -> dict[str, Any]:
    """Compare ``result`` with :data:`TARGETS`; an undefined metric fails its target."""
    ov = result.overall
    recall_min = TARGETS["attack_recall_per_scenario_min"]
    fp_max = TARGETS["benign_fp_rate_per_scenario_max"]
    attack = {r.scenario: r.rate is not None and r.rate >= recall_min
              for r in result.scenarios if r.label == "attack"}
    benign = {r.scenario: r.rate is not None and r.rate <= fp_max
              for r in result.scenarios if r.label != "attack"}
    fp = ov["benign_fp_rate"]
    ttd = ov["median_ttd_min"]
    share = ov["attack_requests_after_alert_share"]
    checks = {
        "attack_recall_per_scenario": bool(attack) and all(attack.values()),
        "benign_fp_rate_overall": fp is not None and fp <= TARGETS["benign_fp_rate_overall_max"],
        "benign_fp_rate_per_scenario": bool(benign) and all(benign.values()),
        "median_ttd": ttd is not None and ttd <= TARGETS["median_ttd_min_max"],
        "attack_requests_after_alert": share is not None
        and share >= TARGETS["attack_requests_after_alert_min"],
    }
    return {
        **checks,
        "all_pass": all(checks.values()),
        "attack_recall_by_scenario": attack,
        "benign_fp_by_scenario": benign,
        "thresholds": dict(TARGETS),
    }


# --------------------------------------------------------------------------- console


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def _mins(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def print_result(result: EvaluationResult, console: Console | None = None) -> None:
    """Print the per-scenario table, overall lines, confusion and targets with rich."""
    console = console or Console()
    table = Table(
        title="distillguard evaluation (per true scenario)",
        caption="recall for attack rows, false-positive rate for benign rows;"
        " after alert = share of requests after the account's first alert",
        header_style="bold",
    )
    for col, justify in [
        ("scenario", "left"), ("label", "left"), ("accounts", "right"), ("alerted", "right"),
        ("recall | FP", "right"), ("TTD p50 min", "right"), ("after alert", "right"),
        ("requests", "right"),
    ]:
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in result.scenarios:
        style = "red" if r.label == "attack" else "cyan"
        rate = _pct(r.rate) if r.label == "attack" else _pct(r.rate, 2)
        table.add_row(
            r.scenario, f"[{style}]{r.label}[/]", str(r.accounts), str(r.alerted),
            rate, _mins(r.median_delay_min),
            _pct(r.share_after_alert), str(r.requests),
        )
    console.print(table)

    ov = result.overall
    al, cap = result.alerts, result.capture
    overall_lines = [
        f"attack recall: {_pct(ov['attack_recall'])}"
        f" ({ov['attack_alerted']}/{ov['attack_accounts']})",
        f"benign FP rate: {_pct(ov['benign_fp_rate'], 3)}"
        f" ({ov['benign_alerted']}/{ov['benign_accounts']} benign accounts alerted)",
        f"worst benign scenario: {ov['worst_benign_scenario'] or '–'}"
        f" {_pct(ov['worst_benign_fp_rate'], 2)}",
        f"median time to detect: {_mins(ov['median_ttd_min'])} min",
        f"attack requests after first alert: {_pct(ov['attack_requests_after_alert_share'])}",
        f"unlabelled accounts alerted: {ov['unlabelled_alerted']}",
        f"alerts: {al['total']} (duplicates dropped {al['duplicates_dropped']},"
        f" bad lines {al['bad_lines']})",
        f"capture: {cap.events} events, {cap.bad_lines} bad lines, {cap.accounts_seen} accounts",
    ]
    if result.enforcement is not None:
        kinds = ", ".join(f"{k}={v}" for k, v in result.enforcement["by_action"].items()) or "none"
        overall_lines.append(f"enforcement actions: {result.enforcement['total']} ({kinds})")
    for line in overall_lines:
        console.print(line, soft_wrap=True)
    if result.campaign_confusion:
        conf = Table(title="alert campaigns per true scenario", header_style="bold")
        conf.add_column("true scenario", no_wrap=True)
        conf.add_column("campaigns (alert count)")
        for scenario, counts in result.campaign_confusion.items():
            conf.add_row(scenario, ", ".join(f"{c}={n}" for c, n in counts.items()))
        console.print(conf)
    tg = result.targets
    console.print("targets:")
    for name in ("attack_recall_per_scenario", "benign_fp_rate_overall",
                 "benign_fp_rate_per_scenario", "median_ttd", "attack_requests_after_alert"):
        mark = "[green]PASS[/]" if tg[name] else "[red]FAIL[/]"
        console.print(f"  {name}: {mark}", soft_wrap=True)
    console.print(f"all targets: {'[green]PASS[/]' if tg['all_pass'] else '[red]FAIL[/]'}")


# --------------------------------------------------------------------------- CLI


@click.command("evaluate")
@click.option("--capture", "capture_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Request capture, .jsonl or .jsonl.gz (one event per line).")
@click.option("--labels", "labels_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labels CSV: account_id,label,scenario,group[,attack_from_ts].")
@click.option("--alerts", "alerts_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Alerts as JSON lines (deduplicated by alert_id).")
@click.option("--enforcement", "enforcement_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Optional enforcement actions as JSON lines.")
@click.option("--html", "html_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report here.")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result as JSON here ('-' for stdout).")
@click.option("--fail-on-targets", is_flag=True, default=False,
              help="Exit with status 1 if any project target is missed.")
def evaluate_command(
    capture_path: Path,
    labels_path: Path,
    alerts_path: Path,
    enforcement_path: Path | None,
    html_path: Path | None,
    json_path: Path | None,
    fail_on_targets: bool,
) -> None:
    """Score alerts against simulator labels: recall, false positives, time to detect."""
    try:
        result = evaluate(capture_path, labels_path, alerts_path, enforcement_path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console(stderr=json_path is not None and str(json_path) == "-")
    if not console.is_terminal:  # pipes and CliRunner default to 80 columns: too narrow
        console.width = max(console.width, 110)
    print_result(result, console)
    if json_path is not None:
        data = orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2)
        if str(json_path) == "-":
            sys.stdout.write(data.decode() + "\n")
        else:
            json_path.write_bytes(data + b"\n")
    if html_path is not None:
        from streams.report import write_html_report  # matplotlib only when asked for

        alert_records, _ = load_jsonl(alerts_path)
        alert_records, _ = _dedup(alert_records, "alert_id")
        write_html_report(result, result.capture, alert_records, html_path)
        click.echo(f"HTML report written to {html_path}", err=True)
    if fail_on_targets and not result.targets["all_pass"]:
        raise SystemExit(1)
