"""Benign populations: chat users, coding agents, batch jobs, benchmarks, judges, campus NATs, reseller customers.

Each ``build_<scenario>(ctx)`` appends accounts to ``ctx`` and returns their request drafts.
Account counts are "at scale 1"; request rates are per hour of capture, so volume scales with
``--hours`` and account counts with ``--scale``. Several populations are deliberate look-alikes
of attacks (researcher_bench ~ CoT elicitation, eval_pipeline ~ rubric grading,
campus_nat / reseller_customer ~ hydra).
"""

from __future__ import annotations

import math
import random

from streams.simulate import prompts as P
from streams.simulate import templates as T
from streams.simulate.identities import (
    BROWSER_UAS,
    CLOUD_ASNS,
    DAY_MS,
    HOUR_MS,
    SDK_UAS,
    UNIVERSITY_ASNS,
    IdFactory,
    make_account,
    pick_country,
    pick_weighted,
    reseller_network,
)
from streams.simulate.plan import BASE_MODELS, Draft, SimContext, pick_model
from streams.simulate.timing import (
    periodic_times,
    poisson,
    poisson_times,
    sample_diurnal,
    session_times,
)

__all__ = [
    "BENIGN_BUILDERS",
    "build_campus_nat",
    "build_chat",
    "build_coding_agent",
    "build_enterprise_batch",
    "build_eval_pipeline",
    "build_researcher_bench",
    "build_reseller_customer",
]

#: Office-hours activity profile by local hour (coding, researchers).
WORK: tuple[float, ...] = (
    0.05,
    0.03,
    0.02,
    0.02,
    0.02,
    0.03,
    0.08,
    0.2,
    0.6,
    1.0,
    1.0,
    0.95,
    0.7,
    0.9,
    1.0,
    1.0,
    0.9,
    0.7,
    0.45,
    0.35,
    0.35,
    0.3,
    0.2,
    0.1,
)
IDE_UAS: tuple[tuple[str, ...], ...] = (
    ("Cursor/0.44.11", "Cursor/0.45.3", "Cursor/0.43.6"),
    ("claude-cli/0.2.14 (external, cli)", "claude-cli/0.2.19 (external, cli)"),
    ("JetBrains-AI-Assistant/243.22562", "JetBrains-AI-Assistant/243.21565"),
)
IDE_TOOLS = (12, 16, 8)
ENTERPRISE_ASNS = (40873, 21928, 46606, 13414, 54113, 19679, 36351, 2914)


def _tier(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return pick_weighted(rng, pairs)


def _model(rng: random.Random) -> str:
    return rng.choices([m for m, _ in BASE_MODELS], weights=[w for _, w in BASE_MODELS])[0]


def _lognorm(rng: random.Random, median: float, sigma: float, cap: int) -> int:
    return min(cap, int(rng.lognormvariate(math.log(median), sigma)))


def _benign_created(ctx: SimContext, rng: random.Random) -> int:
    """Mostly old accounts; 6 % created in the last two weeks, 1 % during the capture."""
    r = rng.random()
    if r < 0.01:
        return ctx.start_ms + int(rng.uniform(0, 0.6) * (ctx.end_ms - ctx.start_ms))
    if r < 0.07:
        return ctx.old_created_ts(rng, 0.2, 14)
    return ctx.old_created_ts(rng, 30, 1500)


def build_chat(ctx: SimContext) -> list[Draft]:
    """People chatting in their own time zones: diurnal sessions, lognormal think times, a few heavy users."""
    rng = ctx.rng("chat")
    ids = IdFactory(rng)
    sources: dict[tuple[str, bool], int] = {}
    drafts: list[Draft] = []
    for _ in range(ctx.count(1750)):
        country = pick_country(rng)
        tz = rng.choice(country.tz_hours)
        lang = pick_weighted(rng, country.langs)
        heavy = rng.random() < 0.06
        nudger = rng.random() < 0.15
        key = (lang, nudger)
        if key not in sources:
            sources[key] = ctx.registry.add(
                P.chat_source(ctx.corpus, lang, 0.08 if nudger else 0.0)
            )
        asn = rng.choice(country.asns)
        tier = _tier(
            rng,
            (("pro", 0.6), ("team", 0.4))
            if heavy
            else (("free", 0.55), ("pro", 0.38), ("team", 0.07)),
        )
        ua = rng.choice(BROWSER_UAS) if rng.random() < 0.55 else rng.choice(SDK_UAS)
        created = _benign_created(ctx, rng)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=created,
                tier=tier,
                country=country.code,
                client_ip=ctx.ips.ip(asn, rng),
                asn=asn,
                user_agent=ua,
                label="benign",
                scenario="chat",
                group="consumer",
            )
        )
        favourite = _model(rng)
        thinking = rng.random() < 0.2
        per_day = rng.lognormvariate(math.log(120 if heavy else 10), 0.5 if heavy else 0.8)
        per_session = 12 if heavy else 4
        lo = max(ctx.start_ms, created + 60_000)
        if lo >= ctx.end_ms:
            continue
        n_sessions = max(1, poisson(rng, per_day * ctx.hours / 24 * 1.3 / per_session))
        for _ in range(n_sessions):
            t0 = sample_diurnal(rng, lo, ctx.end_ms, tz)
            k = 1 + poisson(rng, per_session - 1)
            for j, ts in enumerate(session_times(rng, t0, k, 30_000 if heavy else 50_000)):
                if ts >= ctx.end_ms:
                    break
                drafts.append(
                    ctx.draft(
                        rng,
                        ts=ts,
                        account=acct,
                        model=pick_model(rng, favourite, ts, ctx.release_ms),
                        source=sources[key],
                        output_tokens=_lognorm(rng, 350, 0.8, 8000),
                        reasoning_tokens=_lognorm(rng, 600, 0.9, 16000) if thinking else 0,
                        context_tokens=j * _lognorm(rng, 300, 0.6, 4000),
                        p429=0.012 if heavy else 0.003,
                    )
                )
    return drafts


