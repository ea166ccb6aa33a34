"""Per-request intent scores from weighted lexicons (``models/lexicons/intents.yaml``).

Each intent of :data:`INTENTS` has three tiers of cues (strong, medium, weak), regular
expression fragments matched on the lowercased text. The score of an intent is

    min(1, 0.7 * strong + 0.3 * medium + 0.12 * weak)

where each term counts the *distinct* cues found in the prompt and system prompt together
(one phrase repeated ten times counts once). So a single weak cue ("step by step" in a
cooking question) stays at 0.12, one strong cue ("show your complete reasoning process",
``\\boxed{}``, ``<think>``) or a few medium ones reach >= 0.6.

Contract
--------
* ``intent_scores`` returns one float in [0, 1] per name of :data:`INTENTS`, in that order.
* It never raises on any string (or ``None``) and is deterministic.
* Cost is bounded: only the first :data:`HEAD_CHARS` and last :data:`TAIL_CHARS` characters
  of the prompt and of the system prompt are scanned; system prompts are memoised in a
  bounded cache because SDKs resend the same one on every call.
* Metadata: ``tool_count > 0`` adds :data:`TOOL_BONUS` to ``agentic``; ``image_count > 0``
  adds :data:`IMAGE_BONUS` to ``vision``.

Examples
--------
>>> s = dict(zip(INTENTS, intent_scores("How do I make risotto? Walk me through it step by step.")))
>>> s["cot"] <= 0.3
True
>>> s = dict(zip(INTENTS, intent_scores("Solve x^2=4. Show your complete reasoning process.")))
>>> s["cot"] >= 0.6
True
>>> round(dict(zip(INTENTS, intent_scores("Book a table for two", tool_count=3)))["agentic"], 2)
0.7

"""

from __future__ import annotations

import re
from collections import OrderedDict
from importlib import resources
from typing import Any

import yaml

try:  # Python 3.11+: re._parser; older: sre_parse
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _parser  # type: ignore[no-redef]

_LITERAL = _parser.LITERAL
_AT = _parser.AT
_SUBPATTERN = _parser.SUBPATTERN
_BRANCH = _parser.BRANCH
_IN = _parser.IN
_REPEATS = (_parser.MAX_REPEAT, _parser.MIN_REPEAT)

__all__ = [
    "INTENTS",
    "HEAD_CHARS",
    "TAIL_CHARS",
    "TOOL_BONUS",
    "IMAGE_BONUS",
    "intent_scores",
    "intent_cues",
]

INTENTS: tuple[str, ...] = (
    "cot",
    "rubric",
    "rewrite",
    "agentic",
    "coding",
    "analysis",
    "computer_use",
    "vision",
)

#: Characters scanned from the start / end of a text. Wrappers live at both ends; the
#: middle of a long prompt is payload (a document, an answer to grade, a code file).
HEAD_CHARS = 500
TAIL_CHARS = 200

#: Added to ``agentic`` when the request declares tools (``tool_count``), plus
#: ``TOOL_STEP`` per extra tool up to four: a request carrying function schemas is
#: tool-use by construction.
TOOL_BONUS = 0.6
TOOL_STEP = 0.05
#: Added to ``vision`` when the request carries images.
IMAGE_BONUS = 0.7

_TIERS = ("strong", "medium", "weak")
_RANK = {t: i for i, t in enumerate(_TIERS)}

_SYSTEM_CACHE_MAX = 4096


def _load_lexicon() -> tuple[dict[str, float], dict[str, dict[str, list[str]]]]:
    raw: Any = yaml.safe_load(
        resources.files("models").joinpath("lexicons/intents.yaml").read_text(encoding="utf-8")
    )
    weights = {t: float(raw["weights"][t]) for t in _TIERS}
    intents = raw["intents"]
    missing = set(INTENTS) - set(intents)
    if missing:
        raise ValueError(f"intents.yaml lacks intents {sorted(missing)}")
    return weights, intents


