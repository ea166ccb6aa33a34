"""Paraphrase and surface noise for prompt text: spintax, typos, casing, prefixes/suffixes.

All functions are pure given the ``random.Random`` passed in. Spintax uses ``[[a|b|c]]``
(one alternative drawn per occurrence) so it never clashes with ``{slot}`` placeholders.
"""

from __future__ import annotations

import random
import re

__all__ = ["decorate", "perturb", "spin", "typos"]

_SPIN = re.compile(r"\[\[([^\[\]]*)\]\]")
_KEYS = "qwertyuiopasdfghjklzxcvbnm"


def spin(template: str, rng: random.Random) -> str:
    """Expand every ``[[a|b|c]]`` group to one alternative (alternatives may be empty).

    >>> spin("[[Hi|Hello]] there", random.Random(1)) in ("Hi there", "Hello there")
    True
    """
    return _SPIN.sub(lambda m: rng.choice(m.group(1).split("|")), template)


def typos(text: str, rng: random.Random, n: int) -> str:
    """Apply ``n`` keyboard typos (swap, drop, double, neighbour key) at random letter positions."""
    if len(text) < 4:
        return text
    chars = list(text)
    for _ in range(n):
        i = rng.randrange(1, len(chars) - 2)
        if not chars[i].isalpha():
            continue
        op = rng.randrange(4)
        if op == 0:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == 1:
            chars[i] = ""
        elif op == 2:
            chars[i] = chars[i] * 2
        else:
            chars[i] = rng.choice(_KEYS)
    return "".join(chars)


def decorate(
    text: str,
    rng: random.Random,
    prefixes: tuple[str, ...],
    suffixes: tuple[str, ...],
    p_prefix: float = 0.3,
    p_suffix: float = 0.3,
) -> str:
    """Maybe prepend one of ``prefixes`` and append one of ``suffixes`` (both spun)."""
    if prefixes and rng.random() < p_prefix:
        text = spin(rng.choice(prefixes), rng) + text
    if suffixes and rng.random() < p_suffix:
        text = text + spin(rng.choice(suffixes), rng)
    return text


def perturb(text: str, rng: random.Random, level: float = 1.0) -> str:
    """Surface noise a human or a sloppy script adds: casing, typos, whitespace.

    ``level`` scales the probabilities (0 = unchanged text).
    """
    if level <= 0 or not text:
        return text
    r = rng.random()
    if r < 0.12 * level:
        text = text.lower()
    elif r < 0.15 * level and text[:1].islower():
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.35 * level:
        text = typos(text, rng, 1 + int(rng.random() * 3 * level))
    r = rng.random()
    if r < 0.08 * level:
        text = text.replace(". ", ".  ", 2)
    elif r < 0.16 * level:
        text = text.rstrip() + rng.choice(("\n", " ", "\n\n", "  "))
    elif r < 0.2 * level:
        text = text.replace("\n\n", "\n", 3)
    return text
