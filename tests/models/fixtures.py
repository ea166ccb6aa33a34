"""Event factories for the engine tests: small hand-made sequences, event time in ms."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from models.event import RequestEvent

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000

QUESTIONS = [
    "What is {a} times {b}?",
    "How many primes are there below {a}?",
    "A train leaves at {a} km/h and another at {b} km/h; when do they meet?",
    "Find the derivative of x^{a} + {b}x.",
    "Is {a} a perfect square?",
    "What is the sum of the first {a} odd numbers?",
]
COT_WRAPPERS = [
    "{q} Show your complete reasoning process and put your final answer in \\boxed{{}}.",
    "{q} Please lay out all of your reasoning before giving the final answer.",
    "{q} Spell out your full thought process, every intermediate step.",
]
CHAT = [
    "Can you suggest a name for my {a}-year-old cat?",
    "What's a good recipe for dinner with {a} eggs?",
    "Translate 'good morning' into French.",
    "Write a short birthday message for my friend who turns {a}.",
    "What are the opening hours of museums usually?",
    "Summarise the plot of Hamlet in {a} sentences.",
    "How do I make risotto? Walk me through it step by step.",
]


def event(account: str = "acct-1", ts: int = T0, n: int = 0, **kw: Any) -> RequestEvent:
    """One request with plausible defaults; any field can be overridden."""
    base: dict[str, Any] = {
        "request_id": f"{account}-{n}-{ts}",
        "ts": ts,
        "account_id": account,
        "model": "claude-sonnet-4",
        "input_tokens": 60,
        "output_tokens": 300,
        "account_created_ts": T0 - 400 * DAY,
        "account_tier": "pro",
        "client_ip": "203.0.113.7",
        "asn": 64500,
        "user_agent": "anthropic-sdk-python/0.40.0",
        "status": 200,
        "prompt": "hello",
    }
    base.update(kw)
    return RequestEvent(**base)


def harvester(account: str = "bad-1", n: int = 60, start: int = T0, gap_ms: int = MIN, seed: int = 1,
              **kw: Any) -> Iterator[RequestEvent]:
    """A young account sending CoT-extraction prompts with maxed outputs at a steady pace."""
    rng = random.Random(seed)
    defaults: dict[str, Any] = {
        "account_created_ts": start - 2 * DAY,
        "account_tier": "free",
        "client_ip": f"198.51.100.{rng.randint(2, 250)}",
        "asn": 64666,
    }
    defaults.update(kw)
    for i in range(n):
        q = rng.choice(QUESTIONS).format(a=rng.randint(2, 999), b=rng.randint(2, 999))
        prompt = rng.choice(COT_WRAPPERS).format(q=q)
        yield event(account, start + i * gap_ms + rng.randint(-2000, 2000), i, prompt=prompt,
                    output_tokens=rng.randint(2500, 5000), reasoning_tokens=rng.randint(2000, 6000),
                    **defaults)


def chatter(account: str = "user-1", n: int = 30, start: int = T0, seed: int = 2, **kw: Any) -> Iterator[RequestEvent]:
    """An ordinary chat user: irregular gaps, short answers, one "step by step" now and then."""
    rng = random.Random(seed)
    ts = start
    for i in range(n):
        ts += int(rng.expovariate(1 / (4 * MIN)))
        prompt = rng.choice(CHAT).format(a=rng.randint(2, 40))
        yield event(account, ts, i, prompt=prompt, output_tokens=rng.randint(80, 600), **kw)


def interleave(*streams: Iterator[RequestEvent]) -> list[RequestEvent]:
    """Merge event streams by event time (stable: ties keep stream order)."""
    events = [e for s in streams for e in s]
    events.sort(key=lambda e: e.ts)
    return events
