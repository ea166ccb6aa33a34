"""Prompt sources: functions ``(random.Random) -> Prompt`` built over the corpus and templates.

Each factory returns a closure; the caller registers it in a
:class:`~streams.simulate.plan.PromptRegistry`. Rendered text is capped at 2,000 chars,
system prompts at 1,500 chars.
"""

from __future__ import annotations

import random

from streams.simulate import templates as T
from streams.simulate.corpus import MAX_PROMPT_CHARS, MAX_SYSTEM_CHARS, Corpus, CorpusRow
from streams.simulate.noise import decorate, perturb, spin
from streams.simulate.plan import Prompt, PromptSource

__all__ = [
    "agentic_source",
    "chat_source",
    "coding_source",
    "cot_source",
    "enterprise_source",
    "mix_source",
    "plain_source",
    "policy_source",
    "reasoning_bench_source",
    "rubric_source",
]


def _cap(text: str) -> str:
    return text[:MAX_PROMPT_CHARS]


def _cap_sys(text: str | None) -> str | None:
    return text[:MAX_SYSTEM_CHARS] if text else None


def _item(row: CorpusRow) -> str:
    return row.raw_text or row.text


def chat_source(
    corpus: Corpus, lang: str, nudge_p: float = 0.0, noise: float = 0.4
) -> PromptSource:
    """A person chatting: benign prompts in ``lang``; with probability ``nudge_p`` asks for step-by-step reasoning."""
    rows = corpus.benign_in(lang)
    en = corpus.benign_in("en")

    def render(rng: random.Random) -> Prompt:
        row = rng.choice(rows if rng.random() < 0.85 else en)
        text = decorate(row.text, rng, T.CHAT_PREFIXES, T.CHAT_SUFFIXES, 0.12, 0.12)
        if nudge_p and rng.random() < nudge_p:
            text += rng.choice(T.BENIGN_REASONING_NUDGES)
        return Prompt(_cap(perturb(text, rng, noise)))

    return render


def coding_source(
    corpus: Corpus,
    system: str | None,
    extra_kinds: tuple[str, ...] = ("tooluse",),
    noise: float = 0.3,
    tools_base: int = 0,
) -> PromptSource:
    """Coding work: coding.jsonl items (sometimes tool-use or hard technical chat), fixed ``system``.

    ``tool_count`` = ``tools_base`` + tools the item declares.
    """
    coding = corpus.kind("coding")
    extra = corpus.kinds(extra_kinds)
    tech = corpus.hard_benign

    def render(rng: random.Random) -> Prompt:
        x = rng.random()
        row = (
            rng.choice(coding)
            if x < 0.6 or not extra
            else rng.choice(extra)
            if x < 0.8
            else rng.choice(tech)
        )
        return Prompt(
            _cap(perturb(_item(row) if rng.random() < 0.5 else row.text, rng, noise)),
            _cap_sys(system),
            tools_base + len(row.tool_names),
        )

    return render


def reasoning_bench_source(
    corpus: Corpus, subsets: tuple[str, ...], keep_template: bool
) -> PromptSource:
    """A benchmark run: items of some reasoning subsets, as shipped (with their template) or raw."""
    rows = [r for r in corpus.kind("reasoning") if r.subset in subsets] or list(
        corpus.kind("reasoning")
    )

    def render(rng: random.Random) -> Prompt:
        row = rng.choice(rows)
        if keep_template:
            return Prompt(_cap(row.text), _cap_sys(row.system))
        return Prompt(_cap(_item(row)))

    return render


def cot_source(corpus: Corpus, noise: float = 0.8, p_native: float = 0.2) -> PromptSource:
    """Chain-of-thought elicitation over many reasoning domains, wrapped in varied multilingual templates.

    With probability ``p_native`` the corpus row is sent as its public distillation pipeline wraps it.
    """
    reasoning = corpus.kind("reasoning")
    others = corpus.kinds(("coding", "analysis"))
    hard = corpus.hard_benign

    def render(rng: random.Random) -> Prompt:
        x = rng.random()
        row = (
            rng.choice(reasoning)
            if x < 0.6
            else rng.choice(others)
            if x < 0.8
            else rng.choice(hard)
        )
        if row.kind == "reasoning" and rng.random() < p_native:
            return Prompt(_cap(perturb(row.text, rng, noise * 0.3)), _cap_sys(row.system))
        wrapped = spin(rng.choice(T.COT_WRAPPERS), rng).replace("{item}", _item(row)[:1600])
        wrapped = decorate(wrapped, rng, T.COT_PREFIXES, T.COT_SUFFIXES)
        return Prompt(
            _cap(perturb(wrapped, rng, noise)), _cap_sys(row.system) if rng.random() < 0.3 else None
        )

    return render


