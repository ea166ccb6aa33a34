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
from itertools import islice, repeat
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
# numbers (they contain digits), ids before numbers.
#
# These patterns define the masks; _masked applies them faster with the same results as
# running every one, in this order, on the lowercased window:
# * A pass runs only if the text holds a character that every match of it starts with
#   (``in`` scans: a one-character one is a memchr, far cheaper than a regex pass).
# * The regex engine skips ahead fast only when a pattern starts with a literal (fastest)
#   or, more slowly, a single character class or a branch of literals -- not with a repeat
#   like ``[0-9]+`` nor a group: hence the one-branch variants of _QUOTED below.
# * No pattern tells one ASCII digit from another and every ASCII digit ends up inside an
#   _ID or a _NUMBER match, so mapping the digits 1-9 to "0" first changes nothing: one
#   bytes.translate lowercases, NUL-blanks and digit-maps an all-ASCII window (a UTF-8 round
#   trip digit-maps any other), after which _ID0 (_ID for a text whose only digit is "0")
#   starts with a literal and _number0_sub replaces _NUMBER.
# * _CODE_FENCE, _URL and _EMAIL are applied by the exact string-method equivalents below
#   (_code_fence_sub, _url_sub, _email_sub).
_CODE_FENCE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)", re.S)
_BACKTICK = re.compile(r"`[^`\n]{1,200}`")
_URL = re.compile(r"https?://[^\s<>\"'`]+|ftp://[^\s<>\"'`]+|www\.[^\s<>\"'`]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED = re.compile(
    r'"[^"\n]{1,300}"'
    r"|'(?<!\w')[^'\n]{1,300}'(?!\w)"
    r"|«[^»\n]{1,300}»|“[^”\n]{1,300}”|‘[^’\n]{1,300}’|„[^“”\n]{1,300}[“”]"
    r"|「[^」\n]{1,300}」|『[^』\n]{1,300}』"
)
# The branches of _QUOTED start with distinct characters; when only one of them occurs in a
# text, that branch alone makes the same substitutions.
_QUOTED_DOUBLE = re.compile(r'"[^"\n]{1,300}"')
_QUOTED_SINGLE = re.compile(r"'(?<!\w')[^'\n]{1,300}'(?!\w)")
# Long identifiers (keys, hashes, UUIDs): a digit followed by >= 7 letters/digits/-/_.
_ID = re.compile(r"[0-9][0-9a-z_\-]{7,}")
_NUMBER = re.compile(r"[0-9][0-9]*(?:[.,][0-9]+)*")
_ID0 = re.compile(r"0[0a-z_\-]{7,}")
_NUMBER0 = re.compile(r"00*(?:[.,]00*)*")
_NL = "\x00"  # line-break marker inside the skeleton (not whitespace for str.split)
_SENT_END = ".?!:;。？！：；"

#: ASCII bytes -> str.lower(), with "\x00" -> " " and "1"-"9" -> "0" (see above).
_PLAIN = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ\x00123456789", b"abcdefghijklmnopqrstuvwxyz 000000000"
)
_DIGITS0 = bytes.maketrans(b"123456789", b"000000000")


