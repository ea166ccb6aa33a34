"""Shared planning types: request drafts, lazily rendered prompts, the simulation context.

A population builder appends :class:`~streams.simulate.identities.Account` objects to the
context and returns :class:`Draft` tuples (one per request). Prompts are rendered only at write
time from ``(source, seed)``, so a 400k-event plan stays small in memory. Times are epoch ms,
sizes are tokens.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from streams.simulate.corpus import Corpus
from streams.simulate.identities import DAY_MS, HOUR_MS, Account, IpSpace

__all__ = [
    "BASE_MODELS",
    "NEW_MODEL",
    "Draft",
    "Prompt",
    "PromptRegistry",
    "PromptSource",
    "SimContext",
    "estimate_tokens",
    "pick_model",
]

NEW_MODEL = "claude-next"
BASE_MODELS: tuple[tuple[str, float], ...] = (
    ("claude-sonnet-4", 0.62),
    ("claude-haiku-4", 0.23),
    ("claude-opus-4", 0.15),
)
#: Decode time per output/reasoning token (ms) by model, for latency_ms.
_MS_PER_TOKEN = {
    "claude-sonnet-4": 14.0,
    "claude-haiku-4": 6.0,
    "claude-opus-4": 26.0,
    NEW_MODEL: 16.0,
}


class Prompt(NamedTuple):
    """A rendered user turn (≤ 2,000 chars), optional system prompt, tools and images it declares."""

    text: str
    system: str | None = None
    tool_count: int = 0
    image_count: int = 0


PromptSource = Callable[[random.Random], Prompt]


class Draft(NamedTuple):
    """One planned request. ``client_ip``/``asn`` None → the account's usual network; prompt = ``sources[source](Random(seed))``.

    ``context_tokens`` are input tokens beyond the rendered prompt (history, attached files);
    ``tool_count``/``image_count`` are added to what the prompt declares.
    """

    ts: int
    account: int
    model: str
    client_ip: str | None
    asn: int | None
    source: int
    seed: int
    context_tokens: int
    output_tokens: int
    reasoning_tokens: int
    status: int
    latency_ms: int
    tool_count: int
    image_count: int


class PromptRegistry:
    """Index of prompt sources; drafts refer to a source by its integer id."""

    def __init__(self) -> None:
        self._sources: list[PromptSource] = []

    def add(self, source: PromptSource) -> int:
        """Register ``source`` and return its id."""
        self._sources.append(source)
        return len(self._sources) - 1

    def render(self, source: int, seed: int) -> Prompt:
        """Render the prompt of one draft (deterministic for ``(source, seed)``)."""
        return self._sources[source](random.Random(seed))


def estimate_tokens(text: str | None) -> int:
    """Rough tokenizer: UTF-8 bytes / 4 (≈ 4 chars per English token, ≈ 0.75 token per CJK char)."""
    if not text:
        return 0
    return len(text.encode("utf-8")) // 4 + 1


def pick_model(
    rng: random.Random, favourite: str, ts: int, release_ms: int, adoption: float = 0.12
) -> str:
    """Benign model choice: mostly the account's favourite; the new model is adopted slowly after release.

    The share of ``claude-next`` grows as ``adoption * (1 - exp(-(ts - release_ms) / 4 h))``.
    """
    if ts >= release_ms and rng.random() < adoption * (
        1.0 - math.exp(-(ts - release_ms) / (4 * HOUR_MS))
    ):
        return NEW_MODEL
    if rng.random() < 0.85:
        return favourite
    return rng.choices([m for m, _ in BASE_MODELS], weights=[w for _, w in BASE_MODELS])[0]


@dataclass
class SimContext:
    """Everything a population builder needs; accounts are appended in build order."""

    seed: int
    start_ms: int
    end_ms: int
    scale: float
    corpus: Corpus
    ips: IpSpace
    registry: PromptRegistry
    accounts: list[Account] = field(default_factory=list)

    @property
    def hours(self) -> float:
        """Capture length in hours."""
        return (self.end_ms - self.start_ms) / HOUR_MS

    @property
    def release_ms(self) -> int:
        """When ``claude-next`` becomes available: half-way through the capture."""
        return self.start_ms + (self.end_ms - self.start_ms) // 2

    def rng(self, name: str) -> random.Random:
        """Independent RNG for one population, so populations never shift each other's draws."""
        return random.Random(f"{self.seed}:{name}")

    def count(self, base: float, minimum: int = 1) -> int:
        """``base`` accounts scaled by ``scale`` (rounded), at least ``minimum``."""
        return max(minimum, round(base * self.scale))

    def add_account(self, account: Account) -> int:
        """Register an account; returns its index for :attr:`Draft.account`."""
        self.accounts.append(account)
        return len(self.accounts) - 1

    def old_created_ts(self, rng: random.Random, min_days: float, max_days: float) -> int:
        """A creation time ``min_days``..``max_days`` before the capture (log-uniform)."""
        days = math.exp(rng.uniform(math.log(min_days), math.log(max_days)))
        return self.start_ms - int(days * DAY_MS)

    def draft(
        self,
        rng: random.Random,
        *,
        ts: int,
        account: int,
        model: str,
        source: int,
        output_tokens: int,
        reasoning_tokens: int = 0,
        context_tokens: int = 0,
        net: tuple[str, int] | None = None,
        tool_count: int = 0,
        image_count: int = 0,
        p429: float = 0.005,
        p500: float = 0.003,
    ) -> Draft:
        """Build a draft with a sampled outcome: status (200/429/500) and latency_ms.

        ``net`` = ``(client_ip, asn)`` overrides the account's usual network for this request.

        Rejected (429) or failed (500) requests carry no output or reasoning tokens.
        """
        r = rng.random()
        status = 429 if r < p429 else 500 if r < p429 + p500 else 200
        if status != 200:
            output_tokens = reasoning_tokens = 0
            latency = int(rng.lognormvariate(math.log(120 if status == 429 else 2500), 0.5))
        else:
            per_tok = _MS_PER_TOKEN.get(model, 15.0)
            ttft = rng.lognormvariate(math.log(600 + context_tokens * 0.02), 0.35)
            latency = int(
                ttft + (output_tokens + reasoning_tokens) * per_tok * rng.uniform(0.8, 1.25)
            )
        ip, asn = net if net is not None else (None, None)
        return Draft(
            ts,
            account,
            model,
            ip,
            asn,
            source,
            rng.getrandbits(62),
            context_tokens,
            output_tokens,
            reasoning_tokens,
            status,
            min(latency, 86_400_000),
            tool_count,
            image_count,
        )
