"""Population baselines: cheap streaming quantiles of each signal over benign-looking accounts.

Every alert reason carries the signal's value *and* a baseline: the running median (or any
quantile) of that signal over accounts of the same partition that did not look suspicious
when they were evaluated. A fixed-bin histogram per signal gives O(1) updates, bounded
memory, plain-JSON state and determinism (no sampling).

>>> b = Baselines()
>>> b.quantile("req_1h", 0.5, default=-1.0)
-1.0
>>> for v in range(101):
...     b.update({"req_1h": float(v), "dup_rate": v / 100})
>>> round(b.quantile("req_1h", 0.5)), round(b.quantile("dup_rate", 0.9), 2)
(51, 0.9)
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Baselines", "Sketch", "SIGNAL_RANGES"]

#: signal -> (low, high, log-scaled?). Shares live in [0, 1]; rates and counts are log-binned.
SIGNAL_RANGES: dict[str, tuple[float, float, bool]] = {
    "req_1h": (0.0, 10_000.0, True),
    "req_24h": (0.0, 100_000.0, True),
    "out_tok_1h": (0.0, 10_000_000.0, True),
    "ramp": (0.0, 10_000.0, True),
    "age_days": (0.0, 3_650.0, True),
    "cv_gap": (0.0, 10.0, False),
    "active_frac": (0.0, 1.0, False),
    "hour_entropy": (0.0, 4.6, False),
    "burst": (0.0, 60.0, True),
    "top_template_share": (0.0, 1.0, False),
    "template_diversity": (0.0, 1.0, False),
    "dup_rate": (0.0, 1.0, False),
    "extraction_share": (0.0, 1.0, False),
    "intent_cot": (0.0, 1.0, False),
    "intent_rubric": (0.0, 1.0, False),
    "intent_rewrite": (0.0, 1.0, False),
    "intent_agentic": (0.0, 1.0, False),
    "intent_coding": (0.0, 1.0, False),
    "intent_analysis": (0.0, 1.0, False),
    "intent_computer_use": (0.0, 1.0, False),
    "intent_vision": (0.0, 1.0, False),
    "reasoning_share": (0.0, 1.0, False),
    "long_output_share": (0.0, 1.0, False),
    "xlong_output_share": (0.0, 1.0, False),
    "mean_out": (0.0, 100_000.0, True),
    "tool_share": (0.0, 1.0, False),
    "image_share": (0.0, 1.0, False),
    "error_rate": (0.0, 1.0, False),
    "rate429": (0.0, 1.0, False),
    "new_model_share": (0.0, 1.0, False),
    "ip_blocks": (0.0, 64.0, True),
    "anomaly": (0.0, 1.0, False),
}


class Sketch:
    """Fixed-bin histogram over ``[low, high]`` (linear or log1p bins) answering quantiles.

    Parameters
    ----------
    low, high
        Range; values outside are clamped into the end bins.
    log
        Bin ``log1p(value)`` instead of ``value`` (for rates and counts).
    bins
        Number of bins; the quantile error is one bin width. Default - 64.
    """

    __slots__ = ("low", "high", "log", "bins", "counts", "total", "_a", "_w")

    def __init__(self, low: float, high: float, log: bool = False, bins: int = 64) -> None:
        if high <= low:
            raise ValueError(f"high must be > low, got {low}..{high}")
        if bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        self.low, self.high, self.log, self.bins = low, high, log, bins
        self.counts = [0] * bins
        self.total = 0
        self._a = math.log1p(low - low) if log else low
        top = math.log1p(high - low) if log else high
        self._w = (top - self._a) / bins

    def _pos(self, v: float) -> float:
        v = min(max(v, self.low), self.high)
        x = math.log1p(v - self.low) if self.log else v
        return (x - self._a) / self._w

    def update(self, v: float) -> None:
        i = int(self._pos(v))
        self.counts[i if i < self.bins else self.bins - 1] += 1
        self.total += 1

    def quantile(self, q: float) -> float:
        """Approximate ``q``-quantile (bin midpoint); ``nan`` before any update."""
        if self.total == 0:
            return math.nan
        target = q * self.total
        acc = 0
        for i, c in enumerate(self.counts):
            acc += c
            if acc >= target and c:
                x = self._a + (i + 0.5) * self._w
                return (math.expm1(x) + self.low) if self.log else x
        return self.high


class Baselines:
    """One :class:`Sketch` per signal of :data:`SIGNAL_RANGES`."""

    #: Values a signal needs before its quantiles replace the caller's default.
    min_count = 30

    def __init__(self) -> None:
        self.sketches = {k: Sketch(lo, hi, lg) for k, (lo, hi, lg) in SIGNAL_RANGES.items()}
        self._cache: dict[tuple[str, float], float] = {}
        self._n = 0

    @property
    def n(self) -> int:
        """Accounts evaluations folded in so far."""
        return self._n

    def update(self, features: dict[str, float]) -> None:
        for k, sk in self.sketches.items():
            v = features.get(k)
            if v is not None:
                sk.update(v)
        self._n += 1
        if self._n % 64 == 0:
            self._cache.clear()

    def quantile(self, signal: str, q: float = 0.5, default: float = 0.0) -> float:
        """Running ``q``-quantile of ``signal``; ``default`` when unknown or while fewer than
        :attr:`min_count` values were folded in (a baseline of three accounts is noise)."""
        key = (signal, q)
        got = self._cache.get(key)
        if got is None:
            sk = self.sketches.get(signal)
            got = sk.quantile(q) if sk is not None and sk.total >= self.min_count else math.nan
            if math.isnan(got):
                return default
            self._cache[key] = got
        return got

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "counts": {k: s.counts for k, s in self.sketches.items()}}

    def load(self, obj: dict[str, Any]) -> None:
        self._n = int(obj.get("n", 0))
        for k, counts in obj.get("counts", {}).items():
            sk = self.sketches.get(k)
            if sk is not None and len(counts) == sk.bins:
                sk.counts = list(counts)
                sk.total = sum(counts)
        self._cache.clear()