def _masked(text: str, max_chars: int = 400) -> str:
    """Lowercase window of ``text`` with every mask applied, whitespace not yet collapsed."""
    if max_chars <= 0:
        raise ValueError(f"max_chars must be > 0, got {max_chars}")
    if len(text) > max_chars + TAIL_CHARS:
        a = text[:max_chars]
        b = text[-TAIL_CHARS:]
        # "\n…\n" has no cased letter, so lowering the parts equals lowering the whole
        plain = a.isascii() and b.isascii()
        if plain:
            s = (
                a.encode("ascii").translate(_PLAIN).decode("ascii")
                + "\n…\n"
                + b.encode("ascii").translate(_PLAIN).decode("ascii")
            )
        else:
            s = (a + "\n…\n" + b).lower()
    else:
        plain = text.isascii()
        if plain:
            s = text.encode("ascii").translate(_PLAIN).decode("ascii")
        else:
            s = text.lower()
    if not plain:
        if _NL in s:
            s = s.replace(_NL, " ")
        if (
            "0" in s or "1" in s or "2" in s or "3" in s or "4" in s
            or "5" in s or "6" in s or "7" in s or "8" in s or "9" in s
        ):
            # digits 1-9 -> "0" (see above); in UTF-8 a byte below 0x80 is that ASCII
            # character, and surrogatepass makes the round trip exact for any str
            b = s.encode("utf-8", "surrogatepass").translate(_DIGITS0)
            s = b.decode("utf-8", "surrogatepass")
    # (a one-character "in" is a memchr; a longer one a full search: gate it)
    if "`" in s:
        if "```" in s or ("~" in s and "~~~" in s):
            s = _code_fence_sub(s)
        if "`" in s:
            s = _BACKTICK.sub("<code>", s)
    elif "~" in s and "~~~" in s:
        s = _code_fence_sub(s)
    if (":" in s and "://" in s) or "www." in s:
        s = _url_sub(s)
    if "@" in s:
        s = _email_sub(s)
    # _QUOTED's branches start with '"', "'", «, “, ‘, „, 「 and 『 (none in a plain window)
    dq = '"' in s
    sq = "'" in s
    if not plain and ("«" in s or "“" in s or "‘" in s or "„" in s or "「" in s or "『" in s):
        s = _QUOTED.sub('"_"', s)
    elif dq:
        s = (_QUOTED if sq else _QUOTED_DOUBLE).sub('"_"', s)
    elif sq:
        s = _QUOTED_SINGLE.sub('"_"', s)
    # every _ID and _NUMBER match starts with a digit, by now always "0" ("<id>" has none)
    if "0" in s:
        s = _ID0.sub("<id>", s)
        s = _number0_sub(s)
    return s


# Exact equivalents of some .sub calls that the regex engine runs slowly (its per-character
# work on lazy ".*?", on a leading "[\w.+-]+" tried at every position of every word, ...).
# tests/models/test_fingerprint.py checks each against its pattern on arbitrary text.

_LOCAL_RUN = re.compile(r"[\w.+-]*")  # matched on the reversed text before an "@"
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")
_URL_BODY = re.compile(r"[^\s<>\"'`]+")


def _code_fence_sub(s: str) -> str:
    """``_CODE_FENCE.sub(" <code> ", s)``.

    A match runs from a fence (three backticks or ``~~~``) to the next same fence, or else to
    the end of the text -- or to just before a final newline, where ``$`` matches first.
    """
    out = []
    pos = 0
    n = len(s)
    a = s.find("```")
    b = s.find("~~~")
    while a >= 0 or b >= 0:
        if b < 0 or 0 <= a < b:
            i, fence = a, "```"
        else:
            i, fence = b, "~~~"
        j = s.find(fence, i + 3)
        if j >= 0:
            end = j + 3
        elif n - 1 >= i + 3 and s[n - 1] == "\n":
            end = n - 1
        else:
            end = n
        out.append(s[pos:i])
        out.append(" <code> ")
        pos = end
        a = s.find("```", pos)
        b = s.find("~~~", pos)
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def _email_sub(s: str) -> str:
    """``_EMAIL.sub("<url>", s)``.

    Every match holds exactly one "@" (no class of the pattern has it), and starts where the
    run of word characters and ``.+-`` before that "@" starts, or where the previous match ended:
    a later start gives the same local part's end and the same domain, so it fails alike.
    """
    out = []
    pos = 0
    a = s.find("@")
    while a >= 0:
        if a > pos:
            run = _LOCAL_RUN.match(s[pos:a][::-1]).end()  # type: ignore[union-attr]
            if run:
                m = _DOMAIN.match(s, a + 1)
                if m:
                    out.append(s[pos : a - run])
                    out.append("<url>")
                    pos = m.end()
        a = s.find("@", max(a + 1, pos))
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def _url_sub(s: str) -> str:
    """``_URL.sub("<url>", s)``: a match starts at "https://", "http://", "ftp://" or "www."."""
    out = []
    pos = 0
    i = b = 0
    k = s.find("://")
    w = s.find("www.")
    while True:
        while k >= 0:  # the next "://" after a scheme that starts at or after pos
            if k - 5 >= pos and s.startswith("https", k - 5):
                i, b = k - 5, k + 3
                break
            if k - 4 >= pos and s.startswith("http", k - 4):
                i, b = k - 4, k + 3
                break
            if k - 3 >= pos and s.startswith("ftp", k - 3):
                i, b = k - 3, k + 3
                break
            k = s.find("://", k + 1)
        if 0 <= w < pos:
            w = s.find("www.", pos)
        if k < 0 and w < 0:
            break
        if k >= 0 and (w < 0 or i < w):
            m = _URL_BODY.match(s, b)
            start = i
            k = s.find("://", k + 1)
        else:
            m = _URL_BODY.match(s, w + 4)
            start = w
            w = s.find("www.", w + 1)
        if m:
            out.append(s[pos:start])
            out.append("<url>")
            pos = m.end()
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def _number0_sub(s: str) -> str:
    """``_NUMBER0.sub("0", s)`` for a text whose only digit is "0".

    Collapsing "00" and then "0." / "0," + "0" until none is left turns every maximal
    ``0+(?:[.,]0+)*`` run, and nothing else, into one "0".
    """
    while "00" in s:
        s = s.replace("00", "0")
    while "0.0" in s or "0,0" in s:
        s = s.replace("0.0", "0").replace("0,0", "0")
    return s


