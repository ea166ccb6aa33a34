"""Benchmark (and score) the detection engine over a capture.

Usage::

    python bench/bench_engine.py                      # simulate 12 h, scale 1, seed 1 into a temp dir
    python bench/bench_engine.py --seed 2 --scale 0.5 --hours 12
    python bench/bench_engine.py --capture run.jsonl.gz --labels labels.csv --partitions 4

Prints events, alerts, actions, link updates, mean µs/event inside the engine (decode
excluded) and end to end (decode included), and - when labels are available - the
evaluation (``streams.evaluate`` if present, else a small built-in scorer).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.backtest import iter_lines  # noqa: E402
from models.engine import Engine  # noqa: E402
from models.errors import InvalidEvent  # noqa: E402
from models.event import decode_event  # noqa: E402


def _mini_eval(capture: Path, labels: Path, alerts: list[dict]) -> dict:
    lab = {}
    with open(labels, newline="") as fh:
        for row in csv.DictReader(fh):
            lab[row["account_id"]] = (row["label"], row["scenario"])
    first_alert: dict[str, int] = {}
    for a in alerts:
        for acc in a["accounts"]:
            if acc not in first_alert or a["ts"] < first_alert[acc]:
                first_alert[acc] = a["ts"]
    first_req: dict[str, int] = {}
    after = total = 0
    for raw in iter_lines(capture):
        try:
            ev = decode_event(raw)
        except InvalidEvent:
            continue
        first_req.setdefault(ev.account_id, ev.ts)
        if lab.get(ev.account_id, ("",))[0] == "attack":
            total += 1
            fa = first_alert.get(ev.account_id)
            after += fa is not None and ev.ts > fa
    per: dict[str, list[int]] = {}
    delays = []
    for acc, (label, scen) in lab.items():
        hit = acc in first_alert
        per.setdefault(f"{label}:{scen}", [0, 0])
        per[f"{label}:{scen}"][0] += hit
        per[f"{label}:{scen}"][1] += 1
        if hit and label == "attack" and acc in first_req:
            delays.append(max(0, first_alert[acc] - first_req[acc]) / 60_000)
    return {
        "per_scenario": {k: f"{v[0]}/{v[1]}" for k, v in sorted(per.items())},
        "median_ttd_min": statistics.median(delays) if delays else None,
        "attack_requests_after_alert": after / total if total else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture", type=Path)
    ap.add_argument("--labels", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=int, default=12)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--alerts-out", type=Path)
    ap.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    args = ap.parse_args()
    capture, labels = args.capture, args.labels
    if capture is None:
        try:
            from streams.simulate import simulate
        except ImportError:
            ap.error("--capture is required (streams.simulate is not available)")
        tmp = Path(tempfile.mkdtemp(prefix="dg-bench-"))
        capture, labels = tmp / "capture.jsonl.gz", tmp / "labels.csv"
        t0 = time.perf_counter()
        simulate(str(capture), str(labels), seed=args.seed, hours=args.hours, scale=args.scale)
        print(f"simulated seed={args.seed} hours={args.hours} scale={args.scale} in {time.perf_counter() - t0:.0f}s -> {capture}")

    raws = list(iter_lines(capture))
    t0 = time.perf_counter()
    events = []
    bad = 0
    for raw in raws:
        try:
            events.append(decode_event(raw))
        except InvalidEvent:
            bad += 1
    decode_s = time.perf_counter() - t0
    eng = Engine(partitions=args.partitions)
    alerts, actions = [], []
    links = 0
    perf = time.perf_counter
    t0 = perf()
    for ev in events:
        res = eng.process(ev)
        if res.alerts:
            alerts.extend(res.alerts)
        if res.actions:
            actions.extend(res.actions)
        links += len(res.links)
    engine_s = perf() - t0
    n = len(events)
    print(f"events={n} bad_lines={bad} alerts={len(alerts)} actions={len(actions)} link_updates={links}")
    print(f"engine only: {1e6 * engine_s / n:.1f} us/event   decode+engine: {1e6 * (engine_s + decode_s) / n:.1f} us/event")
    evals = sum(a.stats["evaluations"] for a in eng.accounts)
    print(f"account evaluations={evals} ({evals / n:.3f}/event)")
    if args.alerts_out:
        with open(args.alerts_out, "w") as fh:
            for a in alerts:
                fh.write(json.dumps(a) + "\n")
    if labels is None:
        return
    try:
        from streams.evaluate import check_targets, evaluate
    except ImportError:
        print(json.dumps(_mini_eval(capture, labels, alerts), indent=1))
        return
    result = evaluate(capture, labels, alerts, actions)
    d = result.to_dict()
    targets = check_targets(result)
    if args.json:
        print(json.dumps({"result": d, "targets": targets}, indent=1, default=str))
    else:
        for row in d.get("scenarios", []):
            print({k: row[k] for k in row if k in ("scenario", "label", "accounts", "alerted", "rate", "median_ttd_min", "share_after_alert")})
        print({k: v for k, v in d.items() if k not in ("scenarios", "capture", "enforcement")})
        print("targets:", json.dumps(targets, default=str))


if __name__ == "__main__":
    main()