def build_coding_agent(ctx: SimContext) -> list[Draft]:
    """Developers' editor agents: bursty sessions of rapid requests, a popular shared IDE system prompt, many tools."""
    rng = ctx.rng("coding_agent")
    ids = IdFactory(rng)
    drafts: list[Draft] = []
    for _ in range(ctx.count(320)):
        ide = rng.choices(range(len(T.IDE_SYSTEM_PROMPTS)), weights=(0.5, 0.3, 0.2))[0]
        tools = min(40, IDE_TOOLS[ide] + (rng.randint(0, 18) if rng.random() < 0.5 else 0))
        src = ctx.registry.add(
            P.coding_source(ctx.corpus, T.IDE_SYSTEM_PROMPTS[ide], tools_base=tools)
        )
        country = pick_country(rng)
        tz = rng.choice(country.tz_hours)
        asn = rng.choice(country.asns) if rng.random() < 0.8 else rng.choice(CLOUD_ASNS)
        created = _benign_created(ctx, rng)
        acct = ctx.add_account(
            make_account(
                ids,
                created_ts=created,
                tier=_tier(rng, (("pro", 0.5), ("team", 0.35), ("free", 0.1), ("startup", 0.05))),
                country=country.code,
                client_ip=ctx.ips.ip(asn, rng),
                asn=asn,
                user_agent=rng.choice(IDE_UAS[ide]),
                label="benign",
                scenario="coding_agent",
                group="devtools",
            )
        )
        favourite = rng.choice(("claude-sonnet-4", "claude-sonnet-4", "claude-opus-4"))
        lo = max(ctx.start_ms, created + 60_000)
        if lo >= ctx.end_ms:
            continue
        for _ in range(1 + poisson(rng, 1.5 * ctx.hours / 12)):
            t0 = sample_diurnal(rng, lo, ctx.end_ms, tz, WORK)
            n = max(5, _lognorm(rng, 40, 0.7, 300))
            for ts in session_times(rng, t0, n, 9_000, 1.0):
                if ts >= ctx.end_ms:
                    break
                drafts.append(
                    ctx.draft(
                        rng,
                        ts=ts,
                        account=acct,
                        model=pick_model(rng, favourite, ts, ctx.release_ms),
                        source=src,
                        output_tokens=_lognorm(rng, 400, 0.9, 8000),
                        reasoning_tokens=_lognorm(rng, 300, 1.0, 8000) if rng.random() < 0.3 else 0,
                        context_tokens=_lognorm(rng, 12_000, 0.7, 150_000),
                        p429=0.01,
                    )
                )
    return drafts


