"""What alerts and views keep of prompts: short redacted excerpts in alerts, nothing in views.

Runs the bundled demo capture (attacks and benign traffic with real-looking prompts) through
the worker's runtime, as ``replay --local`` does.
"""

from __future__ import annotations

import gzip
import re
from importlib import resources

import orjson

from streams.runtime import InputRecord, Runtime, kafka_partition

PARTITIONS = 4


def _capture() -> list[bytes]:
    raw = resources.files("streams.data").joinpath("demo_capture.jsonl.gz").read_bytes()
    return [line for line in gzip.decompress(raw).splitlines() if line.strip()]


def test_alert_excerpts_are_short_and_redacted_and_views_hold_no_prompt_text() -> None:
    lines = _capture()
    runtime = Runtime()
    offsets = [0] * PARTITIONS
    prompts: dict[str, list[str]] = {}
    alerts = []
    for i in range(0, len(lines), 500):
        batch = []
        for line in lines[i:i + 500]:
            ev = orjson.loads(line)
            p = kafka_partition(ev["account_id"], PARTITIONS)
            batch.append(InputRecord("llm-requests", p, offsets[p], ev["account_id"].encode(), line, 0))
            offsets[p] += 1
            if ev.get("prompt"):
                prompts.setdefault(ev["account_id"], []).append(ev["prompt"])
        out = runtime.process_requests(batch)
        alerts += out.alerts
        runtime.flush_all()
    with_excerpt = [a for a in alerts if a.get("excerpt")]
    assert alerts and with_excerpt, "the capture should raise alerts with excerpts"
    for a in with_excerpt:
        ex = a["excerpt"]
        assert len(ex) <= 160, ex
        assert not re.search(r"[1-9]", ex), ex  # digits are masked to 0
        assert "@" not in ex and "http" not in ex.lower(), ex
        for prompt in prompts.get(a["subject"], []):
            if len(prompt) > 160:
                assert prompt not in ex  # never a whole prompt
    for account in {a["subject"] for a in alerts if a["kind"] == "account"}:
        p = kafka_partition(account, PARTITIONS)
        view = runtime.account_engine(p).account_view(account)
        assert view is not None
        text = orjson.dumps(view).decode()
        assert "excerpt" not in text
        for prompt in prompts.get(account, []):
            fragment = prompt.strip()[:40]
            if len(fragment) >= 20:
                assert fragment not in text, (account, fragment)
