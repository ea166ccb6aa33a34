"""``make demo-local``: what a user sees on a fresh clone, without a broker.

Runs the same module the Makefile target runs (``python -m streams.demo --mode local``) on a
smaller simulated capture and checks what the user reads: the live alert table, the
evaluation table, and the HTML report it says it wrote.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson

from models.event import load_schema

ROOT = Path(__file__).resolve().parents[2]


def test_demo_local_prints_alerts_evaluation_and_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "streams.demo", "--mode", "local", "--out", str(out),
         "--hours", "2", "--scale", "0.12", "--seed", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout

    # The live alert table: a header once, then rows naming accounts and campaigns.
    assert re.search(r"time \(event, UTC\)\s+accounts\s+campaign\s+score\s+severity\s+top reasons", text)
    alerts = [orjson.loads(line) for line in (out / "alerts.jsonl").read_bytes().splitlines()]
    assert alerts, "the demo capture holds attacks: some alert must be raised"
    schema = load_schema("alert")
    for alert in alerts:
        jsonschema.validate(alert, schema)
    shown = sum(1 for a in alerts if a["accounts"][0] in text)
    assert shown >= min(len(alerts), 5), "alerts are shown live, not only written to a file"

    # The evaluation table against the simulator's labels.
    labels = {row["account_id"]: row for row in csv.DictReader((out / "labels.csv").open())}
    attack = {a for a, row in labels.items() if row["label"] == "attack"}
    alerted = {acct for a in alerts for acct in a["accounts"]}
    assert alerted & attack, "at least one attack account is alerted"
    recall = re.search(r"attack recall: ([\d.]+)% \((\d+)/(\d+)\)", text)
    assert recall, text[-2000:]
    assert int(recall.group(3)) == len(attack)
    assert int(recall.group(2)) == len(alerted & attack)
    fp = re.search(r"benign FP rate: ([\d.]+)% \((\d+)/(\d+) benign accounts alerted\)", text)
    assert fp and int(fp.group(2)) == len(alerted - attack - {a for a in alerted if a not in labels})

    # The HTML report: where the demo says it is, with the per-scenario table and charts.
    where = re.search(r"HTML report:\s*(\S+report\.html)", text)
    assert where, text[-2000:]
    report = Path(where.group(1))
    assert report.exists() and report.parent == out.resolve()
    html = report.read_text()
    for scenario in {row["scenario"] for row in labels.values()}:
        assert scenario in html
    assert html.count("<img") >= 2 and "data:image/png;base64," in html
    assert re.search(r"demo finished in \d+ s", text)
