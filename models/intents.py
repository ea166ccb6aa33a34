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

How a text is scanned: a cue is tried (``regex.match``) only where one of its literal
prefixes occurs (the head of its regex spelled out, ``"the current sheet"``, ``"[[a]]"``),
and all the prefixes of all cues are found in one pass by an Aho-Corasick automaton
(``ahocorasick_rs``; without it a pure-Python stand-in gives the same results, slowly).
A cue that starts with ``\\b`` only counts at a word start; one whose key is a whole word
(:func:`_keys`) only where that word stands as a whole word, and only if the word is also,
somewhere in the text, a token of its split on ASCII punctuation.

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
from bisect import bisect_right
from collections import OrderedDict
from importlib import resources
from typing import AbstractSet, Any

import yaml

try:  # the prefix finder (Rust); without it the pure-Python _FindAll, same results, slower
    import ahocorasick_rs
except ImportError:  # pragma: no cover - the tests compare both finders on the same texts
    ahocorasick_rs = None  # type: ignore[assignment]

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
    __slots__ = ("intent", "tier", "rank", "regex", "bounded", "keys")

    def __init__(self, intent: int, tier: str, alt: str) -> None:
        self.intent = intent
        self.tier = tier
        self.rank = _RANK[tier]
        self.bounded = alt.startswith("\\b")
        # A leading \b is checked in Python: the regex is only tried where a prefix occurs.
        self.regex = re.compile(alt[2:] if self.bounded else alt)
        if self.regex.groups:
            raise ValueError(f"intents.yaml: cue {alt!r} has a capturing group")
        #: :func:`_keys` of the cue (None: no key, its matches are taken as ``finditer`` does).
        self.keys = _keys(alt)


#: Bounds of :func:`_prefixes`: characters per prefix, prefixes per cue.
_PREFIX_CHARS = 24
_PREFIXES_MAX = 1024


def _prefixes(cue: _Cue) -> list[str]:
    """Literal strings, one of which starts every match of ``cue`` ([] if one would be empty).

    Spells out the head of the regex: literals, small character classes, optional parts and
    alternatives. Any other construct ends a prefix where it stands, which keeps it valid, so
    the strings are at least as long as the cue's keys and most are much longer
    (``"the current sheet"`` where the key is the word ``"the"``)."""
    done: list[str] = []
    todo: list[tuple[str, list[Any]]] = [("", list(_parser.parse(cue.regex.pattern)))]
    while todo:
        pre, items = todo.pop()
        while True:
            if not items or len(pre) >= _PREFIX_CHARS:
                done.append(pre)
                break
            op, av = items[0]
            rest = items[1:]
            if op is _LITERAL:
                pre += chr(av)
                items = rest
                continue
            if op is _AT:  # \b consumes nothing: the matches of `rest` include ours
                items = rest
                continue
            if op is _SUBPATTERN and not av[1] and not av[2]:  # a group without flags
                items = list(av[-1]) + rest
                continue
            alts: list[list[Any]] | None = None
            if op is _BRANCH:
                alts = [list(sub) + rest for sub in av[1]]
            elif op is _IN and len(av) <= 4 and all(o is _LITERAL for o, _ in av):
                alts = [[(_LITERAL, a)] + rest for _, a in av]
            elif op in _REPEATS and av[1] == 1:  # x? (or exactly one x)
                alts = [list(av[2]) + rest] + ([rest] if av[0] == 0 else [])
            elif op in _REPEATS and av[0] >= 1:  # x+, x{2,}: a match starts with an x
                alts = [list(av[2])]
            if alts is None or len(done) + len(todo) + len(alts) > _PREFIXES_MAX:
                done.append(pre)
                break
            todo.extend((pre, a) for a in alts[1:])
            items = alts[0]
    if "" in done:
        return []
    out: list[str] = []
    for s in sorted(set(done)):  # drop strings that extend another one: found anyway
        if not (out and s.startswith(out[-1])):
            out.append(s)
    return out