def _split_top(frag: str) -> list[str]:
    """Split a regex fragment on its top-level ``|`` (outside groups and classes)."""
    out, depth, cls, esc, cur = [], 0, False, False, []
    for ch in frag:
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif cls:
            cls = ch != "]"
        elif ch == "[":
            cls = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


def _keys(alt: str) -> list[str] | None:
    """Literal keys, one of which must occur in any match of ``alt`` (None: no key found).

    A key ``"w:word"`` is a whole token; ``"s:text"`` a substring of the lowercased text.
    """
    bounded = alt.startswith("\\b")
    items = list(_parser.parse(alt[2:] if bounded else alt))
    return _keys_items(items, bounded)


def _keys_items(items: list[Any], bounded: bool) -> list[str] | None:
    lit = []
    i = 0
    while i < len(items) and items[i][0] is _LITERAL:
        lit.append(chr(items[i][1]))
        i += 1
    if lit:
        run = "".join(lit)
        word = ""
        for ch in run:
            if not ch.isalnum():
                break
            word += ch
        complete = len(word) < len(run) or not _can_start_alnum(items[i:])
        if bounded and word and complete:
            return ["w:" + word]
        return ["s:" + run] if len(run) >= 2 or not run.isalnum() else None
    if not items:
        return None
    op, av = items[0]
    rest = items[1:]
    if op is _SUBPATTERN:
        return _keys_items(list(av[-1]) + rest, bounded)
    if op is _BRANCH:
        keys: list[str] = []
        for sub in av[1]:
            k = _keys_items(list(sub) + rest, bounded)
            if k is None:
                return None
            keys.extend(k)
        return keys
    return None


def _can_start_alnum(items: list[Any]) -> bool:
    """Whether the pattern ``items`` can begin with a letter or digit (conservative)."""
    if not items:
        return True  # the pattern may stop mid-word ("\\bevaluat")
    op, av = items[0]
    rest = items[1:]
    if op is _AT:
        return False
    if op is _LITERAL:
        return chr(av).isalnum()
    if op is _IN:
        return any(o is not _LITERAL or chr(a).isalnum() for o, a in av)
    if op is _SUBPATTERN:
        return _can_start_alnum(list(av[-1]) + rest)
    if op is _BRANCH:
        return any(_can_start_alnum(list(sub) + rest) for sub in av[1])
    if op in _REPEATS:
        lo, _, sub = av
        return _can_start_alnum(list(sub) + rest) or (lo == 0 and _can_start_alnum(rest))
    return True


class _Cue:
    __slots__ = ("intent", "tier", "regex", "bounded")

    def __init__(self, intent: int, tier: str, alt: str) -> None:
        self.intent = intent
        self.tier = tier
        self.bounded = alt.startswith("\\b")
        # A leading \b defeats the regex engine's literal-prefix search; check it in Python.
        self.regex = re.compile(alt[2:] if self.bounded else alt)
        if self.regex.groups:
            raise ValueError(f"intents.yaml: cue {alt!r} has a capturing group")


def _compile(
    intents: dict[str, dict[str, list[str]]],
) -> tuple[list[_Cue], dict[bytes, list[tuple[int, str]]], list[tuple[str, list[int]]],
           list[tuple[str, list[int]]], list[int], list[int]]:
    """Cues plus their literal keys. Every key is a *prefix* of any match of its cue, so a cue
    is only tried (``regex.match``) where one of its keys occurs, never scanned over the text."""
    cues: list[_Cue] = []
    words: dict[bytes, list[tuple[int, str]]] = {}
    subs: dict[str, list[int]] = {}
    always: list[int] = []
    always_ascii: list[int] = []
    for ii, name in enumerate(INTENTS):
        for tier in _TIERS:
            for frag in intents[name].get(tier) or []:
                for alt in _split_top(frag):
                    cid = len(cues)
                    cues.append(_Cue(ii, tier, alt))
                    keys = _keys(alt)
                    if keys is None:
                        (always_ascii if alt.isascii() else always).append(cid)
                        continue
                    for k in keys:
                        if k.startswith("w:"):
                            words.setdefault(k[2:].encode("utf-8"), []).append((cid, k[2:]))
                        else:
                            subs.setdefault(k[2:], []).append(cid)
    ascii_subs = [(k, v) for k, v in subs.items() if k.isascii()]
    other_subs = [(k, v) for k, v in subs.items() if not k.isascii()]
    return cues, words, ascii_subs, other_subs, always, always_ascii


