"""Benchmark of the per-request text signals on the public prompt corpus (not a test).

Prints µs per call of skeleton, template_id, simhash64, intent_scores and text_signals over
all corpus kinds mixed (prompts capped at ``--max-chars``), then, per kind, the share of
prompts where each intent scores >= 0.6 (``--rates``).

    .venv/bin/python bench/bench_text.py [--corpus DIR] [--max-chars 2000] [--rates]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import statistics
import time

import orjson

from models.fingerprint import simhash64, skeleton, template_id
from models.intents import INTENTS, intent_scores
from models.text import text_signals


def load(corpus: str, max_chars: int) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(os.path.join(corpus, "*.jsonl"))):
        with open(path, "rb") as fh:
            for line in fh:
                r = orjson.loads(line)
                if max_chars:
                    r["text"] = r["text"][:max_chars]
                rows.append(r)
    return rows


def bench(name: str, fn, args: list[tuple], repeat: int = 3) -> None:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for a in args:
            fn(*a)
        best.append((time.perf_counter() - t0) / len(args) * 1e6)
    print(f"{name:>14}: {min(best):7.2f} µs/call (median of runs {statistics.median(best):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default="/work/shared/corpus")
    ap.add_argument("--max-chars", type=int, default=2000)
    ap.add_argument("--rates", action="store_true", help="print per-kind intent rates")
    ap.add_argument("--threshold", type=float, default=0.6)
    ns = ap.parse_args()

    rows = load(ns.corpus, ns.max_chars)
    random.Random(0).shuffle(rows)
    texts = [(r["text"],) for r in rows]
    full = [
        (r["text"], r.get("system"), len(r.get("tool_names") or ()), 0) for r in rows
    ]
    print(f"{len(rows)} prompts, mean {statistics.mean(len(t[0]) for t in texts):.0f} chars "
          f"(capped at {ns.max_chars})")
    bench("skeleton", skeleton, texts)
    bench("template_id", template_id, texts)
    bench("simhash64", simhash64, texts)
    bench("intent_scores", intent_scores, full)
    bench("text_signals", text_signals, full)

    if ns.rates:
        kinds = sorted({r["kind"] for r in rows})
        print(f"\nshare of prompts with intent >= {ns.threshold} (rows: kind, n, then intents)")
        print(f"{'kind':>12} {'n':>5} " + " ".join(f"{i[:8]:>8}" for i in INTENTS))
        for k in kinds:
            sub = [a for r, a in zip(rows, full) if r["kind"] == k]
            hits = [0] * len(INTENTS)
            for a in sub:
                for i, s in enumerate(intent_scores(*a)):
                    hits[i] += s >= ns.threshold
            print(f"{k:>12} {len(sub):>5} " + " ".join(f"{h / len(sub):8.1%}" for h in hits))


if __name__ == "__main__":
    main()