def _literal(cue: _Cue) -> tuple[str, int, bool | None] | None:
    """``(text, length, last character is a word character)`` of a cue that is a literal
    followed by ``\\b`` (None in the third place without it); None for any other cue."""
    items = list(_parser.parse(cue.regex.pattern))
    boundary = bool(items) and items[-1] == (_AT, _parser.AT_BOUNDARY)
    if boundary:
        items = items[:-1]
    if not items or any(op is not _LITERAL for op, _ in items):
        return None
    text = "".join(chr(av) for _, av in items)
    last = text[-1].isalnum() or text[-1] == "_"
    return text, len(text), last if boundary else None


#: Where a prefix occurs, each cue to try there: ``(mode, keys, rx, intent, rank, tier)``.
#:
#: * mode 0 or _BOUNDED (the cue starts with \b: only at a word start): ``rx`` is the regex;
#:   ``keys`` is None where one of the cue's substring keys starts the prefix (it occurs:
#:   nothing more to check), else all the keys of the cue, substring keys first, as
#:   ``(key, length, UTF-8 of a whole-word key or None)``: one of them must occur there.
#: * | _LITERAL_CUE: the prefix is the whole cue, maybe followed by \b; ``rx`` is
#:   :func:`_literal` of it: no regex to run.
#: * _WORD_CUE: the cue is ``\bword\b`` with the whole-word key ``word``; ``rx`` is
#:   ``(word, length, UTF-8)``, ``keys`` None.
#: * _SEQUENTIAL: a cue without keys, whose matches are taken left to right without overlap
#:   as ``finditer`` does; ``keys`` is the cue's index.
_Entry = tuple[int, Any, Any, int, int, str]
_BOUNDED, _SEQUENTIAL, _LITERAL_CUE, _WORD_CUE = 1, 2, 4, 8


def _compile(
    intents: dict[str, dict[str, list[str]]],
) -> tuple[list[_Cue], list[str], list[tuple[_Entry, ...]], list[int], list[int]]:
    """Cues; the literal prefixes of all cues and, for each, the cues to try where it occurs;
    the cues without prefixes (non-ASCII, ASCII), matched with ``finditer`` over the text."""
    cues: list[_Cue] = []
    by_prefix: dict[str, list[_Entry]] = {}
    always: list[int] = []
    always_ascii: list[int] = []
    for ii, name in enumerate(INTENTS):
        for tier in _TIERS:
            for frag in intents[name].get(tier) or []:
                for alt in _split_top(frag):
                    cid = len(cues)
                    cue = _Cue(ii, tier, alt)
                    cues.append(cue)
                    prefixes = _prefixes(cue)
                    if not prefixes:
                        (always_ascii if alt.isascii() else always).append(cid)
                        continue
                    keys = sorted(
                        {(k[2:], len(k) - 2, k[2:].encode("utf-8") if k[0] == "w" else None)
                         for k in cue.keys or ()},
                        key=lambda k: (k[2] is not None, k[0]),
                    )
                    lit = _literal(cue)
                    for pre in prefixes:
                        entry: _Entry
                        if cue.keys is None:
                            entry = (_SEQUENTIAL, cid, cue.regex, ii, cue.rank, tier)
                        elif (cue.bounded and lit is not None and lit[0] == pre and lit[2]
                              and cue.keys == ["w:" + pre]):
                            entry = (_WORD_CUE, None, (pre, len(pre), pre.encode("utf-8")),
                                     ii, cue.rank, tier)
                        else:
                            free = any(wb is None and pre.startswith(k) for k, _, wb in keys)
                            mode = _BOUNDED if cue.bounded else 0
                            rx: Any = cue.regex
                            if lit is not None and lit[0] == pre:
                                mode |= _LITERAL_CUE
                                rx = lit
                            entry = (mode, None if free else tuple(keys), rx, ii, cue.rank, tier)
                        by_prefix.setdefault(pre, []).append(entry)
    return cues, list(by_prefix), [tuple(v) for v in by_prefix.values()], always, always_ascii


