"""Self-contained HTML report for an :class:`~streams.evaluate.EvaluationResult`.

Contract
    * One file, no external resources: inline CSS, plots as inline base64 PNG data URIs
      rendered by matplotlib's Agg canvas (no pyplot, no display, thread-safe).
    * Never contains prompt text: only capture statistics, alert metadata and reasons are
      shown; an alert's ``excerpt`` is deliberately left out and reason details are
      escaped and truncated.
    * Times shown are event time (UTC); time to detect is in minutes.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from streams.evaluate import UNLABELLED, CaptureStats, EvaluationResult

__all__ = ["render_html_report", "write_html_report"]

_ATTACK_COLOUR = "#c0392b"
_BENIGN_COLOUR = "#2471a3"
_OTHER_COLOUR = "#7f8c8d"
_TOP_ALERTS = 20
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}

_CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0;background:#f4f6f8;color:#1f2d3d;line-height:1.45}
header{background:#1f2d3d;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c8d3de;font-size:13px}
main{max-width:1150px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);
 padding:14px 20px;margin:18px 0}
h2{font-size:17px;margin:4px 0 12px;color:#1f2d3d;border-bottom:2px solid #e5e9ee;
 padding-bottom:6px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:6px 9px;border-bottom:1px solid #e5e9ee;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:hover td{background:#fafbfc}
.attack{color:#c0392b;font-weight:600} .benign{color:#2471a3;font-weight:600}
.pass{background:#e8f6ec;color:#1e7d3a;font-weight:700;padding:2px 8px;border-radius:10px}
.fail{background:#fdecea;color:#b3261e;font-weight:700;padding:2px 8px;border-radius:10px}
.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{flex:1 1 160px;background:#f7f9fb;border:1px solid #e5e9ee;border-radius:6px;padding:10px 12px}
.kpi .v{font-size:22px;font-weight:700} .kpi .l{font-size:12px;color:#5d6d7e}
.sev-low{color:#5d6d7e}.sev-medium{color:#b9770e}.sev-high{color:#c0392b}
.sev-critical{color:#fff;background:#922b21;padding:1px 6px;border-radius:4px}
img{max-width:100%;height:auto} .muted{color:#5d6d7e;font-size:12px}
code{font-family:SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
"""


# --------------------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "–" if x is None else format(x, fmt)


def _ts(ms: int | float | None) -> str:
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _badge(ok: bool) -> str:
    return '<span class="pass">PASS</span>' if ok else '<span class="fail">FAIL</span>'