def build_enterprise_batch(ctx: SimContext) -> list[Draft]:
    """Few enterprise accounts running one template each at a steady, high rate from their own ASN."""
    rng = ctx.rng("enterprise_batch")
    ids = IdFactory(rng)
    drafts: list[Draft] = []
    for i in range(ctx.count(5)):
        org = ids.new("org", 5)
        asn = ENTERPRISE_ASNS[i % len(ENTERPRISE_ASNS)]
        block = ctx.ips.block24(asn, rng)
        country = pick_country(rng, ("US", "GB", "DE", "FR", "JP", "NL", "IN"))
        pf = ids.new("pf")
        for _ in range(rng.choice((1, 1, 2))):
            src = ctx.registry.add(P.enterprise_source(rng.choice(T.ENTERPRISE_TEMPLATES)))
            acct = ctx.add_account(
                make_account(
                    ids,
                    created_ts=ctx.old_created_ts(rng, 90, 1200),
                    tier="enterprise",
                    country=country.code,
                    client_ip=ctx.ips.ip_in(block, rng),
                    asn=asn,
                    org_id=org,
                    payment_fingerprint=pf,
                    user_agent=rng.choice(
                        (
                            "anthropic-sdk-java/0.8.0",
                            "python-httpx/0.27.2",
                            "anthropic-sdk-python/0.40.0",
                            "anthropic-sdk-go/0.2.0",
                        )
                    ),
                    label="benign",
                    scenario="enterprise_batch",
                    group=f"ent-{i + 1}",
                )
            )
            model = rng.choice(("claude-haiku-4", "claude-haiku-4", "claude-sonnet-4"))
            rate = rng.uniform(250, 800)
            times = periodic_times(
                rng, ctx.start_ms, ctx.end_ms, HOUR_MS / rate, HOUR_MS / rate * 0.3
            )
            if rng.random() < 0.4:  # office-hours job in the org's zone
                tz = country.tz_hours[0]
                times = [t for t in times if 8 <= ((t / HOUR_MS) + tz) % 24 < 19] or times[:50]
            out_median = rng.choice((20, 150, 250))
            for ts in times:
                drafts.append(
                    ctx.draft(
                        rng,
                        ts=ts,
                        account=acct,
                        model=model,
                        source=src,
                        output_tokens=_lognorm(rng, out_median, 0.4, 2000),
                        p429=0.004,
                        net=(ctx.ips.ip_in(block, rng), asn) if rng.random() < 0.3 else None,
                    )
                )
    return drafts


def build_researcher_bench(ctx: SimContext) -> list[Draft]:
    """Researchers running reasoning benchmarks: 1-2 h bursts of math items, then idle."""
    rng = ctx.rng("researcher_bench")
    ids = IdFactory(rng)
    subsets = (
        "gsm8k",
        "math500",
        "aime24",
        "amc23",
        "olympiadbench",
        "minerva_math",
        "college_math",
        "gaokao2023en",
        "cmath",
    )
    drafts: list[Draft] = []
    n_labs = ctx.count(14)
    for lab in range(n_labs):
        country = pick_country(
            rng, ("US", "GB", "DE", "FR", "SG", "JP", "KR", "CA", "AU", "IN", "IL")
        )
        tz = country.tz_hours[0]
        asn = rng.choice(UNIVERSITY_ASNS) if rng.random() < 0.6 else rng.choice(country.asns)
        for _ in range(rng.randint(1, 5)):
            acct = ctx.add_account(
                make_account(
                    ids,
                    created_ts=ctx.old_created_ts(rng, 10, 900),
                    tier=_tier(rng, (("edu", 0.5), ("pro", 0.5))),
                    country=country.code,
                    client_ip=ctx.ips.ip(asn, rng),
                    asn=asn,
                    user_agent=rng.choice(
                        (
                            "anthropic-sdk-python/0.40.0",
                            "openai-python/1.55.3",
                            "litellm/1.55.8",
                            "python-httpx/0.27.2",
                            "anthropic-sdk-python/0.42.0",
                        )
                    ),
                    label="benign",
                    scenario="researcher_bench",
                    group=f"lab-{lab + 1}",
                )
            )
            src = ctx.registry.add(
                P.reasoning_bench_source(
                    ctx.corpus,
                    tuple(rng.sample(subsets, rng.randint(1, 3))),
                    keep_template=rng.random() < 0.5,
                )
            )
            for _ in range(max(1, poisson(rng, rng.uniform(0.8, 2.0) * ctx.hours / 12))):
                t0 = sample_diurnal(rng, ctx.start_ms, ctx.end_ms, tz, WORK)
                dur = rng.uniform(0.5, 2.0) * HOUR_MS
                model = _model(rng)
                for ts in poisson_times(
                    rng, t0, min(ctx.end_ms, t0 + int(dur)), rng.uniform(80, 300)
                ):
                    drafts.append(
                        ctx.draft(
                            rng,
                            ts=ts,
                            account=acct,
                            model=model,
                            source=src,
                            output_tokens=_lognorm(rng, 450, 0.7, 8000),
                            reasoning_tokens=_lognorm(rng, 1500, 0.8, 32000)
                            if model != "claude-haiku-4"
                            else 0,
                            p429=0.02,
                        )
                    )
    return drafts