WEIGHTS, _LEXICON = _load_lexicon()
_CUES, _PREFIXES, _PREFIX_ENTRIES, _ALWAYS, _ALWAYS_ASCII = _compile(_LEXICON)
_ALWAYS_ANY = _ALWAYS_ASCII + _ALWAYS
# Token splitter for the whole-word keys: ASCII punctuation -> space (UTF-8 bytes >= 0x80
# untouched, so words in any script survive).
_PUNCT = bytes(b if (chr(b).isalnum() or b >= 0x80) else 0x20 for b in range(256))
_PUNCT = bytes(b + 32 if 65 <= b <= 90 else v for b, v in enumerate(_PUNCT))


class _FindAll:
    """Pure-Python stand-in for ``ahocorasick_rs.AhoCorasick`` (a trie walked from every
    position): the same matches, in another order, in some 100 µs a text instead of a few."""

    def __init__(self, patterns: list[str]) -> None:
        self.trie: dict[str, Any] = {}
        for i, pat in enumerate(patterns):
            node = self.trie
            for ch in pat:
                node = node.setdefault(ch, {})
            node[""] = i  # "" is no character: marks the end of pattern i

    def find_matches_as_indexes(
        self, haystack: str, overlapping: bool = True
    ) -> list[tuple[int, int, int]]:
        out = []
        n = len(haystack)
        for pos in range(n):
            node = self.trie
            j = pos
            while j < n:
                node = node.get(haystack[j])
                if node is None:
                    break
                j += 1
                if "" in node:
                    out.append((node[""], pos, j))
        return out


class _Utf8Finder:
    """The automaton over UTF-8 with surrogates passed, for the texts the ``str`` one refuses
    (lone surrogates); returns character offsets too."""

    def __init__(self, patterns: list[str]) -> None:
        self.ac = ahocorasick_rs.BytesAhoCorasick(
            [p.encode("utf-8") for p in patterns],
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )

    def find_matches_as_indexes(
        self, haystack: str, overlapping: bool = True
    ) -> list[tuple[int, int, int]]:
        raw = haystack.encode("utf-8", "surrogatepass")

        def chars(n: int) -> int:
            return len(raw[:n].decode("utf-8", "surrogatepass"))

        return [(i, chars(s), chars(e))
                for i, s, e in self.ac.find_matches_as_indexes(raw, overlapping=overlapping)]


#: Every occurrence of every prefix (character offsets, overlapping) in one pass.
_FINDER: Any = (
    ahocorasick_rs.AhoCorasick(
        _PREFIXES, implementation=ahocorasick_rs.Implementation.ContiguousNFA
    )
    if ahocorasick_rs is not None
    else _FindAll(_PREFIXES)
)
_FINDER_UTF8: Any = None  # built for the first text with a lone surrogate


def _tokens(low: str) -> set[bytes]:
    """The text split on ASCII punctuation and white space (UTF-8)."""
    return set(low.encode("utf-8", "surrogatepass").translate(_PUNCT).split())


def _window(text: str) -> str:
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    return text.lower()


#: Distinct ``(tier, cue text)`` matches by intent index; intents without any are left out.
_Found = dict[int, AbstractSet[tuple[str, str]]]
_EMPTY: _Found = {}  # shared: never modified


