"""Plan a labelled capture (benign populations + attack campaigns), render it, write it.

Deterministic: the same arguments and corpus give byte-identical files. Each population draws from
its own RNG seeded by ``(seed, population)``, so restricting ``scenario`` leaves the benign
background unchanged. Times are epoch ms; the capture covers ``[start_ms, start_ms + hours)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.simulate.attacks import ATTACK_BUILDERS
from streams.simulate.benign import BENIGN_BUILDERS
from streams.simulate.corpus import load_corpus
from streams.simulate.identities import HOUR_MS, Account, IpSpace
from streams.simulate.plan import Draft, PromptRegistry, SimContext
from streams.simulate.writer import (
    FAST_GZIP_LEVEL,
    SMALL_GZIP_LEVEL,
    render_events,
    write_capture,
    write_labels,
)

__all__ = [
    "ATTACK_SCENARIOS",
    "BENIGN_SCENARIOS",
    "DEFAULT_START_MS",
    "SCENARIO_CHOICES",
    "SimulationPlan",
    "SimulationSummary",
    "iter_events",
    "plan_simulation",
    "simulate",
]

#: 2026-01-01T00:00:00Z, the default capture start (no wall clock anywhere).
DEFAULT_START_MS = 1_767_225_600_000
BENIGN_SCENARIOS = tuple(BENIGN_BUILDERS)
ATTACK_SCENARIOS = tuple(ATTACK_BUILDERS)
SCENARIO_CHOICES = ("all", "benign", *ATTACK_SCENARIOS)

#: Below this many events the capture is gzipped at level 9 (small files), above at level 1 (fast).
_SMALL_CAPTURE_EVENTS = 50_000

Progress = Callable[[str, int, int], None]


@dataclass
class SimulationPlan:
    """Sorted drafts plus what is needed to render them; ``accounts`` holds only accounts with events."""

    seed: int
    start_ms: int
    end_ms: int
    drafts: list[Draft]
    accounts: list[Account]
    registry: PromptRegistry
    corpus: str
    active: list[Account] = field(default_factory=list)


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote. Counts are of accounts that sent at least one request."""

    out_path: str
    labels_path: str
    seed: int
    hours: float
    scale: float
    scenario: str
    start_ms: int
    end_ms: int
    events: int
    accounts: int
    events_by_scenario: dict[str, int]
    accounts_by_scenario: dict[str, int]
    capture_bytes: int
    corpus: str

    @property
    def benign_accounts(self) -> int:
        """Accounts labelled benign."""
        return sum(n for s, n in self.accounts_by_scenario.items() if s in BENIGN_SCENARIOS)

    @property
    def attack_accounts(self) -> int:
        """Accounts labelled attack."""
        return sum(n for s, n in self.accounts_by_scenario.items() if s in ATTACK_SCENARIOS)


def _validate(hours: float, scale: float, scenario: str) -> None:
    if not 0 < hours <= 24 * 31:
        raise ValueError(f"hours must be in (0, 744], got {hours}")
    if not 0 < scale <= 50:
        raise ValueError(f"scale must be in (0, 50], got {scale}")
    if scenario not in SCENARIO_CHOICES:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIO_CHOICES)}; got {scenario!r}")


