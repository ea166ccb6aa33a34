"""Structured (JSON lines) logging for workers, selected with ``DISTILLGUARD_LOG_FORMAT=json``.

One JSON object per record on stderr: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg``,
``pid``, and ``exc`` when an exception is attached - what log shippers (Fluent Bit, Vector,
Loki) parse without a custom grammar. Faust's own log lines go through the same handler.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["JsonFormatter", "logging_config"]


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line.

    >>> rec = logging.LogRecord("distillguard", logging.INFO, __file__, 1, "lag %d", (3,), None)
    >>> sorted(orjson.loads(JsonFormatter().format(rec)))
    ['level', 'logger', 'msg', 'pid', 'ts']
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage().strip(),
            "pid": os.getpid(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def logging_config(fmt: str, level: str) -> dict[str, Any] | None:
    """A ``logging.config.dictConfig`` for Faust's worker, or None to keep Faust's default."""
    if fmt != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json",
                                 "level": level.upper(), "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
