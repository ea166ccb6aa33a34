"""The hold-out generator (``bench/holdout/generate.py``) writes what the contract says: events
the decoder accepts, sorted by time, labels with the contract's header, the same bytes for a
seed. (Its detection figures are in the README; they are measured, not asserted.)"""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from pathlib import Path

from models.event import decode_event

GENERATOR = Path(__file__).resolve().parents[2] / "bench" / "holdout" / "generate.py"


def generate(tmp: Path, name: str, seed: int) -> tuple[Path, Path]:
    cap, labels = tmp / f"{name}.jsonl.gz", tmp / f"{name}.csv"
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(cap), "--labels", str(labels),
                    "--seed", str(seed), "--hours", "0.5", "--scale", "0.2", "--quiet"],
                   check=True, timeout=120)
    return cap, labels


def test_holdout_capture_follows_the_contract(tmp_path: Path) -> None:
    cap, labels = generate(tmp_path, "a", seed=4)
    events = [decode_event(line) for line in gzip.open(cap)]
    assert len(events) > 500
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    with open(labels, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["account_id", "label", "scenario", "group", "attack_from_ts"]
        rows = list(reader)
    assert {r["label"] for r in rows} == {"attack", "benign"}
    assert {r["account_id"] for r in rows} == {e.account_id for e in events}
    assert all(r["scenario"].startswith("ho_") for r in rows)


def test_holdout_generator_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a, la = generate(tmp_path, "a", seed=4)
    b, lb = generate(tmp_path, "b", seed=4)
    c, _ = generate(tmp_path, "c", seed=5)
    assert gzip.open(a).read() == gzip.open(b).read() and la.read_bytes() == lb.read_bytes()
    assert gzip.open(a).read() != gzip.open(c).read()
