"""Attack campaigns modelled on the public record (docs: /work/shared/research/domain.md §1).

* ``cot_elicitation`` / ``rubric_grading`` / ``policy_rewrite`` — one DeepSeek-style campaign (group
  ``ds-1``): tens of accounts per sub-fleet fed round-robin by a load balancer (synchronised timing),
  a few shared payment methods, a few shared /24s.
* ``agentic_harvest`` (Moonshot-style): hundreds of accounts, moderate volume each, tool use, coding,
  data analysis, computer use, vision; varied metadata, some shared infrastructure.
* ``coding_pivot`` (MiniMax-style): the largest volume; agentic coding; pivots ~half its traffic to
  ``claude-next`` within hours of its release (half-way through the capture).
* ``hydra``: proxy-network accounts, each a light user for a few hours then abandoned, rotating IPs
  from the reseller's proxy ASNs, mixing distillation with resold customer traffic.
* ``low_and_slow``: human-paced accounts whose every prompt is a CoT extraction item with maxed output.
* ``turncoat``: established accounts with hours of honest chat that switch, part-way through the
  capture, to scripted CoT extraction with maxed outputs (a bought or compromised account); the
  switch time is written to the labels (``attack_from_ts``).

Each ``build_<scenario>(ctx)`` appends accounts to ``ctx`` and returns drafts. Times in ms.
"""

from __future__ import annotations

import math
import random

from streams.simulate import prompts as P
from streams.simulate import templates as T
from streams.simulate.identities import (
    BROWSER_UAS,
    CLOUD_ASNS,
    HOUR_MS,
    PROXY_ASNS,
    SDK_UAS,
    IdFactory,
    make_account,
    pick_country,
    reseller_network,
)
from streams.simulate.plan import NEW_MODEL, Draft, SimContext
from streams.simulate.timing import poisson_times, sample_diurnal, session_times

__all__ = [
    "ATTACK_BUILDERS",
    "HYDRA_MAX_EVENTS",
    "build_agentic_harvest",
    "build_coding_pivot",
    "build_cot_elicitation",
    "build_hydra",
    "build_low_and_slow",
    "build_policy_rewrite",
    "build_rubric_grading",
    "build_turncoat",
]

#: Most requests one hydra account sends over its whole life: under any per-account volume threshold.
HYDRA_MAX_EVENTS = 24


def _lognorm(rng: random.Random, median: float, sigma: float, cap: int) -> int:
    return min(cap, int(rng.lognormvariate(math.log(median), sigma)))


def _attack_created(
    ctx: SimContext, rng: random.Random, p_during: float, max_days: float = 40
) -> int:
    """Recently created; with probability ``p_during`` created in the first half of the capture."""
    if rng.random() < p_during:
        return ctx.start_ms + int(rng.uniform(0, 0.5) * (ctx.end_ms - ctx.start_ms))
    return ctx.old_created_ts(rng, 1, max_days)


# --- DeepSeek-style campaign -----------------------------------------------------------------------------
class _DsInfra:
    """Infrastructure shared by the three DeepSeek-style sub-fleets."""

    def __init__(self, ctx: SimContext) -> None:
        r = ctx.rng("ds-infra")
        ids = IdFactory(r)
        self.pfs = [ids.new("pf") for _ in range(4)]
        self.blocks = [
            (asn, ctx.ips.block24(asn, r)) for asn in (CLOUD_ASNS[0], CLOUD_ASNS[0], CLOUD_ASNS[3])
        ]
        self.uas = (
            "python-httpx/0.27.2",
            "anthropic-sdk-python/0.39.0",
            "anthropic-sdk-python/0.40.0",
        )
        self.countries = ("US", "SG", "HK", "JP", "GB", "KR")