def _scan(text: str, finder: Any = None) -> _Found:
    """Distinct ``(tier, cue text)`` matches by intent index (``finder``: for the tests)."""
    global _FINDER_UTF8
    if not text:
        return _EMPTY
    low = _window(text)
    try:
        found = (finder or _FINDER).find_matches_as_indexes(low, overlapping=True)
    except UnicodeEncodeError:  # a lone surrogate
        if _FINDER_UTF8 is None:
            _FINDER_UTF8 = _Utf8Finder(_PREFIXES)
        found = _FINDER_UTF8.find_matches_as_indexes(low, overlapping=True)
    hits: list[tuple[int, int, int, int, str, str]] = []  # intent, rank, -length, start, ...
    seq: list[tuple[int, int]] | None = None
    if found:
        n = len(low)
        toks: set[bytes] | None = None
        entries = _PREFIX_ENTRIES
        for idx, p, _ in found:
            for mode, keys, rx, intent, rank, tier in entries[idx]:
                if mode == _WORD_CUE:
                    # \bword\b: a whole word here, and a token of the ASCII split somewhere
                    txt, e, wb = rx
                    if p:
                        c = low[p - 1]
                        if c.isalnum() or c == "_":
                            continue
                    else:
                        c = " "
                    e += p
                    c2 = low[e] if e < n else " "
                    if c2.isalnum() or c2 == "_":
                        continue
                    if not (c < "\x80" and c2 < "\x80"):
                        if toks is None:
                            toks = _tokens(low)
                        if wb not in toks:
                            continue
                    hits.append((intent, rank, p - e, p, tier, txt))
                    continue
                if mode & _BOUNDED and p:
                    c = low[p - 1]
                    if c.isalnum() or c == "_":
                        continue
                if mode & _LITERAL_CUE:
                    txt, e, word_end = rx
                    e += p
                    if word_end is not None:
                        c = low[e] if e < n else " "
                        if word_end == (c.isalnum() or c == "_"):
                            continue  # no \b there
                elif mode & _SEQUENTIAL:
                    if seq is None:
                        seq = []
                    seq.append((keys, p))  # (cue index, position)
                    continue
                else:
                    m = rx.match(low, p)
                    if m is None:
                        continue
                    txt = m.group()
                    e = m.end()
                if keys is not None:
                    # Only whole-word keys start the prefix: one of the cue's keys must occur
                    # here, a whole-word key as a whole word that is also a token of the ASCII
                    # split somewhere.
                    for key, klen, wb in keys:
                        if not low.startswith(key, p):
                            continue
                        if wb is None:
                            break
                        k = p + klen
                        if k < n and low[k].isalnum():
                            continue
                        if (p == 0 or low[p - 1] < "\x80") and (k == n or low[k] < "\x80"):
                            break  # this occurrence is such a token
                        if toks is None:
                            toks = _tokens(low)
                        if wb in toks:
                            break
                    else:
                        continue
                hits.append((intent, rank, p - e, p, tier, txt))
    if seq is not None:
        # cues without keys: the leftmost match, then the next one from where it ended
        seq.sort()
        cur, pos = -1, 0
        for cid, p in seq:
            if cid != cur:
                cur, pos = cid, 0
            if p < pos:
                continue
            cue = _CUES[cid]
            m = cue.regex.match(low, p)
            if m is not None:
                pos = m.end()
                if not (cue.bounded and p and (low[p - 1].isalnum() or low[p - 1] == "_")):
                    hits.append((cue.intent, cue.rank, p - pos, p, cue.tier, m.group()))
    zero = False  # an empty match: only a cue without prefixes can make one
    for cid in () if not _ALWAYS_ANY else _ALWAYS_ASCII if low.isascii() else _ALWAYS_ANY:
        cue = _CUES[cid]
        for m in cue.regex.finditer(low):
            st, en = m.span()
            if cue.bounded and st and (low[st - 1].isalnum() or low[st - 1] == "_"):
                continue
            zero = zero or st == en
            hits.append((cue.intent, cue.rank, st - en, st, cue.tier, m.group()))
    if not hits:
        return _EMPTY
    if len(hits) == 1:
        h = hits[0]
        return {h[0]: {(h[4], h[5])}}
    # Within an intent, a match overlapping a stronger (or longer) one is the same cue
    # seen twice ("step by step" inside "think step by step"): keep the stronger only.
    hits.sort()
    res: _Found = {}
    if zero:
        spans: list[list[tuple[int, int]]] = [[] for _ in INTENTS]
        for intent, _, neglen, st, tier, txt in hits:
            en = st - neglen
            taken = spans[intent]
            if any(a < en and st < b for a, b in taken):
                continue
            taken.append((st, en))
            res.setdefault(intent, set()).add((tier, txt))  # type: ignore[attr-defined]
        return res
    # The kept spans of an intent do not overlap (and none is empty): sorted by start, their
    # ends are sorted too, and a new span can only overlap its neighbours.
    cur, starts, ends = -1, [0], [0]
    got: set[tuple[str, str]] = set()
    for intent, _, neglen, st, tier, txt in hits:
        en = st - neglen
        if intent != cur:
            cur, starts, ends = intent, [st], [en]
            got = {(tier, txt)}
            res[intent] = got
            continue
        i = bisect_right(starts, st)
        if (i and ends[i - 1] > st) or (i < len(starts) and starts[i] < en):
            continue
        starts.insert(i, st)
        ends.insert(i, en)
        got.add((tier, txt))
    return res


