"""Output-token volume per account per tumbling event-time window, with a threshold alert.

The simplest windowed aggregate of the system, and a guard rail: whatever the other
signals say, an account that pulls more than ``threshold_tokens`` output tokens within
one window raises an ``anomalous_usage`` alert, once per account per window.
State is one integer per (account, window start); the caller persists it.

>>> vol = VolumeWindow(window_ms=600_000, threshold_tokens=1_000)
>>> vol.window_start(1_234_567)
1200000
>>> vol.crossed(900, 300)
True
>>> vol.crossed(1_100, 300)
False
>>> alert = vol.alert("acct-1", 1_200_000, 1_200, ts=1_234_567)
>>> alert["campaign"], alert["reasons"][0]["value"], alert["reasons"][0]["baseline"]
('anomalous_usage', 1200.0, 1000.0)
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["VolumeWindow", "volume_key"]


def volume_key(account_id: str, window_start_ms: int) -> str:
    """State key of one account's window."""
    return f"vol|{account_id}|{window_start_ms}"


class VolumeWindow:
    """Tumbling event-time windows of output tokens per account.

    :param window_ms: window length in ms. Default - 10 minutes.
    :param threshold_tokens: output tokens per window that raise the alert.
    """

    def __init__(self, window_ms: int = 600_000, threshold_tokens: int = 2_000_000) -> None:
        if window_ms <= 0:
            raise ValueError(f"window_ms must be > 0, got {window_ms}")
        if threshold_tokens <= 0:
            raise ValueError(f"threshold_tokens must be > 0, got {threshold_tokens}")
        self.window_ms = window_ms
        self.threshold_tokens = threshold_tokens

    def window_start(self, ts_ms: int) -> int:
        """Start (ms) of the window holding ``ts_ms``."""
        return ts_ms - ts_ms % self.window_ms

    def crossed(self, before: int, added: int) -> bool:
        """True when adding ``added`` tokens takes the window from below to at/over threshold."""
        return before < self.threshold_tokens <= before + added

    def alert(self, account_id: str, window_start_ms: int, tokens: int, *, ts: int) -> dict[str, Any]:
        """The alert for an account whose window crossed the threshold (id stable per window)."""
        subject_step = f"{account_id}|anomalous_usage|vol{window_start_ms}"
        ratio = tokens / self.threshold_tokens
        return {
            "alert_id": hashlib.sha1(subject_step.encode()).hexdigest()[:20],
            "ts": ts,
            "detected_at": 0,
            "kind": "account",
            "subject": account_id,
            "accounts": [account_id],
            "score": round(min(1.0, 0.5 + 0.25 * ratio), 4),
            "severity": "high" if ratio >= 2 else "medium",
            "step": 1,
            "campaign": "anomalous_usage",
            "reasons": [{
                "signal": f"output_tokens_{self.window_ms // 60_000}m",
                "value": float(tokens),
                "baseline": float(self.threshold_tokens),
                "detail": f"window starting {window_start_ms} ms",
            }],
            "excerpt": None,
        }