def _build_ds(
    ctx: SimContext,
    scenario: str,
    source: int,
    base_accounts: float,
    out_median: float,
    reasoning_median: float,
    model_weights: tuple[tuple[str, float], ...],
) -> list[Draft]:
    infra = _DsInfra(ctx)
    rng = ctx.rng(scenario)
    ids = IdFactory(rng)
    members: list[tuple[int, int, tuple[int, str]]] = []
    for _ in range(ctx.count(base_accounts, minimum=3)):
        created = _attack_created(ctx, rng, 0.15)
        asn, block = rng.choice(infra.blocks)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=created,
                tier=rng.choice(("pro", "pro", "startup", "team")),
                country=rng.choice(infra.countries),
                client_ip=ctx.ips.ip_in(block, rng),
                asn=asn,
                user_agent=rng.choice(infra.uas),
                payment_fingerprint=rng.choice(infra.pfs),
                label="attack",
                scenario=scenario,
                group="ds-1",
            )
        )
        members.append((acct, created, (asn, block)))
    # A load balancer dispatches jobs round-robin over the accounts that exist at that moment.
    per_account_rate = rng.uniform(40, 70)
    tick = HOUR_MS / (per_account_rate * len(members))
    models = [m for m, _ in model_weights]
    weights = [w for _, w in model_weights]
    t, turn = float(ctx.start_ms) + rng.uniform(0, tick), 0
    pause_until = -1.0
    drafts: list[Draft] = []
    while t < ctx.end_ms:
        if t >= pause_until and rng.random() < tick / (
            2.5 * HOUR_MS
        ):  # operator pauses ~every 2.5 h
            pause_until = t + rng.uniform(5, 25) * 60_000
        if t >= pause_until:
            for _ in range(len(members)):
                acct, created, (asn, block) = members[turn % len(members)]
                turn += 1
                if created + 120_000 <= t:
                    ts = int(t + rng.uniform(-0.1, 0.1) * tick)
                    if ctx.start_ms <= ts < ctx.end_ms:
                        drafts.append(
                            ctx.draft(
                                rng,
                                ts=ts,
                                account=acct,
                                model=rng.choices(models, weights=weights)[0],
                                source=source,
                                output_tokens=_lognorm(rng, out_median, 0.5, 16000),
                                reasoning_tokens=_lognorm(rng, reasoning_median, 0.5, 32000)
                                if reasoning_median
                                else 0,
                                net=(ctx.ips.ip_in(block, rng), asn),
                                p429=0.06,
                                p500=0.005,
                            )
                        )
                    break
        t += tick
    return drafts


def build_cot_elicitation(ctx: SimContext) -> list[Draft]:
    """DeepSeek-style chain-of-thought elicitation over many reasoning domains."""
    src = ctx.registry.add(P.cot_source(ctx.corpus))
    return _build_ds(
        ctx,
        "cot_elicitation",
        src,
        30,
        2500,
        6000,
        (("claude-opus-4", 0.6), ("claude-sonnet-4", 0.4)),
    )


def build_rubric_grading(ctx: SimContext) -> list[Draft]:
    """DeepSeek-style use of the model as a reward model through judge/rubric templates."""
    src = ctx.registry.add(P.rubric_source(ctx.corpus, None, noise=0.6, p_own=0.3))
    return _build_ds(
        ctx,
        "rubric_grading",
        src,
        28,
        600,
        1800,
        (("claude-opus-4", 0.5), ("claude-sonnet-4", 0.5)),
    )


def build_policy_rewrite(ctx: SimContext) -> list[Draft]:
    """DeepSeek-style "censorship-safe" rewrites of politically sensitive queries."""
    src = ctx.registry.add(P.policy_source())
    return _build_ds(
        ctx,
        "policy_rewrite",
        src,
        24,
        900,
        1200,
        (("claude-sonnet-4", 0.7), ("claude-opus-4", 0.3)),
    )