WEIGHTS, _LEXICON = _load_lexicon()
_CUES, _WORD_KEYS, _ASCII_SUBS, _OTHER_SUBS, _ALWAYS, _ALWAYS_ASCII = _compile(_LEXICON)
_WORD_SET = frozenset(_WORD_KEYS)
#: whole-word key -> cue ids (a word key's cue can only match where the key is a whole word)
_WORD_KEYS_STR: dict[str, list[int]] = {}
for _w, _items in _WORD_KEYS.items():
    _WORD_KEYS_STR.setdefault(_w.decode("utf-8"), []).extend(cid for cid, _ in _items)
_WORD_KEY_TEXT = {w: w.decode("utf-8") for w in _WORD_KEYS}
# Token splitter: ASCII punctuation -> space (UTF-8 bytes >= 0x80 untouched, so words in
# any script survive).
_PUNCT = bytes(b if (chr(b).isalnum() or b >= 0x80) else 0x20 for b in range(256))
_PUNCT = bytes(b + 32 if 65 <= b <= 90 else v for b, v in enumerate(_PUNCT))


def _window(text: str) -> str:
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    return text.lower()


_EMPTY: tuple[frozenset[tuple[str, str]], ...] = tuple(frozenset() for _ in INTENTS)


def _scan(text: str) -> tuple[frozenset[tuple[str, str]], ...]:
    """Distinct ``(tier, cue text)`` matches per intent."""
    if not text:
        return _EMPTY
    low = _window(text)
    cues = _CUES
    hits: list[tuple[int, int, int, int, str, str]] = []
    tried: set[tuple[int, int]] = set()

    def at(cid: int, key: str) -> None:
        cue = cues[cid]
        rx = cue.regex
        pos = low.find(key)
        while pos >= 0:
            if (cid, pos) not in tried:
                tried.add((cid, pos))
                if not (cue.bounded and pos and (low[pos - 1].isalnum() or low[pos - 1] == "_")):
                    m = rx.match(low, pos)
                    if m is not None:
                        en = m.end()
                        hits.append((cue.intent, _RANK[cue.tier], pos - en, pos, cue.tier, m.group()))
            pos = low.find(key, pos + 1)

    # word keys: try their cues only where the key occurs as a whole word
    toks = low.encode("utf-8", "surrogatepass").translate(_PUNCT).split()
    for wb in _WORD_SET.intersection(toks):
        w = _WORD_KEY_TEXT[wb]
        lw = len(w)
        ids = _WORD_KEYS_STR[w]
        pos = low.find(w)
        while pos >= 0:
            end = pos + lw
            if not ((pos and (low[pos - 1].isalnum() or low[pos - 1] == "_"))
                    or (end < len(low) and low[end].isalnum())):
                for cid in ids:
                    cue = cues[cid]
                    mm = cue.regex.match(low, pos)
                    if mm is not None:
                        hits.append((cue.intent, _RANK[cue.tier], pos - mm.end(), pos, cue.tier, mm.group()))
            pos = low.find(w, end)
    for key, ids in _ASCII_SUBS:
        if key in low:
            for cid in ids:
                at(cid, key)
    scan_all = _ALWAYS_ASCII
    if not low.isascii():
        for key, ids in _OTHER_SUBS:
            if key in low:
                for cid in ids:
                    at(cid, key)
        scan_all = _ALWAYS_ASCII + _ALWAYS
    for cid in scan_all:
        cue = cues[cid]
        for m in cue.regex.finditer(low):
            st, en = m.span()
            if cue.bounded and st and (low[st - 1].isalnum() or low[st - 1] == "_"):
                continue
            hits.append((cue.intent, _RANK[cue.tier], st - en, st, cue.tier, m.group()))
    if not hits:
        return _EMPTY
    # Within an intent, a match overlapping a stronger (or longer) one is the same cue
    # seen twice ("step by step" inside "think step by step"): keep the stronger only.
    hits.sort()
    found: list[set[tuple[str, str]]] = [set() for _ in INTENTS]
    spans: list[list[tuple[int, int]]] = [[] for _ in INTENTS]
    for intent, _, neglen, st, tier, txt in hits:
        en = st - neglen
        taken = spans[intent]
        if any(a < en and st < b for a, b in taken):
            continue
        taken.append((st, en))
        found[intent].add((tier, txt))
    return tuple(frozenset(f) for f in found)