def _skel_lines(text: str, max_chars: int = 400) -> str:
    """Masked lowercase text, single spaces, line breaks kept as ``_NL`` tokens."""
    if not text:
        return ""
    return " ".join(_masked(text, max_chars).replace("\n", " \x00 ").split())


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
    if not text:
        return ""
    return " ".join(_masked(text, max_chars).split())


# An empty 8-byte BLAKE2b state: copying it skips parsing digest_size on every hash.
_H8 = hashlib.blake2b(digest_size=8)


def _h64(s: str) -> int:
    h = _H8.copy()
    h.update(s.encode("utf-8", "surrogatepass"))
    return int.from_bytes(h.digest(), "big")


# --- bounded memo tables -------------------------------------------------------------
#
# Each table maps a key to a pure function of that key, so no result depends on what is
# cached. A full table drops its older half (dicts keep insertion order).


def _trim(d: dict, keep: int) -> None:  # type: ignore[type-arg]
    """Drop the oldest entries of ``d`` until at most ``keep`` are left."""
    drop = len(d) - keep
    if drop > 0:
        for k in list(islice(d, drop)):
            del d[k]


_ID_CACHE_MAX = 16_384
_ID_CACHE: dict[str, int] = {}  # "h|head", "t|tail", "head|tail" -> _h64 of it