# --- Moonshot-style agentic harvesting --------------------------------------------------------------------
def build_agentic_harvest(ctx: SimContext) -> list[Draft]:
    """Hundreds of accounts harvesting agentic, tool-use, coding, analysis, computer-use and vision traces."""
    rng = ctx.rng("agentic_harvest")
    ids = IdFactory(rng)
    blocks = [
        (asn, ctx.ips.block24(asn, rng)) for asn in rng.sample(CLOUD_ASNS, 5) for _ in range(2)
    ]
    pf_pool = [ids.new("pf") for _ in range(8)]
    weights = {
        "tooluse": 0.35,
        "coding": 0.2,
        "analysis": 0.15,
        "computeruse": 0.15,
        "vision": 0.15,
    }
    sources = [
        ctx.registry.add(P.agentic_source(ctx.corpus, weights, system))
        for system in (None, None, T.AGENT_HARNESS_SYSTEMS[0], T.AGENT_HARNESS_SYSTEMS[2])
    ]
    drafts: list[Draft] = []
    for _ in range(ctx.count(150, minimum=5)):
        country = pick_country(rng)
        if rng.random() < 0.7:
            asn, block = rng.choice(blocks)
        else:
            asn = rng.choice(country.asns)
            block = ctx.ips.block24(asn, rng)
        created = _attack_created(ctx, rng, 0.1, 60)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=created,
                tier=rng.choice(("pro", "team", "startup", "free", "pro")),
                country=country.code,
                client_ip=ctx.ips.ip_in(block, rng),
                asn=asn,
                user_agent=rng.choice(SDK_UAS),
                payment_fingerprint=rng.choice(pf_pool) if rng.random() < 0.3 else None,
                label="attack",
                scenario="agentic_harvest",
                group="ms-1",
            )
        )
        src = rng.choice(sources)
        model = rng.choice(("claude-sonnet-4", "claude-opus-4", "claude-sonnet-4"))
        span = rng.uniform(0.5, 1.0) * (ctx.end_ms - ctx.start_ms)
        lo = max(
            ctx.start_ms + int(rng.uniform(0, ctx.end_ms - ctx.start_ms - span)), created + 300_000
        )
        for ts in poisson_times(
            rng, lo, min(ctx.end_ms, lo + int(span)), rng.lognormvariate(math.log(9), 0.4)
        ):
            drafts.append(
                ctx.draft(
                    rng,
                    ts=ts,
                    account=acct,
                    model=model,
                    source=src,
                    output_tokens=_lognorm(rng, 1200, 0.6, 16000),
                    reasoning_tokens=_lognorm(rng, 2500, 0.6, 32000),
                    context_tokens=_lognorm(rng, 3000, 0.8, 60000),
                    p429=0.04,
                )
            )
    return drafts


# --- MiniMax-style coding harvest with model pivot ---------------------------------------------------------
def build_coding_pivot(ctx: SimContext) -> list[Draft]:
    """High-volume agentic coding; moves ~half of each account's traffic to the new model within hours."""
    rng = ctx.rng("coding_pivot")
    ids = IdFactory(rng)
    blocks = [
        (asn, ctx.ips.block24(asn, rng)) for asn in (CLOUD_ASNS[0], CLOUD_ASNS[4]) for _ in range(2)
    ]
    pf_pool = [ids.new("pf") for _ in range(6)]
    sources = [
        ctx.registry.add(P.coding_source(ctx.corpus, s, tools_base=rng.randint(20, 32)))
        for s in T.AGENT_HARNESS_SYSTEMS
    ]
    lag_max = min(4 * HOUR_MS, 0.3 * (ctx.end_ms - ctx.release_ms))
    drafts: list[Draft] = []
    for _ in range(ctx.count(45, minimum=3)):
        asn, block = rng.choice(blocks)
        created = ctx.old_created_ts(rng, 5, 90)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=created,
                tier=rng.choice(("team", "startup", "enterprise", "team")),
                country=rng.choice(("US", "SG", "JP", "GB", "DE")),
                client_ip=ctx.ips.ip_in(block, rng),
                asn=asn,
                user_agent=rng.choice(
                    (
                        "anthropic-sdk-python/0.40.0",
                        "anthropic-sdk-python/0.42.0",
                        "python-httpx/0.27.2",
                    )
                ),
                payment_fingerprint=rng.choice(pf_pool),
                label="attack",
                scenario="coding_pivot",
                group="mm-1",
            )
        )
        src = rng.choice(sources)
        old_model = rng.choice(("claude-sonnet-4", "claude-sonnet-4", "claude-opus-4"))
        pivot_at = ctx.release_ms + int(rng.uniform(0.15, 1.0) * lag_max)
        share_new = rng.uniform(0.42, 0.58)
        for ts in poisson_times(
            rng, ctx.start_ms, ctx.end_ms, rng.lognormvariate(math.log(95), 0.35)
        ):
            model = NEW_MODEL if ts >= pivot_at and rng.random() < share_new else old_model
            drafts.append(
                ctx.draft(
                    rng,
                    ts=ts,
                    account=acct,
                    model=model,
                    source=src,
                    output_tokens=_lognorm(rng, 900, 0.6, 16000),
                    reasoning_tokens=_lognorm(rng, 1500, 0.7, 32000),
                    context_tokens=_lognorm(rng, 20_000, 0.6, 180_000),
                    net=(ctx.ips.ip_in(block, rng), asn),
                    p429=0.05,
                )
            )
    return drafts