_system_cache: OrderedDict[str, tuple[frozenset[tuple[str, str]], ...]] = OrderedDict()


def _scan_system(system_prompt: str) -> tuple[frozenset[tuple[str, str]], ...]:
    hit = _system_cache.get(system_prompt)
    if hit is not None:
        _system_cache.move_to_end(system_prompt)
        return hit
    res = _scan(system_prompt)
    _system_cache[system_prompt] = res
    if len(_system_cache) > _SYSTEM_CACHE_MAX:
        _system_cache.popitem(last=False)
    return res


def intent_cues(
    prompt: str | None, system_prompt: str | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Return the distinct ``(tier, cue)`` matches per intent, for explanations in alerts.

    >>> intent_cues("Think step by step. Final answer in \\\\boxed{}.")["cot"]
    [('medium', 'final answer'), ('medium', 'think step by step'), ('strong', '\\\\boxed')]
    """
    p = _scan(prompt or "")
    s = _scan_system(system_prompt) if system_prompt else _EMPTY
    return {name: sorted(a | b) for name, a, b in zip(INTENTS, p, s)}


def intent_scores(
    prompt: str | None,
    system_prompt: str | None = None,
    tool_count: int = 0,
    image_count: int = 0,
) -> tuple[float, ...]:
    """Score every intent of :data:`INTENTS` in [0, 1] for one request.

    Parameters
    ----------
    prompt
        The user message (``None`` or empty gives zeros except metadata bonuses).
    system_prompt
        The system prompt if any; its cues count with the prompt's (deduplicated).
    tool_count
        Number of tools/functions declared with the request; > 0 raises ``agentic``.
    image_count
        Number of images attached; > 0 raises ``vision``.

    Examples
    --------
    >>> sc = intent_scores("[[A]] or [[B]]? Output your final verdict.")
    >>> sc[INTENTS.index("rubric")]
    1.0
    >>> intent_scores(None, None, 0, 2)[INTENTS.index("vision")]
    0.7
    >>> intent_scores("")
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    """
    p = _scan(prompt) if prompt else _EMPTY
    s = _scan_system(system_prompt) if system_prompt else _EMPTY
    ws, wm, ww = WEIGHTS["strong"], WEIGHTS["medium"], WEIGHTS["weak"]
    scores = []
    for i in range(len(INTENTS)):
        cues = p[i] | s[i] if s[i] else p[i]
        raw = 0.0
        for tier, _ in cues:
            raw += ws if tier == "strong" else wm if tier == "medium" else ww
        scores.append(raw)
    if tool_count and tool_count > 0:
        scores[3] += TOOL_BONUS + TOOL_STEP * min(tool_count - 1, 4)
    if image_count and image_count > 0:
        scores[7] += IMAGE_BONUS
    return tuple(round(min(1.0, max(0.0, x)), 4) for x in scores)


def __getattr__(name: str) -> Any:
    # ``text_signals`` lives in models/text.py; re-exported lazily to avoid an import cycle.
    if name in ("text_signals", "TextSignals"):
        from models import text

        return getattr(text, name)
    raise AttributeError(name)