def rubric_source(
    corpus: Corpus, templates: tuple[str, ...] | None = None, noise: float = 0.5, p_own: float = 0.0
) -> PromptSource:
    """Judge / rubric prompts from rubric.jsonl (optionally limited to ``templates``), plus own judge templates."""
    rows = [r for r in corpus.kind("rubric") if templates is None or r.template in templates]
    rows = rows or list(corpus.kind("rubric"))
    qa = corpus.benign_in("en")

    def render(rng: random.Random) -> Prompt:
        if p_own and rng.random() < p_own:
            q, a, b = (
                rng.choice(qa).text[:500],
                rng.choice(qa).text[:700],
                rng.choice(qa).text[:700],
            )
            text = (
                spin(rng.choice(T.RUBRIC_OWN), rng)
                .replace("{q}", q)
                .replace("{a}", a)
                .replace("{b}", b)
            )
            return Prompt(_cap(perturb(text, rng, noise)))
        row = rng.choice(rows)
        extra = spin(rng.choice(T.RUBRIC_EXTRA), rng) if noise else ""
        text = row.text[: MAX_PROMPT_CHARS - len(extra)] + extra
        return Prompt(_cap(perturb(text, rng, noise * 0.3)), _cap_sys(row.system))

    return render


def policy_source(noise: float = 0.8) -> PromptSource:
    """ "Censorship-safe" rewriting requests over politically sensitive topics (own templates)."""

    def render(rng: random.Random) -> Prompt:
        q = rng.choice(T.POLICY_QUESTIONS).replace("{topic}", rng.choice(T.POLICY_TOPICS))
        text = spin(rng.choice(T.POLICY_WRAPPERS), rng).replace("{q}", q)
        return Prompt(
            _cap(perturb(decorate(text, rng, T.COT_PREFIXES, T.COT_SUFFIXES, 0.2, 0.2), rng, noise))
        )

    return render


def agentic_source(
    corpus: Corpus, weights: dict[str, float], system: str | None = None, noise: float = 0.5
) -> PromptSource:
    """Agentic harvesting: tool use, coding, data analysis, computer use and vision in ``weights`` proportions.

    Tool use declares the item's tools; computer use declares 1-3 tools and 1-2 screenshots;
    vision attaches 1-4 images.
    """
    pools = {k: corpus.kind(k) for k in ("tooluse", "coding", "analysis", "computeruse")}
    keys = list(weights)
    w = [weights[k] for k in keys]

    def render(rng: random.Random) -> Prompt:
        kind = rng.choices(keys, weights=w)[0]
        if kind == "vision":
            target = rng.choice(pools["computeruse"]).text[:200]
            text = spin(rng.choice(T.VISION_PROMPTS), rng).replace("{item}", target)
            return Prompt(_cap(perturb(text, rng, noise)), _cap_sys(system), 0, rng.randint(1, 4))
        row = rng.choice(pools[kind])
        text = spin(rng.choice(T.AGENTIC_WRAPPERS), rng).replace("{item}", row.text)
        tools, images = len(row.tool_names), 0
        if kind == "computeruse":
            tools, images = rng.randint(1, 3), rng.randint(1, 2)
        elif kind in ("coding", "analysis"):
            tools = rng.randint(2, 8)
        return Prompt(
            _cap(perturb(text, rng, noise)), _cap_sys(system or row.system), tools, images
        )

    return render


def _ticket(rng: random.Random) -> str:
    p = T.TICKET_PARTS
    n = str(rng.randint(100, 99999))
    parts = [
        rng.choice(p["greet"]),
        f"I have a problem: {rng.choice(p['product'])} {rng.choice(p['issue'])}.",
        rng.choice(p["detail"]),
        rng.choice(p["detail"]),
        rng.choice(p["sign"]),
    ]
    text = "\n".join(x for x in parts if x)
    return (
        text.replace("{n}", n)
        .replace("{month}", rng.choice(p["month"]))
        .replace("{name}", rng.choice(p["name"]))
    )


def enterprise_source(template: str) -> PromptSource:
    """One enterprise batch job: a fixed template filled with a fresh synthetic support ticket."""

    fixed = spin(template, random.Random(template))

    def render(rng: random.Random) -> Prompt:
        body = f"Ticket #{rng.randint(10**5, 10**7)}\n{_ticket(rng)}"
        return Prompt(fixed.replace("{ticket}", body))

    return render


def mix_source(parts: list[tuple[PromptSource, float]]) -> PromptSource:
    """Draw one of several sources per request, with the given weights."""
    sources = [s for s, _ in parts]
    weights = [w for _, w in parts]

    def render(rng: random.Random) -> Prompt:
        return rng.choices(sources, weights=weights)[0](rng)

    return render


def plain_source(corpus: Corpus, kind: str, noise: float = 0.5) -> PromptSource:
    """Items of one corpus kind as their public pipeline sends them (e.g. self-instruct generation prompts)."""
    rows = corpus.kind(kind)

    def render(rng: random.Random) -> Prompt:
        row = rng.choice(rows)
        return Prompt(
            _cap(perturb(row.text, rng, noise)), _cap_sys(row.system), len(row.tool_names)
        )

    return render
