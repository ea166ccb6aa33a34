"""All per-request text signals in one call: template ids, SimHash, intents, excerpt.

Contract
--------
* :func:`text_signals` never raises on any strings (or ``None``) and is deterministic
  across processes (no ``PYTHONHASHSEED`` dependence).
* ``excerpt`` is built from the masked skeleton (:func:`models.fingerprint.skeleton`):
  at most :data:`EXCERPT_CHARS` characters, never raw digits, quoted spans, code, URLs
  or e-mail addresses.
* System prompts repeat across requests; their fingerprint is memoised in a bounded cache.

Examples
--------
>>> sig = text_signals("Email bob@corp.com: why is 17*3 = 51? Show your full reasoning process.")
>>> sig.excerpt
'email <url>: why is 0*0 = 0? show your full reasoning process.'
>>> sig.intents[0] >= 0.6
True
>>> sig.sys_template is None
True
>>> text_signals("hi", "You are a helpful assistant.").sys_template == template_id(
...     "You are a helpful assistant.")
True

"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

from models.fingerprint import fingerprint, template_id
from models.intents import INTENTS, intent_scores

__all__ = ["TextSignals", "text_signals", "EXCERPT_CHARS", "INTENTS"]

#: Longest excerpt attached to an alert (the alert contract allows 160).
EXCERPT_CHARS = 120

_SYS_CACHE_MAX = 4096
_sys_cache: OrderedDict[str, int] = OrderedDict()


class TextSignals(NamedTuple):
    """Text-derived features of one request (immutable; a named tuple because one is built
    per analysed request and a frozen dataclass costs 2 µs to build, this 0.3 µs).

    Attributes
    ----------
    template
        64-bit id of the prompt's wrapper (head and tail tokens of the skeleton).
    simhash
        64-bit SimHash of the skeleton's head and tail shingles.
    intents
        Scores in [0, 1] aligned with :data:`models.intents.INTENTS`.
    excerpt
        Redacted excerpt (≤ 120 chars) of the skeleton.
    sys_template
        Template id of the system prompt, or ``None`` when there is none.
    head
        64-bit id of the first segment (shared by prefix-only wrappers).
    tail
        64-bit id of the last segment (shared by suffix-only wrappers).
    digest
        64-bit hash of the raw prompt (exact repeats).
    """

    template: int
    simhash: int
    intents: tuple[float, ...]
    excerpt: str
    sys_template: int | None
    head: int = 0
    tail: int = 0
    digest: int = 0


def _sys_template(system_prompt: str) -> int:
    hit = _sys_cache.get(system_prompt)
    if hit is None:
        hit = template_id(system_prompt)
        _sys_cache[system_prompt] = hit
        if len(_sys_cache) > _SYS_CACHE_MAX:
            _sys_cache.popitem(last=False)
    else:
        _sys_cache.move_to_end(system_prompt)
    return hit


def text_signals(
    prompt: str | None,
    system_prompt: str | None = None,
    tool_count: int = 0,
    image_count: int = 0,
) -> TextSignals:
    """Compute every text signal of one request (see :class:`TextSignals`).

    Identical requests (same prompt, system prompt and tool/image presence) are served from
    a bounded LRU (:data:`TEXT_CACHE_MAX` entries): batch jobs and retries resend them.
    """
    key = (prompt, system_prompt, tool_count if tool_count < 6 else 6, image_count > 0)
    hit = _text_cache.get(key)
    if hit is not None:
        _text_cache.move_to_end(key)
        return hit
    sig = _compute(prompt, system_prompt, tool_count, image_count)
    _text_cache[key] = sig
    if len(_text_cache) > TEXT_CACHE_MAX:
        _text_cache.popitem(last=False)
    return sig


#: Entries of the identical-request cache (each holds one prompt string reference).
TEXT_CACHE_MAX = 2048
_text_cache: OrderedDict[tuple[str | None, str | None, int, bool], TextSignals] = OrderedDict()


def _compute(prompt: str | None, system_prompt: str | None, tool_count: int, image_count: int) -> TextSignals:
    fp = fingerprint(prompt)
    return _tuple_new(TextSignals, (
        fp.template,
        fp.simhash,
        intent_scores(prompt, system_prompt, tool_count, image_count),
        fp.skeleton[:EXCERPT_CHARS],
        _sys_template(system_prompt) if system_prompt else None,
        fp.head,
        fp.tail,
        fp.digest,
    ))


_tuple_new = tuple.__new__  # skips the Python-level TextSignals.__new__; the same tuple