def plan_simulation(
    *,
    seed: int = 7,
    hours: float = 12.0,
    scale: float = 1.0,
    scenario: str = "all",
    start_ms: int = DEFAULT_START_MS,
    corpus_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> SimulationPlan:
    """Build every population's accounts and drafts, drop out-of-window requests, sort by ts (stable)."""
    _validate(hours, scale, scenario)
    corpus = load_corpus(corpus_dir)
    end_ms = start_ms + int(hours * HOUR_MS)
    ctx = SimContext(
        seed=seed,
        start_ms=start_ms,
        end_ms=end_ms,
        scale=scale,
        corpus=corpus,
        ips=IpSpace(seed),
        registry=PromptRegistry(),
    )
    builders = dict(BENIGN_BUILDERS)
    if scenario == "all":
        builders.update(ATTACK_BUILDERS)
    elif scenario != "benign":
        builders[scenario] = ATTACK_BUILDERS[scenario]
    drafts: list[Draft] = []
    for i, (name, build) in enumerate(builders.items()):
        if progress is not None:
            progress(f"planning {name}", i, len(builders))
        drafts.extend(build(ctx))
    accounts = ctx.accounts
    drafts = [
        d for d in drafts if start_ms <= d.ts < end_ms and d.ts >= accounts[d.account].created_ts
    ]
    drafts.sort(key=lambda d: d.ts)
    used = sorted({d.account for d in drafts})
    ids = [accounts[i].account_id for i in used]
    if len(set(ids)) != len(
        ids
    ):  # 48-bit random ids: practically impossible, but never silently merge
        raise RuntimeError("account id collision; choose another seed")
    plan = SimulationPlan(
        seed,
        start_ms,
        end_ms,
        drafts,
        accounts,
        ctx.registry,
        corpus.origin,
        [accounts[i] for i in used],
    )
    if progress is not None:
        progress("planned", len(builders), len(builders))
    return plan


def iter_events(plan: SimulationPlan) -> Iterator[dict[str, Any]]:
    """Render the plan's request events in ts order (dicts following ``request.schema.json``)."""
    return render_events(plan.drafts, plan.accounts, plan.registry, plan.seed)


def simulate(
    out_path: str | Path,
    labels_path: str | Path,
    *,
    seed: int = 7,
    hours: float = 12.0,
    scale: float = 1.0,
    scenario: str = "all",
    start_ms: int = DEFAULT_START_MS,
    corpus_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> SimulationSummary:
    """Write a labelled capture: events to ``out_path`` (``.jsonl.gz`` or ``.jsonl``), labels to ``labels_path``.

    :param seed: RNG seed; same seed and arguments → byte-identical files. Default - 7.
    :param hours: capture length in hours. Default - 12.
    :param scale: multiplier on account counts (volume scales with it). Default - 1.
    :param scenario: ``all``, ``benign``, or one attack scenario (benign background + that attack).
    :param start_ms: capture start, epoch ms. Default - 2026-01-01T00:00Z.
    :param corpus_dir: prompt corpus directory; default lookup in :mod:`streams.simulate.corpus`.
    :param progress: optional ``progress(stage, done, total)`` callback.
    """
    plan = plan_simulation(
        seed=seed,
        hours=hours,
        scale=scale,
        scenario=scenario,
        start_ms=start_ms,
        corpus_dir=corpus_dir,
        progress=progress,
    )
    total = len(plan.drafts)

    def on_event(n: int) -> None:
        if progress is not None:
            progress("writing events", n, total)

    level = SMALL_GZIP_LEVEL if total < _SMALL_CAPTURE_EVENTS else FAST_GZIP_LEVEL
    n = write_capture(out_path, iter_events(plan), on_event, level)
    write_labels(labels_path, plan.active)
    by_acct = Counter(d.account for d in plan.drafts)
    ev_by: Counter[str] = Counter()
    for idx, cnt in by_acct.items():
        ev_by[plan.accounts[idx].scenario] += cnt
    acc_by = Counter(a.scenario for a in plan.active)
    return SimulationSummary(
        out_path=str(out_path),
        labels_path=str(labels_path),
        seed=seed,
        hours=hours,
        scale=scale,
        scenario=scenario,
        start_ms=start_ms,
        end_ms=plan.end_ms,
        events=n,
        accounts=len(plan.active),
        events_by_scenario=dict(sorted(ev_by.items())),
        accounts_by_scenario=dict(sorted(acc_by.items())),
        capture_bytes=Path(out_path).stat().st_size,
        corpus=plan.corpus,
    )