def build_eval_pipeline(ctx: SimContext) -> list[Draft]:
    """Legitimate LLM-as-judge pipelines: one or two rubric templates, regular runs, long-lived team accounts."""
    rng = ctx.rng("eval_pipeline")
    ids = IdFactory(rng)
    templates = sorted({r.template for r in ctx.corpus.kind("rubric") if r.template})
    drafts: list[Draft] = []
    for org_i in range(ctx.count(7)):
        org = ids.new("org", 5)
        pf = ids.new("pf")
        country = pick_country(rng, ("US", "GB", "DE", "FR", "CA", "NL", "SG"))
        asn = rng.choice(CLOUD_ASNS[:6])
        block = ctx.ips.block24(asn, rng)
        for _ in range(rng.randint(1, 3)):
            chosen = tuple(rng.sample(templates, min(len(templates), rng.randint(1, 2))))
            src = ctx.registry.add(P.rubric_source(ctx.corpus, chosen, noise=0.0))
            acct = ctx.add_account(
                make_account(
                    ids,
                    created_ts=ctx.old_created_ts(rng, 150, 1500),
                    tier=rng.choice(("team", "enterprise")),
                    country=country.code,
                    client_ip=ctx.ips.ip_in(block, rng),
                    asn=asn,
                    org_id=org,
                    payment_fingerprint=pf,
                    user_agent=rng.choice(
                        (
                            "anthropic-sdk-python/0.40.0",
                            "litellm/1.55.8",
                            "anthropic-typescript/0.33.1",
                        )
                    ),
                    label="benign",
                    scenario="eval_pipeline",
                    group=f"evalco-{org_i + 1}",
                )
            )
            model = rng.choice(("claude-opus-4", "claude-sonnet-4"))
            period = rng.uniform(30, 75) * 60_000
            for run in periodic_times(rng, ctx.start_ms, ctx.end_ms, period, 60_000):
                n = rng.randint(40, 120)
                for ts in session_times(rng, run, n, 2_500, 0.5):
                    if ts >= ctx.end_ms:
                        break
                    drafts.append(
                        ctx.draft(
                            rng,
                            ts=ts,
                            account=acct,
                            model=model,
                            source=src,
                            output_tokens=_lognorm(rng, 250, 0.6, 4000),
                            p429=0.008,
                        )
                    )
    return drafts


