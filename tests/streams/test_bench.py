"""``distillguard bench`` end to end with tiny sizes against the real broker (not a timed test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.broker

KEYS = ("events", "events_per_s", "baseline_events_per_s", "ratio", "faust_noop_events_per_s",
        "ratio_to_faust_noop", "latency_ms_p50", "latency_ms_p99", "rss_mb", "accounts", "workers",
        "cpu_s_per_event")


def test_bench_prints_a_table_then_one_json_line(kafka_bootstrap: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "bench", "--events", "3000", "--accounts", "300",
         "--rate", "500", "--latency-s", "3", "--bootstrap", kafka_bootstrap],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    assert "distillguard bench" in proc.stdout  # the rich table came first
    result = json.loads(lines[-1])
    missing = [k for k in KEYS if k not in result]
    assert not missing, missing
    assert result["events"] == 3000 and result["accounts"] == 300 and result["workers"] == 1
    for key in ("events_per_s", "baseline_events_per_s", "faust_noop_events_per_s", "ratio",
                "ratio_to_faust_noop", "rss_mb", "cpu_s_per_event"):
        assert result[key] > 0, (key, result[key])
    # every account of the paced run crosses the volume threshold once: alerts had a latency,
    # of which the wait before the worker took the event up is a part
    assert result["latency_alerts"] > 0 and 0 < result["latency_ms_p50"] <= result["latency_ms_p99"]
    assert 0 <= result["latency_wait_ms_p99"] <= result["latency_ms_p99"]
    # every processed event left account state to write
    assert result["state_us_per_event"] > 0 and result["latency_state_us_per_event"] > 0
    # the paced runs report what the workers and the paced producer spent per event
    assert result["latency_cpu_us_per_event"] > 0 and result["latency_load_cpu_us_per_event"] > 0
    # the rate's interval ends at the workers' last batch, not at the poll that saw it: whatever
    # it is, the workers cannot have used more CPU per second of it than the host has cores
    assert result["events_per_s"] * result["cpu_s_per_event"] <= 1.1 * (os.cpu_count() or 1)