class _Clipped(dict):  # type: ignore[type-arg]
    """``round(min(1, max(0, x)), 4)`` by raw score: the few sums of weights and bonuses."""

    def __missing__(self, x: float) -> float:
        v = round(min(1.0, max(0.0, x)), 4)
        if len(self) < 4096:
            self[x] = v
        return v


_CLIPPED = _Clipped()
_ZEROS = (0.0,) * len(INTENTS)


def _raw(found: _Found) -> tuple[float, ...]:
    w = WEIGHTS
    return tuple(sum(w[tier] for tier, _ in found[i]) if i in found else 0.0
                 for i in range(len(INTENTS)))


_Sys = tuple[_Found, tuple[float, ...]]
_system_cache: OrderedDict[str, _Sys] = OrderedDict()


def _scan_system(system_prompt: str) -> _Sys:
    """Cues by intent and raw score per intent of a system prompt, memoised."""
    hit = _system_cache.get(system_prompt)
    if hit is not None:
        _system_cache.move_to_end(system_prompt)
        return hit
    found: _Found = {i: frozenset(f) for i, f in _scan(system_prompt).items()}
    res = (found, _raw(found))
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
    s = _scan_system(system_prompt)[0] if system_prompt else _EMPTY
    none: frozenset[tuple[str, str]] = frozenset()
    return {name: sorted(p.get(i, none) | s.get(i, none)) for i, name in enumerate(INTENTS)}


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
    tools = bool(tool_count and tool_count > 0)
    images = bool(image_count and image_count > 0)
    if system_prompt:
        s, raw = _scan_system(system_prompt)
        if p is _EMPTY and not (tools or images):
            return tuple(map(_CLIPPED.__getitem__, raw))
        scores = list(raw)
    else:
        if p is _EMPTY and not (tools or images):
            return _ZEROS
        s, scores = _EMPTY, [0.0] * len(INTENTS)
    if p:
        # a cue of the prompt that the system prompt has too counts once
        w = WEIGHTS
        for i, cues in p.items():
            si = s.get(i)
            x = scores[i]
            for cue in cues:
                if si is None or cue not in si:
                    x += w[cue[0]]
            scores[i] = x
    if tools:
        scores[3] += TOOL_BONUS + TOOL_STEP * min(tool_count - 1, 4)
    if images:
        scores[7] += IMAGE_BONUS
    return tuple(map(_CLIPPED.__getitem__, scores))


def __getattr__(name: str) -> Any:
    # ``text_signals`` lives in models/text.py; re-exported lazily to avoid an import cycle.
    if name in ("text_signals", "TextSignals"):
        from models import text

        return getattr(text, name)
    raise AttributeError(name)
