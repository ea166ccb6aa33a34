"""The Grafana dashboard loads and only queries metrics the worker exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "distillguard-dashboard.json"

# metric name -> labels it carries (besides target labels such as instance/job/pod)
METRICS = {
    "distillguard_events_total": set(),
    "distillguard_deadletter_total": {"reason"},
    "distillguard_alerts_total": {"campaign", "severity"},
    "distillguard_actions_total": {"action"},
    "distillguard_lag_events": {"partition"},
    "distillguard_stage_latency_seconds_bucket": {"stage", "le"},
    "distillguard_alert_latency_seconds_bucket": {"le"},
    "distillguard_table_keys": {"table"},
    "distillguard_state_held_events": {"table"},
    "distillguard_gc_pause_seconds_bucket": {"generation", "le"},
    "distillguard_gc_pause_seconds_count": {"generation"},
    "distillguard_last_batch_timestamp_seconds": {"agent"},
}
TARGET_LABELS = {"instance", "job", "pod", "namespace"}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "histogram_quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "topk", "bottomk", "label_values", "clamp_min", "clamp_max", "abs",
}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dash: dict):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])


def targets(dash: dict):
    for p in all_panels(dash):
        for t in p.get("targets", []):
            yield p, t


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (not functions, keywords, labels)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    e = re.sub(r"\{[^}]*\}", "", e)                        # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                       # range selectors
    e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", e)  # grouping label lists
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def test_metric_name_parser_finds_metrics():
    expr = 'histogram_quantile(0.9, sum by (le, stage) (rate(foo_bucket{a="x{y}"}[5m]))) / bar'
    assert metric_names(expr) == {"foo_bucket", "bar"}


def test_dashboard_identity(dashboard):
    assert dashboard["uid"] == "distillguard-overview"
    assert dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard.get("id") is None  # importable into any Grafana


def test_datasource_variable(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    ds = [v for v in variables.values() if v["type"] == "datasource"]
    assert len(ds) == 1 and ds[0]["query"] == "prometheus"
    ref = "${%s}" % ds[0]["name"]
    # every panel and target uses the variable, so the dashboard works with any Prometheus
    for p, t in targets(dashboard):
        assert p["datasource"]["uid"] == ref, p["title"]
        assert t["datasource"]["uid"] == ref, p["title"]
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]


def test_panel_ids_unique_and_layout_sane(dashboard):
    panels = list(all_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]


def test_queries_use_only_exported_metrics(dashboard):
    used = set()
    for p, t in targets(dashboard):
        names = metric_names(t["expr"])
        assert names, f"{p['title']}: no metric in {t['expr']!r}"
        unknown = names - METRICS.keys()
        assert not unknown, f"{p['title']}: unknown metrics {unknown} in {t['expr']!r}"
        used |= names
        # grouping labels and legend labels must exist on the metrics queried
        allowed = set().union(*(METRICS[n] for n in names)) | TARGET_LABELS
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", t["expr"]):
            labels = {lbl.strip() for lbl in group.split(",") if lbl.strip()}
            assert labels <= allowed, f"{p['title']}: labels {labels - allowed} not on {names}"
        for lbl in re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")):
            assert lbl in allowed, f"{p['title']}: legend label {lbl}"
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":  # label_values(<metric>, <label>)
            m = re.fullmatch(r"label_values\((\w+)\s*,\s*(\w+)\)", var["definition"])
            assert m, var["definition"]
            assert m.group(1) in METRICS and m.group(2) in METRICS[m.group(1)] | TARGET_LABELS
    # every exported metric is shown somewhere
    assert used == METRICS.keys()


def test_required_panels(dashboard):
    exprs = [t["expr"] for _, t in targets(dashboard)]

    def has(pattern):
        return any(re.search(pattern, e) for e in exprs)

    assert has(r"rate\(distillguard_events_total")
    assert has(r"by \(reason\) \(rate\(distillguard_deadletter_total")
    assert has(r"by \(partition\) \(distillguard_lag_events")
    assert has(r"by \(campaign\) \(rate\(distillguard_alerts_total")
    assert has(r"by \(action\) \(rate\(distillguard_actions_total")
    assert has(r"by \(table\) \(distillguard_table_keys")
    assert has(r"by \(table\) \(distillguard_state_held_events")
    for metric in ("distillguard_stage_latency_seconds_bucket", "distillguard_alert_latency_seconds_bucket"):
        quantiles = {
            float(m.group(1))
            for e in exprs
            for m in [re.match(r"histogram_quantile\(([0-9.]+),.*" + metric, e)]
            if m
        }
        assert {0.5, 0.95, 0.99} <= quantiles, metric
    for e in exprs:
        if "histogram_quantile" in e:
            assert re.search(r"by \(le\b", e), e  # quantiles must keep the le label
