"""Reading recorded captures: ``.jsonl`` or ``.jsonl.gz``, one request event per line.

Lines are yielded as raw bytes, untouched, so a malformed line reaches the detector (and
its dead-letter path) exactly as it was recorded.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

__all__ = ["open_capture", "iter_lines", "peek_key_ts"]


def open_capture(path: str | Path) -> IO[bytes]:
    """Open a capture for binary reading, transparently gunzipping ``.gz`` files."""
    p = Path(path)
    with p.open("rb") as fh:
        magic = fh.read(2)
    return gzip.open(p, "rb") if magic == b"\x1f\x8b" else p.open("rb")


def iter_lines(path: str | Path) -> Iterator[bytes]:
    """Every non-empty line of the capture, without its newline."""
    with open_capture(path) as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def peek_key_ts(line: bytes) -> tuple[bytes | None, int | None]:
    """The account id (as the Kafka key) and event ts of a line, or Nones if unreadable."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    account, ts = obj.get("account_id"), obj.get("ts")
    key = account.encode() if isinstance(account, str) and account else None
    return key, ts if isinstance(ts, int) and not isinstance(ts, bool) else None
