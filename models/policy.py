"""Enforcement policy: alert -> at most one graduated action, with a runtime kill switch.

The rules live in YAML (``models/policy_default.yaml`` documents every key). The policy is
the only place that decides *what to do*; the engine only decides *what it saw*.

>>> p = Policy.default()
>>> alert = {"alert_id": "a" * 20, "ts": 5, "kind": "account", "subject": "acct",
...          "accounts": ["acct"], "score": 0.72, "severity": "medium", "step": 1,
...          "campaign": "reasoning_extraction"}
>>> [(a["action"], a["ttl_s"], a["dry_run"]) for a in p.decide(alert, {})]
[('throttle', 3600, False)]
>>> p.decide(alert, {"in_force": {"throttle": 10_000}})   # nothing stronger than what is in force
[]
>>> p.decide(alert, {"allowlisted": True})
[]
>>> p.set_dry_run(True); p.decide(alert, {})[0]["dry_run"]
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from models.errors import PolicyError

__all__ = ["ACTIONS", "SEVERITIES", "Policy", "action_id"]

ACTIONS = ("flag", "throttle", "challenge", "degrade", "suspend")
SEVERITIES = ("low", "medium", "high", "critical")
_EVIDENCE = frozenset({"cluster", "confirmed"})


def action_id(subject: str, action: str, alert_id: str) -> str:
    """Deterministic id: first 20 hex of sha1(subject|action|alert_id)."""
    return hashlib.sha1(f"{subject}|{action}|{alert_id}".encode()).hexdigest()[:20]  # noqa: S324 - id, not security


@dataclass(frozen=True)
class Rule:
    action: str
    ttl_s: int
    min_severity: str = "low"
    min_step: int = 1
    kinds: tuple[str, ...] = ("account", "cluster")
    require_any: tuple[str, ...] = ()


class Policy:
    """Graduated enforcement rules. See ``models/policy_default.yaml``.

    Parameters
    ----------
    rules
        :class:`Rule` list (any order; strength is the action's rank in :data:`ACTIONS`).
    severity
        Lower score bounds of ``medium``, ``high`` and ``critical``.
    dry_run
        Kill switch: actions are emitted with ``dry_run: true``. Mutable at runtime via
        :meth:`set_dry_run`.
    """

    def __init__(self, rules: list[Rule], severity: Mapping[str, float], dry_run: bool = False) -> None:
        for r in rules:
            if r.action not in ACTIONS:
                raise PolicyError(f"rules: unknown action {r.action!r} (one of {ACTIONS})")
            if r.min_severity not in SEVERITIES:
                raise PolicyError(f"rules: unknown min_severity {r.min_severity!r} (one of {SEVERITIES})")
            if r.ttl_s < 0:
                raise PolicyError(f"rules: ttl_s must be >= 0 for {r.action}")
            if not set(r.require_any) <= _EVIDENCE:
                raise PolicyError(f"rules: require_any must be among {sorted(_EVIDENCE)}, got {r.require_any}")
            if r.action == "suspend" and not r.require_any:
                raise PolicyError("rules: suspend needs require_any (cluster and/or confirmed): "
                                  "never suspend on one account's behaviour alone")
        try:
            bounds = (float(severity["medium"]), float(severity["high"]), float(severity["critical"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyError(f"severity: needs numeric medium, high, critical ({exc})") from exc
        if not 0 < bounds[0] <= bounds[1] <= bounds[2] <= 1:
            raise PolicyError(f"severity: bounds must increase within (0, 1], got {bounds}")
        self.rules = sorted(rules, key=lambda r: ACTIONS.index(r.action), reverse=True)
        self.severity_bounds = bounds
        self._dry_run = bool(dry_run)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Policy:
        if not isinstance(obj, Mapping):
            raise PolicyError("policy: top level must be a mapping")
        rules = []
        for i, r in enumerate(obj.get("rules") or []):
            try:
                rules.append(Rule(
                    action=str(r["action"]), ttl_s=int(r["ttl_s"]),
                    min_severity=str(r.get("min_severity", "low")), min_step=int(r.get("min_step", 1)),
                    kinds=tuple(r.get("kinds", ("account", "cluster"))),
                    require_any=tuple(r.get("require_any", ())),
                ))
            except (KeyError, TypeError, ValueError) as exc:
                raise PolicyError(f"rules[{i}]: {exc!r}") from exc
        return cls(rules, obj.get("severity") or {}, bool(obj.get("dry_run", False)))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Policy:
        try:
            obj = yaml.safe_load(Path(path).read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"{path}: {exc}") from exc
        return cls.from_dict(obj)

    @classmethod
    def default(cls) -> Policy:
        text = resources.files("models").joinpath("policy_default.yaml").read_text("utf-8")
        return cls.from_dict(yaml.safe_load(text))

    # -- runtime -------------------------------------------------------------------------
    @property
    def dry_run(self) -> bool:
        return self._dry_run

    def set_dry_run(self, value: bool) -> None:
        """The kill switch: True makes every later action advisory."""
        self._dry_run = bool(value)

    def severity(self, score: float) -> str:
        m, h, c = self.severity_bounds
        return "critical" if score >= c else "high" if score >= h else "medium" if score >= m else "low"

    def decide(self, alert: Mapping[str, Any], history: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """Actions for ``alert`` given the subject's ``history``.

        ``history`` keys (all optional): ``in_force`` {action: until_ts_ms}, ``confirmed``
        (analyst-confirmed attack), ``allowlisted`` (analyst-confirmed benign).
        Returns at most one action: the strongest permitted one, if it is stronger than every
        action already in force at ``alert["ts"]``.
        """
        history = history or {}
        if history.get("allowlisted"):
            return []
        ts = int(alert["ts"])
        in_force = history.get("in_force") or {}
        strongest = max((ACTIONS.index(a) for a, until in in_force.items() if until > ts and a in ACTIONS), default=-1)
        sev = SEVERITIES.index(alert["severity"])
        evidence = set()
        if alert.get("kind") == "cluster":
            evidence.add("cluster")
        if history.get("confirmed"):
            evidence.add("confirmed")
        for r in self.rules:  # strongest first
            if SEVERITIES.index(r.min_severity) > sev or alert.get("step", 1) < r.min_step:
                continue
            if alert.get("kind", "account") not in r.kinds:
                continue
            if r.require_any and not evidence.intersection(r.require_any):
                continue
            if ACTIONS.index(r.action) <= strongest:
                return []
            subject = str(alert["subject"])
            return [{
                "action_id": action_id(subject, r.action, str(alert["alert_id"])),
                "ts": ts,
                "accounts": list(alert["accounts"]),
                "action": r.action,
                "ttl_s": r.ttl_s,
                "alert_id": alert["alert_id"],
                "reason": f"{alert.get('campaign')} step {alert.get('step', 1)} "
                          f"score {float(alert['score']):.2f} ({alert['severity']})",
                "dry_run": self._dry_run,
            }]
        return []