def _png(fig: Figure) -> str:
    """Render ``fig`` with the Agg canvas and return an ``<img>`` with a base64 data URI."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _no_data(text: str) -> str:
    return f'<p class="muted">{_e(text)}</p>'


def _jitter(n: int, width: float = 0.28) -> list[float]:
    """Deterministic spread in [-width, width] for a strip plot of ``n`` points."""
    if n <= 1:
        return [0.0] * n
    return [-width + 2 * width * i / (n - 1) for i in range(n)]


def _strip_box(
    groups: Sequence[tuple[str, list[float], str]], xlabel: str, title: str
) -> Figure:
    """Horizontal box + strip plot, one row per ``(name, values, colour)``."""
    fig = Figure(figsize=(9, 0.55 * len(groups) + 1.4))
    ax = fig.add_subplot()
    names = [g[0] for g in groups]
    data = [g[1] for g in groups]
    ax.boxplot(data, orientation="horizontal", widths=0.6, showfliers=False,
               medianprops={"color": "#1f2d3d", "linewidth": 2})
    for i, (_name, values, colour) in enumerate(groups, start=1):
        ys = [i + j for j in _jitter(len(values))]
        ax.scatter(values, ys, s=14, alpha=0.65, color=colour, zorder=3)
    ax.set_yticks(range(1, len(names) + 1), names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _label_colour(label: str) -> str:
    return _ATTACK_COLOUR if label == "attack" else _BENIGN_COLOUR if label else _OTHER_COLOUR


# --------------------------------------------------------------------------- plots


def _plot_ttd(result: EvaluationResult) -> str:
    groups = [
        (f"{r.scenario} ({r.label})", r.delays_min, _label_colour(r.label))
        for r in result.scenarios
        if r.delays_min
    ]
    if not groups:
        return _no_data("No alerted account with a first request in the capture.")
    return _png(_strip_box(groups, "minutes from first request to first alert (event time)",
                           "Time to detect per scenario"))


def _plot_scores(result: EvaluationResult, alerts: Sequence[dict[str, Any]]) -> str:
    by_scenario: dict[str, list[float]] = defaultdict(list)
    for alert in alerts:
        score = alert.get("score")
        accounts = alert.get("accounts")
        if not isinstance(score, (int, float)) or not isinstance(accounts, list):
            continue
        for scenario in {result.account_scenarios.get(a, UNLABELLED) for a in accounts}:
            by_scenario[scenario].append(float(score))
    if not by_scenario:
        return _no_data("No alerts with scores.")
    label_of = {r.scenario: r.label for r in result.scenarios}
    order = [r.scenario for r in result.scenarios if r.scenario in by_scenario]
    order += sorted(s for s in by_scenario if s not in order)
    groups = [(s, by_scenario[s], _label_colour(label_of.get(s, ""))) for s in order]
    fig = _strip_box(groups, "alert score (0..1)",
                     "Alert scores by true scenario of the account(s)")
    fig.axes[0].set_xlim(-0.02, 1.02)
    return _png(fig)


def _plot_timeline(alerts: Sequence[dict[str, Any]], capture: CaptureStats) -> str:
    points = [(a["ts"], str(a.get("campaign", "?"))) for a in alerts
              if isinstance(a.get("ts"), (int, float))]
    if not points:
        return _no_data("No alerts.")
    start = capture.first_ts if capture.first_ts is not None else min(p[0] for p in points)
    end = capture.last_ts if capture.last_ts is not None else max(p[0] for p in points)
    start = min(start, min(p[0] for p in points))
    end = max(end, max(p[0] for p in points), start + 1)
    span_h = (end - start) / 3_600_000
    bins = 48
    width_h = span_h / bins
    campaigns = sorted({c for _, c in points})
    counts = {c: [0] * bins for c in campaigns}
    for ts, campaign in points:
        idx = min(bins - 1, int((ts - start) / 3_600_000 / width_h))
        counts[campaign][idx] += 1
    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    xs = [i * width_h for i in range(bins)]
    bottom = [0] * bins
    palette = [f"C{i}" for i in range(10)]
    for i, campaign in enumerate(campaigns):
        ax.bar(xs, counts[campaign], width=width_h, bottom=bottom, align="edge",
               color=palette[i % 10], label=campaign, edgecolor="white", linewidth=0.3)
        bottom = [b + c for b, c in zip(bottom, counts[campaign], strict=True)]
    ax.set_xlabel(f"hours since {_ts(start)} (event time)")
    ax.set_ylabel("alerts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Alerts over event time, stacked by campaign", fontsize=11)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


# --------------------------------------------------------------------------- tables


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kpis(result: EvaluationResult) -> str:
    ov = result.overall
    items = [
        (_pct(ov["attack_recall"]),
         f"attack recall ({ov['attack_alerted']}/{ov['attack_accounts']})"),
        (_pct(ov["benign_fp_rate"], 3),
         f"benign FP rate ({ov['benign_alerted']}/{ov['benign_accounts']})"),
        (_pct(ov["worst_benign_fp_rate"], 2),
         f"worst benign: {ov['worst_benign_scenario'] or '–'}"),
        (_num(ov["median_ttd_min"]) + " min", "median time to detect"),
        (_pct(ov["attack_requests_after_alert_share"]), "attack requests after first alert"),
        (str(result.alerts["total"]), "alerts (deduplicated)"),
        (str(ov["unlabelled_alerted"]), "unlabelled accounts alerted"),
    ]
    return '<div class="kpis">' + "".join(
        f'<div class="kpi"><div class="v">{_e(v)}</div><div class="l">{_e(label)}</div></div>'
        for v, label in items
    ) + "</div>"


def _scenario_table(result: EvaluationResult) -> str:
    rows = []
    for r in result.scenarios:
        rate = _pct(r.rate) if r.label == "attack" else _pct(r.rate, 2)
        rows.append([
            _e(r.scenario), f'<span class="{_e(r.label)}">{_e(r.label)}</span>',
            str(r.accounts), str(r.alerted),
            f"{'recall' if r.label == 'attack' else 'FP'} {rate}",
            _num(r.median_delay_min), _pct(r.share_after_alert), str(r.requests),
        ])
    return _table(["scenario", "label", "accounts", "alerted", "recall / FP rate",
                   "median TTD (min)", "requests after first alert", "requests"],
                  rows, {2, 3, 4, 5, 6, 7})


def _targets_table(result: EvaluationResult) -> str:
    tg, th, ov = result.targets, result.targets["thresholds"], result.overall
    failing_attack = [s for s, ok in tg["attack_recall_by_scenario"].items() if not ok]
    failing_benign = [s for s, ok in tg["benign_fp_by_scenario"].items() if not ok]
    rows = [
        ("attack recall per scenario", f"≥ {_pct(th['attack_recall_per_scenario_min'], 0)}",
         "failing: " + (", ".join(failing_attack) or "none"), tg["attack_recall_per_scenario"]),
        ("benign FP rate overall", f"≤ {_pct(th['benign_fp_rate_overall_max'], 1)}",
         _pct(ov["benign_fp_rate"], 3), tg["benign_fp_rate_overall"]),
        ("benign FP rate per scenario", f"≤ {_pct(th['benign_fp_rate_per_scenario_max'], 0)}",
         "failing: " + (", ".join(failing_benign) or "none"), tg["benign_fp_rate_per_scenario"]),
        ("median time to detect", f"≤ {th['median_ttd_min_max']:.0f} min",
         _num(ov["median_ttd_min"]) + " min", tg["median_ttd"]),
        ("attack requests after first alert",
         f"≥ {_pct(th['attack_requests_after_alert_min'], 0)}",
         _pct(ov["attack_requests_after_alert_share"]), tg["attack_requests_after_alert"]),
    ]
    table = _table(["target", "threshold", "measured", "result"],
                   [[_e(a), _e(b), _e(c), _badge(ok)] for a, b, c, ok in rows], set())
    return table + f"<p>All targets: {_badge(tg['all_pass'])}</p>"


def _confusion_table(result: EvaluationResult) -> str:
    if not result.campaign_confusion:
        return _no_data("No alerts.")
    campaigns = sorted({c for counts in result.campaign_confusion.values() for c in counts})
    rows = [[_e(s)] + [str(counts.get(c, 0)) if counts.get(c) else "" for c in campaigns]
            for s, counts in result.campaign_confusion.items()]
    return _table(["true scenario", *campaigns], rows, set(range(1, len(campaigns) + 1)))


def _reasons(alert: dict[str, Any], limit: int = 3) -> str:
    out = []
    reasons = alert.get("reasons")
    for reason in (reasons if isinstance(reasons, list) else [])[:limit]:
        if not isinstance(reason, dict):
            continue
        value, base = reason.get("value"), reason.get("baseline")
        v = format(value, ".3g") if isinstance(value, (int, float)) else "?"
        b = format(base, ".3g") if isinstance(base, (int, float)) else "?"
        detail = str(reason.get("detail") or "")[:60]
        extra = f" <span class=\"muted\">{_e(detail)}</span>" if detail else ""
        out.append(f"<code>{_e(reason.get('signal', '?'))}</code> {_e(v)} vs {_e(b)}{extra}")
    return "<br>".join(out) or "–"


def _accounts(alert: dict[str, Any], shown: int = 3) -> str:
    accounts = alert.get("accounts")
    accounts = [str(a) for a in accounts] if isinstance(accounts, list) else []
    text = ", ".join(a if len(a) <= 24 else a[:23] + "…" for a in accounts[:shown])
    if len(accounts) > shown:
        text += f" +{len(accounts) - shown} more"
    return _e(text or "–")


def _top_alerts_table(alerts: Sequence[dict[str, Any]]) -> str:
    def key(a: dict[str, Any]) -> tuple[float, int, float]:
        score = a.get("score")
        ts = a.get("ts")
        return (-(score if isinstance(score, (int, float)) else 0.0),
                -_SEVERITY_RANK.get(str(a.get("severity")), -1),
                ts if isinstance(ts, (int, float)) else 0)

    top = sorted(alerts, key=key)[:_TOP_ALERTS]
    if not top:
        return _no_data("No alerts.")
    rows = []
    for a in top:
        sev = str(a.get("severity", "?"))
        score = a.get("score")
        rows.append([
            _e(_ts(a.get("ts") if isinstance(a.get("ts"), (int, float)) else None)),
            _accounts(a), _e(a.get("campaign", "?")),
            _e(format(score, ".3f") if isinstance(score, (int, float)) else "?"),
            f'<span class="sev-{_e(sev)}">{_e(sev)}</span>', _reasons(a),
        ])
    return _table(["time (event, UTC)", "accounts", "campaign", "score", "severity",
                   "top reasons (value vs baseline)"], rows, {3})


def _enforcement(result: EvaluationResult) -> str:
    enf = result.enforcement
    if enf is None:
        return ""
    rows = [[_e(k), str(v)] for k, v in enf["by_action"].items()]
    body = _table(["action", "count"], rows, {1}) if rows else _no_data("No actions.")
    return (f"<section><h2>Enforcement actions</h2>{body}<p class=\"muted\">total {enf['total']},"
            f" dry-run {enf['dry_run']}, duplicates dropped {enf['duplicates_dropped']}</p>"
            "</section>")


# --------------------------------------------------------------------------- entry points


def render_html_report(
    result: EvaluationResult,
    capture_stats: CaptureStats | None,
    alerts: Sequence[dict[str, Any]],
) -> str:
    """Return the report as one HTML string (see module docstring for the contract).

    :param result: output of :func:`streams.evaluate.evaluate`.
    :param capture_stats: capture statistics; ``None`` uses ``result.capture``.
    :param alerts: the alert dicts, for score, timeline and top-alert views; duplicates by
        ``alert_id`` are dropped here.
    """
    cap = capture_stats or result.capture
    al = result.alerts
    unique: dict[Any, dict[str, Any]] = {}
    for i, alert in enumerate(alerts):  # at-least-once input: keep the first per alert_id
        unique.setdefault(alert.get("alert_id", ("no-id", i)), alert)
    alerts = list(unique.values())
    sub = (f"capture {_e(Path(cap.path).name or '–')}: {cap.events} events, {cap.accounts_seen}"
           f" accounts, {cap.bad_lines} bad lines,"
           f" {_e(_ts(cap.first_ts))} → {_e(_ts(cap.last_ts))}"
           f" · alerts {al['total']} (duplicates dropped {al['duplicates_dropped']})")
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>distillguard evaluation</title><style>{_CSS}</style></head><body>",
        f"<header><h1>distillguard evaluation report</h1><p>{sub}</p></header><main>",
        f"<section><h2>Summary</h2>{_kpis(result)}</section>",
        f"<section><h2>Targets</h2>{_targets_table(result)}</section>",
        f"<section><h2>Per scenario</h2>{_scenario_table(result)}"
        "<p class=\"muted\">Recall for attack scenarios, false-positive rate (accounts) for benign"
        " ones. Time to detect = event time from an account's first request to its first alert."
        "</p></section>",
        f"<section><h2>Time to detect</h2>{_plot_ttd(result)}</section>",
        f"<section><h2>Alert scores</h2>{_plot_scores(result, alerts)}</section>",
        f"<section><h2>Alerts over time</h2>{_plot_timeline(alerts, cap)}</section>",
        f"<section><h2>Campaign per true scenario</h2>{_confusion_table(result)}</section>",
        _enforcement(result),
        f"<section><h2>Top {_TOP_ALERTS} alerts</h2>{_top_alerts_table(alerts)}</section>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_html_report(
    result: EvaluationResult,
    capture_stats: CaptureStats | None,
    alerts: Sequence[dict[str, Any]],
    path: str | Path,
) -> Path:
    """Write :func:`render_html_report` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(render_html_report(result, capture_stats, alerts), encoding="utf-8")
    return out
