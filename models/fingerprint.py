"""Template fingerprints of a prompt: skeleton, template id, SimHash and LSH band keys.

Distillation pipelines wrap many different payloads (questions, answers to grade, code
issues) in one fixed wrapper: a preamble at the beginning and an instruction at the end.
This module reduces a prompt to that wrapper and hashes it, so that the engine can count
how often an account (or a group of accounts) re-uses the same template.

Contract
--------
* Every function is pure and deterministic across processes and machines: hashes come from
  :func:`hashlib.blake2b`, never from Python's randomised :func:`hash`.
* Cost is bounded whatever the input size: only the first ``max_chars`` characters and the
  last ``TAIL_CHARS`` characters are ever looked at.
* The skeleton never contains digits, quoted spans, code, URLs, e-mail addresses or long
  identifiers from the raw prompt, so it is safe to show in an alert excerpt.

Examples
--------
>>> skeleton('Rate answer #12 of "Bob" at https://x.io/a?b=1 (id 9f8e7d6c5b4a39281706)')
'rate answer #0 of "_" at <url> (id <id>)'
>>> a = "Return your final response within \\\\boxed{}. What is 2 + 2?"
>>> b = "Return your final response within \\\\boxed{}. How many legs has a spider?"
>>> head_id(a) == head_id(b)
True
>>> hamming(simhash64(a), simhash64(a))
0

"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

__all__ = [
    "TAIL_CHARS",
    "skeleton",
    "template_id",
    "head_id",
    "tail_id",
    "template_parts",
    "Fingerprint",
    "fingerprint",
    "simhash64",
    "hamming",
    "lsh_bands",
]

#: Characters kept from the end of a long prompt: pipelines put their closing instruction
#: ("put your final answer within \\boxed{}", "[[A]] or [[B]]") there.
TAIL_CHARS = 120

#: Word tokens of the skeleton that make up the head and the tail of a template.
HEAD_TOKENS = 12
TAIL_TOKENS = 8

#: SimHash looks at no more than this many shingles (bounds the cost per call).
MAX_SHINGLES = 48

_MASK64 = (1 << 64) - 1

# Order matters: code before quotes (code contains quotes), URLs/e-mails before ids and
# numbers (they contain digits), ids before numbers. Every pattern starts with a literal or
# a character class so the regex engine can skip ahead quickly (a leading \b or lookbehind
# would make it try every position).
_CODE_FENCE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)", re.S)
_BACKTICK = re.compile(r"`[^`\n]{1,200}`")
_URL = re.compile(r"(?:https?|ftp)://[^\s<>\"'`]+|www\.[^\s<>\"'`]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED = re.compile(
    r'"[^"\n]{1,300}"'
    r"|'(?<!\w')[^'\n]{1,300}'(?!\w)"
    r"|«[^»\n]{1,300}»|“[^”\n]{1,300}”|‘[^’\n]{1,300}’|„[^“”\n]{1,300}[“”]"
    r"|「[^」\n]{1,300}」|『[^』\n]{1,300}』"
)
# Long identifiers (keys, hashes, UUIDs): a digit followed by >= 7 letters/digits/-/_.
_ID = re.compile(r"[0-9][0-9a-z_\-]{7,}")
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_NL = "\x00"  # line-break marker inside the skeleton (not whitespace for str.split)
_SENT_END = ".?!:;。？！：；"


def _skel_lines(text: str, max_chars: int = 400) -> str:
    """Masked lowercase text, single spaces, line breaks kept as ``_NL`` tokens."""
    if not text:
        return ""
    if max_chars <= 0:
        raise ValueError(f"max_chars must be > 0, got {max_chars}")
    if len(text) > max_chars + TAIL_CHARS:
        text = text[:max_chars] + "\n…\n" + text[-TAIL_CHARS:]
    s = text.lower()
    if _NL in s:
        s = s.replace(_NL, " ")
    if "`" in s or "~~~" in s:
        s = _CODE_FENCE.sub(" <code> ", s)
        s = _BACKTICK.sub("<code>", s)
    if "://" in s or "www." in s:
        s = _URL.sub("<url>", s)
    if "@" in s:
        s = _EMAIL.sub("<url>", s)
    s = _QUOTED.sub('"_"', s)
    s = _ID.sub("<id>", s)
    s = _NUMBER.sub("0", s)
    return " ".join(s.replace("\n", " \x00 ").split())


def skeleton(text: str, max_chars: int = 400) -> str:
    """Return the lowercase, masked skeleton of ``text``.

    Parameters
    ----------
    text
        The raw prompt. Only ``text[:max_chars]`` and the last :data:`TAIL_CHARS`
        characters are read; the middle (the payload of a template) is replaced by ``…``.
    max_chars
        Number of leading characters kept (must be > 0). Larger keeps more of a long
        preamble at a proportional cost.

    Masks: fenced code and backtick spans -> ``<code>``, URLs and e-mails -> ``<url>``,
    quoted spans (``"…"``, ``'…'``, ``«…»``, ``“…”``, ``「…」``) -> ``"_"``, long hex or
    mixed identifiers -> ``<id>``, numbers -> ``0``; whitespace runs collapse to one space.

    Examples
    --------
    >>> skeleton("Solve  3x+5 = 11.\\n\\nUse `sympy` or ```python\\nprint(1)\\n```")
    'solve 0x+0 = 0. use <code> or <code>'
    >>> skeleton("Write to ana.p@example.org, ask «Кто ты?» or 'why'")
    'write to <url>, ask "_" or "_"'
    >>> len(skeleton("x" * 10_000)) <= 400 + 3 + 120
    True

    """
    return _flat(_skel_lines(text, max_chars))


def _flat(lines: str) -> str:
    if _NL not in lines:
        return lines
    return " ".join(lines.replace(_NL, " ").split())


def _h64(s: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


def _head_tail(lines: str) -> tuple[str, str]:
    """Head (first segment, ≤ HEAD_TOKENS tokens) and tail (last, ≤ TAIL_TOKENS tokens)."""
    if not lines:
        return "", ""
    toks = lines.split(" ")
    head: list[str] = []
    for t in toks[:HEAD_TOKENS]:
        if t == _NL:
            if head:
                break
            continue
        head.append(t)
        if t[-1] in _SENT_END:
            break
    tail: list[str] = []
    for t in reversed(toks[-TAIL_TOKENS - 1 :]):
        if t == _NL or (tail and t[-1] in _SENT_END):
            if tail:
                break
            continue
        tail.append(t)
        if len(tail) == TAIL_TOKENS:
            break
    tail.reverse()
    return " ".join(head), " ".join(tail)


class Fingerprint(NamedTuple):
    """Everything this module derives from one text, computed once."""

    skeleton: str
    template: int
    head: int
    tail: int
    simhash: int
    digest: int = 0  # 64-bit hash of the raw text: exact repeats (retries, resampling)


def fingerprint(text: str | None) -> Fingerprint:
    """Return skeleton, template id, head id, tail id and SimHash of ``text`` in one pass.

    >>> fp = fingerprint("Q: 2+2?\\nA: let's think step by step.")
    >>> fp.skeleton
    "q: 0+0? a: let's think step by step."
    >>> fp.template == template_id("Q: 2+2?\\nA: let's think step by step.")
    True

    """
    lines = _skel_lines(text or "")
    head, tail = _head_tail(lines)
    flat = _flat(lines)
    tokens = flat.split(" ") if flat else []
    return Fingerprint(
        flat,
        _h64(head + "|" + tail),
        _h64("h|" + head),
        _h64("t|" + tail),
        _simhash_tokens(tokens),
        _h64(text) if text else 0,
    )


def template_parts(text: str) -> tuple[int, int]:
    """Return ``(head_id, tail_id)``: 64-bit ids of the first and of the last segment.

    A segment is a line or a sentence of the skeleton; the head keeps its first
    ``HEAD_TOKENS`` word tokens, the tail its last ``TAIL_TOKENS``. A wrapper that only
    prefixes its payload ("Return your final response within \\\\boxed{}. {q}") shares the
    head id; one that only suffixes it ("{q} Please reason step by step…") shares the tail id.

    Examples
    --------
    >>> template_parts("") == template_parts("   ")
    True
    >>> h1, t1 = template_parts("What is 2+2? Answer step by step.")
    >>> h2, t2 = template_parts("Who wrote Hamlet?\\nAnswer step by step.")
    >>> (h1 == h2, t1 == t2)
    (False, True)

    """
    head, tail = _head_tail(_skel_lines(text or ""))
    return _h64("h|" + head), _h64("t|" + tail)


def head_id(text: str) -> int:
    """64-bit id of the first segment of the skeleton (see :func:`template_parts`)."""
    return template_parts(text)[0]


def tail_id(text: str) -> int:
    """64-bit id of the last segment of the skeleton (see :func:`template_parts`)."""
    return template_parts(text)[1]


def template_id(text: str) -> int:
    """Return the 64-bit template id of ``text``: hash of its head and tail tokens.

    Identical for prompts that share a wrapper at both ends and differ only in the payload
    between them; a one-sided wrapper is better matched with :func:`template_parts`.

    Examples
    --------
    >>> w = "You are a judge. Compare the two answers.\\n{}\\nOutput [[A]] or [[B]] only."
    >>> template_id(w.format("Paris is big")) == template_id(w.format("2+2=4, and 'x'"))
    True
    >>> template_id("hello there") == template_id("goodbye now")
    False
    >>> 0 <= template_id("anything") < 2**64
    True

    """
    head, tail = _head_tail(_skel_lines(text or ""))
    return _h64(head + "|" + tail)


# --- SimHash ---------------------------------------------------------------------------
#
# Each shingle's 64-bit hash is "spread" into a 512-bit integer holding one byte per bit
# (0 or 1). Summing the spread integers of ≤ 127 weighted shingles counts, for every bit
# position in parallel, how many shingles have that bit set -- without a Python loop over
# the 64 bits. Adding (128 - threshold) to every byte lifts the byte's top bit exactly when
# the count reaches the majority; bytes.translate then reads those top bits back.

_SPREAD_CACHE: dict[str, int] = {}
_SPREAD_CACHE_MAX = 50_000  # ~ 50k * (str + 512-bit int) ≈ 10 MB worst case
_TOPBIT = bytes((b >> 7) for b in range(256))
_TOPBIT_ASCII = bytes(ord("1") if b >= 128 else ord("0") for b in range(256))
_ONES = int.from_bytes(b"\x01" * 64, "little")


def _spread(shingle: str) -> int:
    v = _SPREAD_CACHE.get(shingle)
    if v is None:
        digest = hashlib.blake2b(shingle.encode("utf-8", "surrogatepass"), digest_size=64).digest()
        v = int.from_bytes(digest.translate(_TOPBIT), "little")
        if len(_SPREAD_CACHE) >= _SPREAD_CACHE_MAX:
            _SPREAD_CACHE.clear()  # bounded; results do not depend on cache state
        _SPREAD_CACHE[shingle] = v
    return v


def _shingles(tokens: list[str]) -> list[str]:
    """Unigrams and bigrams of the head and tail tokens, at most MAX_SHINGLES."""
    n = len(tokens)
    if n <= 16:
        sel = tokens
    else:
        sel = tokens[:12] + tokens[-6:]
    out = list(sel)
    out.extend([a + " " + b for a, b in zip(sel, sel[1:])])
    return out[:MAX_SHINGLES]


def simhash64(text: str) -> int:
    """Return the 64-bit SimHash of the skeleton's word unigrams and bigrams.

    Only the first 12 and last 6 word tokens of the skeleton are used (the wrapper), at most
    :data:`MAX_SHINGLES` shingles. Prompts from one template, even with a reworded wrapper,
    are a few bits apart; unrelated prompts are about 32 bits apart.

    Examples
    --------
    >>> a = simhash64("Please think step by step and show your full reasoning. Q: 17*3?")
    >>> b = simhash64("Please think step by step and show all your reasoning. Q: 12*9?")
    >>> c = simhash64("My cat keeps knocking plants off the windowsill, any tips?")
    >>> hamming(a, b) < hamming(a, c)
    True
    >>> simhash64("") == 0
    True

    """
    return _simhash_tokens(skeleton(text or "").split())


def _simhash_tokens(tokens: list[str]) -> int:
    if not tokens:
        return 0
    shingles = _shingles(tokens)
    total = 0
    for sh in shingles:
        total += _spread(sh)
    threshold = len(shingles) // 2 + 1  # strict majority
    total += (128 - threshold) * _ONES
    return int(total.to_bytes(64, "little").translate(_TOPBIT_ASCII)[::-1], 2)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes.

    >>> hamming(0b1011, 0b0001)
    2
    """
    return ((a ^ b) & _MASK64).bit_count()


def lsh_bands(h: int, bands: int = 4) -> tuple[int, ...]:
    """Split a 64-bit SimHash into ``bands`` band keys for near-duplicate bucketing.

    Two hashes within ``bands - 1`` bits of each other share at least one key (pigeonhole).
    Each key carries its band index in the top bits so keys of different bands never collide.

    Parameters
    ----------
    h
        A 64-bit SimHash.
    bands
        Number of bands, a divisor of 64 (1, 2, 4, 8, 16, 32 or 64).

    Examples
    --------
    >>> lsh_bands(0xFFFF_0000_0000_0001, 4)
    (1, 281474976710656, 562949953421312, 844424930197503)
    >>> lsh_bands(5, 3)
    Traceback (most recent call last):
    ...
    ValueError: bands must divide 64, got 3

    """
    if bands <= 0 or 64 % bands:
        raise ValueError(f"bands must divide 64, got {bands}")
    width = 64 // bands
    mask = (1 << width) - 1
    h &= _MASK64
    return tuple((i << 48) | ((h >> (i * width)) & mask) for i in range(bands))