def _id(key: str) -> int:
    """``_h64(key)``, memoised in _ID_CACHE (a plain dict: its lookups stay in C)."""
    v = _ID_CACHE.get(key)
    if v is None:
        v = _h64(key)
        if len(_ID_CACHE) >= _ID_CACHE_MAX:
            _trim(_ID_CACHE, _ID_CACHE_MAX // 2)
        _ID_CACHE[key] = v
    return v


# Head and tail of the skeleton lines (line breaks as _NL tokens). A _HEADS key is the
# " "-joined first HEAD_TOKENS tokens, a _TAILS key the last TAIL_TOKENS + 1 tokens: the
# segment depends on nothing else.
_ENDS_CACHE_MAX = 8192
_HEADS: dict[str, tuple[str, int]] = {}  # key -> (head, head id)
_TAILS: dict[str, tuple[str, int]] = {}  # key -> (tail, tail id)
_SENT_AT_TOKEN_END = re.compile(r"[.?!:;。？！：；](?= |\Z)")
# a boundary token (one ending a sentence, or _NL) and its space, in the reversed tail key
_TAIL_BOUNDARY_REVERSED = re.compile(" [.?!:;。？！：；\x00]")


def _head_of(key: str) -> tuple[str, int]:
    """Head segment (and id) of the skeleton lines whose first tokens are ``key``.

    Leading _NL tokens are skipped; the head ends before the next _NL token or with the
    first token whose last character ends a sentence.
    """
    k = key.lstrip("\x00 ")  # tokens hold neither spaces nor NULs: drops leading _NL tokens
    i = k.find(" \x00")
    if i < 0:
        i = len(k)
    m = _SENT_AT_TOKEN_END.search(k, 0, i)
    head = k[: m.end()] if m else k[:i]
    v = (head, _id("h|" + head))
    if len(_HEADS) >= _ENDS_CACHE_MAX:
        _trim(_HEADS, _ENDS_CACHE_MAX // 2)
    _HEADS[key] = v
    return v


def _tail_of(key: str) -> tuple[str, int]:
    """Tail segment (and id) of the skeleton lines whose last tokens are ``key``.

    Trailing _NL tokens are skipped; the tail is the last token and the tokens before it
    back to (not including) an _NL token or a token whose last character ends a sentence,
    at most TAIL_TOKENS tokens.
    """
    k = key.rstrip("\x00 ")
    m = _TAIL_BOUNDARY_REVERSED.search(k[::-1])  # the last boundary, if any
    if m:
        k = k[len(k) - m.start() :]
    if k.count(" ") >= TAIL_TOKENS:
        k = " ".join(k.split(" ")[-TAIL_TOKENS:])
    v = (k, _id("t|" + k))
    if len(_TAILS) >= _ENDS_CACHE_MAX:
        _trim(_TAILS, _ENDS_CACHE_MAX // 2)
    _TAILS[key] = v
    return v


_END_SLICE = 240  # characters that nearly always hold the first / last dozen tokens


def _marked_keys(s: str) -> tuple[str, str]:
    """_HEADS and _TAILS keys of :func:`_masked` output ``s`` that holds a line break.

    Only the ends are marked and split. With a maxsplit, only the last piece may be an
    unsplit remainder; a slice of ``s`` gives exact tokens when that remainder piece exists
    (the token before it was followed by whitespace inside the slice), else all of ``s`` is
    split.
    """
    if len(s) > _END_SLICE:
        h = s[:_END_SLICE].replace("\n", " \x00 ").split(None, HEAD_TOKENS)
        if len(h) <= HEAD_TOKENS:
            h = s.replace("\n", " \x00 ").split(None, HEAD_TOKENS)
        t = s[-_END_SLICE:].replace("\n", " \x00 ").rsplit(None, TAIL_TOKENS + 1)
        if len(t) <= TAIL_TOKENS + 1:
            t = s.replace("\n", " \x00 ").rsplit(None, TAIL_TOKENS + 1)
    else:
        m = s.replace("\n", " \x00 ")
        h = m.split(None, HEAD_TOKENS)
        t = m.rsplit(None, TAIL_TOKENS + 1)
    return " ".join(h[:HEAD_TOKENS]), " ".join(t[-TAIL_TOKENS - 1 :])


def _ends(s: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """``((head, head id), (tail, tail id))`` of :func:`_masked` output ``s``."""
    if "\n" in s:
        hk, tk = _marked_keys(s)
    else:
        hk = " ".join(s.split(None, HEAD_TOKENS)[:HEAD_TOKENS])
        tk = " ".join(s.rsplit(None, TAIL_TOKENS + 1)[-TAIL_TOKENS - 1 :])
    return _HEADS.get(hk) or _head_of(hk), _TAILS.get(tk) or _tail_of(tk)


_EMPTY_ENDS = (("", 0), ("", 0))  # set below, once _h64 can run


def _text_ends(text: str | None) -> tuple[tuple[str, int], tuple[str, int]]:
    return _ends(_masked(text)) if text else _EMPTY_ENDS


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
    if not text:
        return _EMPTY_FINGERPRINT
    s = _masked(text)
    if "\n" in s:
        # tokens of the skeleton lines (line breaks as _NL tokens: a cached 1-char string)
        mt = s.replace("\n", " \x00 ").split()
        hk = " ".join(mt[:HEAD_TOKENS])
        tk = " ".join(mt[-TAIL_TOKENS - 1 :])
        # the skeleton: every _NL token but a leading one follows a space
        flat = " ".join(mt).replace(" \x00", "")
        if flat[:1] == _NL:
            flat = flat.lstrip("\x00 ")
        n = flat.count(" ") + 1 if flat else 0
        if n > 16:
            run = flat.split(" ", 12)  # 12 tokens and the rest
            sk = flat[: len(flat) - len(run[12]) - 1]
            del run[12]
            tail6 = flat.rsplit(" ", 6)
            tkey = flat[len(tail6[0]) + 1 :]
            del tail6[0]
        elif n:
            run = flat.split(" ")
    else:
        toks = s.split()
        flat = " ".join(toks)
        n = len(toks)
        hk = " ".join(toks[:HEAD_TOKENS])
        tk = " ".join(toks[-TAIL_TOKENS - 1 :])
        if n > 16:
            run = toks[:12]
            sk = hk  # HEAD_TOKENS == 12
            tail6 = toks[-6:]
            tkey = " ".join(tail6)
        else:
            run = toks
    head, hid = _HEADS.get(hk) or _head_of(hk)
    tail, tid = _TAILS.get(tk) or _tail_of(tk)
    key = head + "|" + tail
    tpl = _ID_CACHE.get(key)
    if tpl is None:
        tpl = _id(key)
    # SimHash, as in _simhash_tokens
    if n > 16:
        a = _PARTS.get(sk)
        if a is None:
            a = _part(sk, run)
        b = _PARTS.get(tkey)
        if b is None:
            b = _part(tkey, tail6)
        key = run[11] + " " + tail6[0]
        c = _SPREAD_CACHE.get(key)
        if c is None:
            c = _spread(key)
        sim = int((a + b + c + _BIAS18).to_bytes(64, "big").translate(_TOPBIT_ASCII), 2)
    elif n:
        sim = int((_run_sum(run) + _BIAS[n]).to_bytes(64, "big").translate(_TOPBIT_ASCII), 2)
    else:
        sim = 0
    h = _H8.copy()
    h.update(text.encode("utf-8", "surrogatepass"))
    # tuple.__new__ skips the Python-level Fingerprint.__new__; same tuple
    return _tuple_new(Fingerprint, (flat, tpl, hid, tid, sim, int.from_bytes(h.digest(), "big")))


_tuple_new = tuple.__new__


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
    (_, h), (_, t) = _text_ends(text)
    return h, t


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
    (head, _), (tail, _) = _text_ends(text)
    return _id(head + "|" + tail)


# --- SimHash ---------------------------------------------------------------------------
#
# Each shingle's 64-bit hash is "spread" into a 512-bit integer holding one byte per bit
# (0 or 1). Summing the spread integers of ≤ 127 weighted shingles counts, for every bit
# position in parallel, how many shingles have that bit set -- without a Python loop over
# the 64 bits. Adding (128 - threshold) to every byte lifts the byte's top bit exactly when
# the count reaches the majority; bytes.translate then reads those top bits back.
#
# The sum is order-free: for a long skeleton, the shingles of its 12 head tokens and of its
# 6 tail tokens are summed once per distinct token run (_PARTS), plus the bigram across.

_SPREAD_CACHE_MAX = 65_536  # ≈ 230 B an entry: ≤ 15 MB
_PARTS_MAX = 16_384  # ≈ 250 B an entry: ≤ 4 MB
_TOPBIT = bytes((b >> 7) for b in range(256))
_TOPBIT_ASCII = bytes(ord("1") if b >= 128 else ord("0") for b in range(256))
_ONES = int.from_bytes(b"\x01" * 64, "little")
_MISS = -(1 << 600)  # sentinel: a sum of <= 35 spreads (< 2**518) with one _MISS is < 0


def _spread_values(shingles: list[str]) -> list[int]:
    """Spread integers of ``shingles`` (one C-level pipeline, no Python call per item)."""
    data = map(str.encode, shingles, repeat("utf-8"), repeat("surrogatepass"))
    digests = map(hashlib.blake2b.digest, map(hashlib.blake2b, data))  # 64 bytes by default
    top_bits = map(bytes.translate, digests, repeat(_TOPBIT))
    return list(map(int.from_bytes, top_bits, repeat("little")))


_SPREAD_CACHE: dict[str, int] = {}  # shingle -> spread integer


def _spread(shingle: str) -> int:
    v = _SPREAD_CACHE.get(shingle)
    if v is None:
        v = _spread_values([shingle])[0]
        if len(_SPREAD_CACHE) >= _SPREAD_CACHE_MAX:
            _trim(_SPREAD_CACHE, _SPREAD_CACHE_MAX // 2)
        _SPREAD_CACHE[shingle] = v
    return v


_PARTS: dict[str, int] = {}  # " "-joined token run -> sum of its unigram and bigram spreads


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


# _shingles picks at most 18 tokens, hence 18 + 17 = 35 <= MAX_SHINGLES shingles: the cut
# never applies, and k selected tokens always give 2k - 1 shingles.
if 2 * (12 + 6) - 1 > MAX_SHINGLES:  # pragma: no cover - guards a constant edit
    raise RuntimeError("MAX_SHINGLES is below the shingle count _simhash_tokens relies on")

#: (128 - strict-majority threshold) in every byte, by number k >= 1 of selected tokens.
_BIAS = [0] + [(128 - ((2 * k - 1) // 2 + 1)) * _ONES for k in range(1, 19)]
_BIAS18 = _BIAS[18]


def _run_sum(run: list[str]) -> int:
    """Sum of the spreads of the unigrams and adjacent bigrams of ``run``."""
    # bigrams joined in C (zip reuses its pair tuple): no Python-level loop, no garbage
    keys = run + list(map(" ".join, zip(run, run[1:])))
    vals = list(map(_SPREAD_CACHE.get, keys, repeat(_MISS)))
    total = sum(vals)
    if total < 0:  # some are missing: compute them in one batch
        M = _MISS
        miss = [k for k, v in zip(keys, vals) if v is M]
        new = _spread_values(miss)
        total += sum(new) - len(miss) * M
        cap = _SPREAD_CACHE_MAX
        if len(miss) <= cap:
            if len(_SPREAD_CACHE) + len(miss) > cap:
                _trim(_SPREAD_CACHE, min(cap // 2, cap - len(miss)))
            _SPREAD_CACHE.update(zip(miss, new))
    return total


def _part(key: str, run: list[str]) -> int:
    """_run_sum(run), memoised in _PARTS under ``key`` (``" ".join(run)``)."""
    v = _run_sum(run)
    if len(_PARTS) >= _PARTS_MAX:
        _trim(_PARTS, _PARTS_MAX // 2)
    _PARTS[key] = v
    return v


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
    n = len(tokens)
    if n > 16:
        run = tokens[:12]
        k = " ".join(run)
        total = _PARTS.get(k)
        if total is None:
            total = _part(k, run)
        run = tokens[-6:]
        k = " ".join(run)
        t = _PARTS.get(k)
        if t is None:
            t = _part(k, run)
        total += t + _spread(tokens[11] + " " + tokens[-6]) + _BIAS18
    elif n:
        total = _run_sum(tokens) + _BIAS[n]
    else:
        return 0
    # big-endian bytes: the most significant bit comes first, as int(..., 2) reads it
    return int(total.to_bytes(64, "big").translate(_TOPBIT_ASCII), 2)


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


_EMPTY_FINGERPRINT = Fingerprint("", _h64("|"), _h64("h|"), _h64("t|"), 0, 0)
_EMPTY_ENDS = (("", _h64("h|")), ("", _h64("t|")))