def build_campus_nat(ctx: SimContext) -> list[Draft]:
    """Students and staff behind a university NAT (1-3 shared IPs), edu tier, classes start in sync."""
    rng = ctx.rng("campus_nat")
    ids = IdFactory(rng)
    drafts: list[Draft] = []
    n_campus = ctx.count(3)
    n_users = ctx.count(380, minimum=2 * n_campus)
    for c in range(n_campus):
        country = pick_country(rng, ("US", "GB", "DE", "FR", "AU", "JP", "CA", "NL"))
        tz = country.tz_hours[0]
        asn = UNIVERSITY_ASNS[c % len(UNIVERSITY_ASNS)]
        block = ctx.ips.block24(asn, rng)
        nat_ips = [ctx.ips.ip_in(block, rng) for _ in range(rng.randint(1, 3))]
        lang = pick_weighted(rng, country.langs)
        src = ctx.registry.add(P.chat_source(ctx.corpus, lang, 0.05))
        users: list[tuple[int, int]] = []
        for _ in range(n_users // n_campus):
            created = (
                ctx.old_created_ts(rng, 1, 120)
                if rng.random() < 0.3
                else ctx.old_created_ts(rng, 120, 1400)
            )
            acct = ctx.add_account(
                make_account(
                    ids,
                    created_ts=created,
                    tier="edu",
                    country=country.code,
                    client_ip=rng.choice(nat_ips),
                    asn=asn,
                    user_agent=rng.choice(BROWSER_UAS)
                    if rng.random() < 0.8
                    else rng.choice(SDK_UAS[:6]),
                    label="benign",
                    scenario="campus_nat",
                    group=f"univ-{c + 1}",
                )
            )
            users.append((acct, created))
            for _ in range(max(1, poisson(rng, 1.2 * ctx.hours / 12))):
                t0 = sample_diurnal(rng, ctx.start_ms, ctx.end_ms, tz)
                for ts in session_times(rng, t0, 1 + poisson(rng, 2), 60_000):
                    if ts < ctx.end_ms:
                        drafts.append(_campus_draft(ctx, rng, acct, ts, src, nat_ips, asn))
        # Classes at 9:00, 11:00 and 14:00 local time: a cohort fires requests within 15 minutes.
        day0 = ctx.start_ms - ctx.start_ms % DAY_MS
        for day in range(int(ctx.hours // 24) + 2):
            for hour in (9, 11, 14):
                t_class = day0 + day * DAY_MS + int((hour - tz) * HOUR_MS)
                if not ctx.start_ms <= t_class < ctx.end_ms:
                    continue
                for acct, _ in rng.sample(users, min(len(users), rng.randint(15, 40))):
                    t0 = t_class + int(rng.uniform(1, 15) * 60_000)
                    for ts in session_times(rng, t0, rng.randint(1, 4), 90_000):
                        if ts < ctx.end_ms:
                            drafts.append(_campus_draft(ctx, rng, acct, ts, src, nat_ips, asn))
    return drafts


def _campus_draft(
    ctx: SimContext, rng: random.Random, acct: int, ts: int, src: int, nat_ips: list[str], asn: int
) -> Draft:
    return ctx.draft(
        rng,
        ts=ts,
        account=acct,
        model=pick_model(rng, "claude-sonnet-4", ts, ctx.release_ms),
        source=src,
        output_tokens=_lognorm(rng, 380, 0.7, 6000),
        net=(rng.choice(nat_ips), asn),
    )


def build_reseller_customer(ctx: SimContext) -> list[Draft]:
    """Honest customers of an API reseller: their requests leave through the reseller's proxy pool."""
    rng = ctx.rng("reseller_customer")
    ids = IdFactory(rng)
    drafts: list[Draft] = []
    n_resellers = ctx.count(2)
    for r in range(n_resellers):
        pool = reseller_network(ctx.seed, ctx.ips, r)
        for _ in range(ctx.count(160) // n_resellers or 1):
            country = pick_country(rng)
            lang = pick_weighted(rng, country.langs)
            src = ctx.registry.add(
                P.mix_source(
                    [
                        (P.chat_source(ctx.corpus, lang, 0.03), 0.8),
                        (P.coding_source(ctx.corpus, None, tools_base=0), 0.2),
                    ]
                )
            )
            asn, block = rng.choice(pool)
            created = _benign_created(ctx, rng)
            acct = ctx.add_account(
                make_account(
                    ids,
                    created_ts=created,
                    tier=_tier(rng, (("pro", 0.6), ("startup", 0.2), ("free", 0.2))),
                    country=country.code,
                    client_ip=ctx.ips.ip_in(block, rng),
                    asn=asn,
                    user_agent=rng.choice(SDK_UAS),
                    label="benign",
                    scenario="reseller_customer",
                    group=f"resell-{r + 1}",
                )
            )
            lo = max(ctx.start_ms, created + 60_000)
            if lo >= ctx.end_ms:
                continue
            favourite = _model(rng)
            tz = rng.choice(country.tz_hours)
            for _ in range(max(1, poisson(rng, 2.5 * ctx.hours / 12))):
                t0 = sample_diurnal(rng, lo, ctx.end_ms, tz)
                for ts in session_times(rng, t0, 1 + poisson(rng, 3), 45_000):
                    if ts >= ctx.end_ms:
                        break
                    pasn, pblock = rng.choice(pool)
                    drafts.append(
                        ctx.draft(
                            rng,
                            ts=ts,
                            account=acct,
                            model=pick_model(rng, favourite, ts, ctx.release_ms),
                            source=src,
                            output_tokens=_lognorm(rng, 380, 0.8, 8000),
                            net=(ctx.ips.ip_in(pblock, rng), pasn),
                        )
                    )
    return drafts


BENIGN_BUILDERS = {
    "chat": build_chat,
    "coding_agent": build_coding_agent,
    "enterprise_batch": build_enterprise_batch,
    "researcher_bench": build_researcher_bench,
    "eval_pipeline": build_eval_pipeline,
    "campus_nat": build_campus_nat,
    "reseller_customer": build_reseller_customer,
}
