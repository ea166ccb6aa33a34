"""Render drafts into request events and write the capture (gz JSONL, sorted by ts) and the labels CSV.

The gzip header carries no file name and mtime 0, so the same plan always yields the same bytes.
Labels never enter events; they go to a separate CSV ``account_id,label,scenario,group,attack_from_ts``.
"""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from streams.simulate.identities import Account
from streams.simulate.plan import Draft, PromptRegistry, estimate_tokens

__all__ = [
    "FAST_GZIP_LEVEL",
    "LABEL_HEADER",
    "SMALL_GZIP_LEVEL",
    "open_capture",
    "render_events",
    "write_capture",
    "write_labels",
]

#: ``attack_from_ts``: epoch ms when an account honest until then starts attacking; empty
#: for every other account (evaluate measures delays and after-alert shares from it)
LABEL_HEADER = ("account_id", "label", "scenario", "group", "attack_from_ts")
_ENDPOINT = "/v1/messages"
#: gzip level for large captures: level 1 is ~4x faster than 6 and only ~25 % larger.
FAST_GZIP_LEVEL = 1
#: gzip level for small captures (demo files), where time does not matter and size does.
SMALL_GZIP_LEVEL = 9


@contextmanager
def open_capture(path: str | Path, compresslevel: int = FAST_GZIP_LEVEL) -> Iterator[BinaryIO]:
    """Open ``path`` for writing: deterministic gzip (mtime 0, no name) when it ends in ``.gz``, else plain."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0
            ) as gz:
                yield gz  # type: ignore[misc]
        else:
            yield raw


def render_events(
    drafts: Iterable[Draft], accounts: list[Account], registry: PromptRegistry, seed: int
) -> Iterator[dict[str, Any]]:
    """Turn drafts (already sorted by ts) into request-event dicts (``request.schema.json``).

    ``input_tokens`` = prompt + system prompt + tool schemas (≈ 150 tokens per tool) + context tokens.
    """
    ids = random.Random(f"{seed}:request-ids")
    for d in drafts:
        acct = accounts[d.account]
        p = registry.render(d.source, d.seed)
        tools = d.tool_count + p.tool_count
        images = d.image_count + p.image_count
        input_tokens = (
            estimate_tokens(p.text)
            + estimate_tokens(p.system)
            + 150 * tools
            + 1100 * images
            + d.context_tokens
        )
        yield {
            "request_id": f"req_{ids.getrandbits(64):016x}",
            "ts": d.ts,
            "account_id": acct.account_id,
            "org_id": acct.org_id,
            "api_key_id": acct.api_key_id,
            "account_created_ts": acct.created_ts,
            "account_tier": acct.tier,
            "country": acct.country,
            "payment_fingerprint": acct.payment_fingerprint,
            "client_ip": d.client_ip or acct.client_ip,
            "asn": d.asn if d.asn is not None else acct.asn,
            "user_agent": acct.user_agent,
            "model": d.model,
            "endpoint": _ENDPOINT,
            "input_tokens": input_tokens,
            "output_tokens": d.output_tokens,
            "reasoning_tokens": d.reasoning_tokens,
            "tool_count": tools,
            "image_count": images,
            "status": d.status,
            "latency_ms": d.latency_ms,
            "prompt": p.text,
            "system_prompt": p.system,
        }


def write_capture(
    path: str | Path,
    events: Iterable[dict[str, Any]],
    on_event: Callable[[int], None] | None = None,
    compresslevel: int = FAST_GZIP_LEVEL,
) -> int:
    """Write events as JSON lines; returns the number written. ``on_event(n)`` is called every 10,000 events."""
    n = 0
    chunk: list[bytes] = []
    with open_capture(path, compresslevel) as fh:
        for ev in events:
            chunk.append(orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE))
            n += 1
            if n % 10_000 == 0:
                fh.write(b"".join(chunk))
                chunk.clear()
                if on_event is not None:
                    on_event(n)
        fh.write(b"".join(chunk))
    if on_event is not None:
        on_event(n)
    return n


def write_labels(path: str | Path, accounts: Iterable[Account]) -> int:
    """Write the labels CSV (sorted by account_id); returns the number of rows."""
    rows = sorted((a.account_id, a.label, a.scenario, a.group,
                   "" if a.attack_from_ts is None else a.attack_from_ts) for a in accounts)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(LABEL_HEADER)
        w.writerows(rows)
    return len(rows)