# --- hydra proxy network ------------------------------------------------------------------------------
def build_hydra(ctx: SimContext) -> list[Draft]:
    """Proxy networks of many short-lived light accounts riding on a reseller's proxy pool."""
    rng = ctx.rng("hydra")
    ids = IdFactory(rng)
    distill = [
        (P.cot_source(ctx.corpus, noise=1.0), 0.35),
        (
            P.agentic_source(
                ctx.corpus, {"tooluse": 0.4, "coding": 0.3, "computeruse": 0.15, "vision": 0.15}
            ),
            0.3,
        ),
        (P.rubric_source(ctx.corpus, None, noise=0.7, p_own=0.4), 0.15),
        (P.coding_source(ctx.corpus, None), 0.2),
        (P.plain_source(ctx.corpus, "selfinstruct"), 0.1),
    ]
    n_nets = ctx.count(2)
    drafts: list[Draft] = []
    for net_i in range(n_nets):
        pool = list(reseller_network(ctx.seed, ctx.ips, net_i))
        extra_asn = rng.choice(PROXY_ASNS)
        pool += [(extra_asn, ctx.ips.block24(extra_asn, rng)) for _ in range(3)]
        n_acc = max(3, ctx.count(320) // n_nets)
        pf_pool = [ids.new("pf") for _ in range(max(2, n_acc // 8))]
        for _ in range(n_acc):
            country = pick_country(rng)
            benign_share = rng.uniform(0.3, 0.5) if rng.random() < 0.5 else 0.0
            parts = list(distill)
            if benign_share:
                parts.append(
                    (
                        P.chat_source(ctx.corpus, rng.choice(country.langs)[0]),
                        benign_share / (1 - benign_share),
                    )
                )
            src = ctx.registry.add(P.mix_source(parts))
            created = _attack_created(ctx, rng, 0.4, 20)
            asn, block = rng.choice(pool)
            acct = ctx.add_account(
                make_account(
                    ids,
                    created_ts=created,
                    tier=rng.choice(("free", "pro", "pro")),
                    country=country.code,
                    client_ip=ctx.ips.ip_in(block, rng),
                    asn=asn,
                    user_agent=rng.choice(SDK_UAS + BROWSER_UAS[:2]),
                    payment_fingerprint=rng.choice(pf_pool),
                    label="attack",
                    scenario="hydra",
                    group=f"hydra-{net_i + 1}",
                )
            )
            life = min(
                ctx.end_ms - ctx.start_ms, int(rng.lognormvariate(math.log(4 * HOUR_MS), 0.4))
            )
            lo = max(
                created + 120_000,
                ctx.start_ms + int(rng.uniform(0, 1) * (ctx.end_ms - ctx.start_ms - life)),
            )
            times = poisson_times(rng, lo, min(ctx.end_ms, lo + life), rng.uniform(1.5, 3.5))
            for ts in times[:HYDRA_MAX_EVENTS]:
                pasn, pblock = rng.choice(pool)
                drafts.append(
                    ctx.draft(
                        rng,
                        ts=ts,
                        account=acct,
                        model=rng.choice(("claude-sonnet-4", "claude-opus-4")),
                        source=src,
                        output_tokens=_lognorm(rng, 1100, 0.7, 16000),
                        reasoning_tokens=_lognorm(rng, 1500, 0.8, 32000),
                        net=(ctx.ips.ip_in(pblock, rng), pasn),
                        p429=0.03,
                    )
                )
    return drafts


# --- low and slow ---------------------------------------------------------------------------------------
def build_low_and_slow(ctx: SimContext) -> list[Draft]:
    """Light, human-paced accounts whose every prompt is a CoT extraction item with maxed output."""
    rng = ctx.rng("low_and_slow")
    ids = IdFactory(rng)
    src = ctx.registry.add(P.cot_source(ctx.corpus, noise=1.0, p_native=0.1))
    drafts: list[Draft] = []
    for _ in range(ctx.count(45, minimum=3)):
        country = pick_country(rng)
        tz = rng.choice(country.tz_hours)
        asn = rng.choice(country.asns)
        created = ctx.old_created_ts(rng, 10, 200)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=created,
                tier="pro",
                country=country.code,
                client_ip=ctx.ips.ip(asn, rng),
                asn=asn,
                user_agent=rng.choice(BROWSER_UAS + SDK_UAS[:5]),
                label="attack",
                scenario="low_and_slow",
                group="ls-1",
            )
        )
        max_out = rng.choice((8192, 16384, 32000))
        rate = rng.uniform(1.0, 4.0)
        n_sessions = max(1, int(rate * ctx.hours / 3.5))
        for _ in range(n_sessions):
            t0 = sample_diurnal(rng, ctx.start_ms, ctx.end_ms, tz)
            for ts in session_times(rng, t0, rng.randint(2, 5), 180_000, 0.6):
                if ts < ctx.end_ms:
                    drafts.append(_maxed_cot(ctx, rng, ts, acct, src, max_out, 0.9, 8000, 0.01))
    return drafts


def _maxed_cot(ctx: SimContext, rng: random.Random, ts: int, acct: int, src: int, max_out: int,
               fill: float, reasoning_median: float, p429: float) -> Draft:
    """One CoT extraction request whose output fills ``fill``..1 of ``max_out`` tokens."""
    return ctx.draft(
        rng,
        ts=ts,
        account=acct,
        model=rng.choice(("claude-opus-4", "claude-sonnet-4")),
        source=src,
        output_tokens=int(max_out * rng.uniform(fill, 1.0)),
        reasoning_tokens=_lognorm(rng, reasoning_median, 0.4 if fill >= 0.9 else 0.5, 32000),
        p429=p429,
    )


# --- turncoat ----------------------------------------------------------------------------------------
def build_turncoat(ctx: SimContext) -> list[Draft]:
    """Established accounts: honest chat sessions, then from a switch time on (30-70 % into the
    capture) scripted CoT extraction with maxed outputs at 30-120 requests an hour."""
    rng = ctx.rng("turncoat")
    ids = IdFactory(rng)
    chat = ctx.registry.add(P.chat_source(ctx.corpus, "en", 0.05))
    cot = ctx.registry.add(P.cot_source(ctx.corpus, noise=0.8, p_native=0.2))
    drafts: list[Draft] = []
    span = ctx.end_ms - ctx.start_ms
    for _ in range(ctx.count(20, minimum=2)):
        country = pick_country(rng)
        tz = rng.choice(country.tz_hours)
        asn = rng.choice(country.asns)
        switch = ctx.start_ms + int(rng.uniform(0.3, 0.7) * span)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=ctx.old_created_ts(rng, 60, 900),
                tier=rng.choice(("pro", "pro", "team", "free")),
                country=country.code,
                client_ip=ctx.ips.ip(asn, rng),
                asn=asn,
                user_agent=rng.choice(BROWSER_UAS + SDK_UAS),
                label="attack",
                scenario="turncoat",
                group="tc-1",
                attack_from_ts=switch,
            )
        )
        favourite = rng.choice(("claude-sonnet-4", "claude-opus-4", "claude-haiku-4"))
        # the honest part: a heavy chat user (sessions of ~12 requests, ~25-60 sessions a day)
        n_sessions = max(4, int(rng.uniform(25, 60) * (switch - ctx.start_ms) / (24 * HOUR_MS)))
        for _ in range(n_sessions):
            t0 = sample_diurnal(rng, ctx.start_ms, switch, tz)
            for ts in session_times(rng, t0, rng.randint(6, 18), 40_000):
                if ts < switch:
                    drafts.append(
                        ctx.draft(
                            rng,
                            ts=ts,
                            account=acct,
                            model=favourite,
                            source=chat,
                            output_tokens=_lognorm(rng, 350, 0.8, 8000),
                            reasoning_tokens=_lognorm(rng, 600, 0.9, 16000) if rng.random() < 0.1 else 0,
                        )
                    )
        # the harvest, from the same network and key
        max_out = rng.choice((8192, 16384))
        for ts in poisson_times(rng, switch, ctx.end_ms, rng.uniform(30, 120)):
            drafts.append(_maxed_cot(ctx, rng, ts, acct, cot, max_out, 0.85, 6000, 0.02))
    return drafts


ATTACK_BUILDERS = {
    "cot_elicitation": build_cot_elicitation,
    "rubric_grading": build_rubric_grading,
    "policy_rewrite": build_policy_rewrite,
    "agentic_harvest": build_agentic_harvest,
    "coding_pivot": build_coding_pivot,
    "hydra": build_hydra,
    "low_and_slow": build_low_and_slow,
    "turncoat": build_turncoat,
}
