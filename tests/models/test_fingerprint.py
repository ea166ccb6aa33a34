"""Prompt fingerprints: masked skeleton, template ids, SimHash near-duplicates, LSH bands."""

from __future__ import annotations

import re

import pytest

from models.fingerprint import (
    fingerprint,
    hamming,
    lsh_bands,
    simhash64,
    skeleton,
    template_id,
    template_parts,
)

WRAPPER = "You are a strict grader. Compare the two answers below.\n{}\nOutput [[A]] or [[B]] only."


def test_skeleton_masks_payload_identifiers() -> None:
    sk = skeleton('Mail ana@corp.io about order 12345 at https://x.io/p?id=9 re "Project X" `rm -rf /`')
    assert not re.search(r"[1-9]", sk)
    for leaked in ("ana@corp.io", "x.io", "project x", "rm -rf"):
        assert leaked not in sk
    assert "<url>" in sk and "<code>" in sk


def test_template_id_ignores_the_payload_but_not_the_wrapper() -> None:
    a = template_id(WRAPPER.format("Answer A: Paris. Answer B: Lyon."))
    b = template_id(WRAPPER.format("def f(x): return x*2  # versus lambda x: 2*x"))
    c = template_id("Summarise this article in three bullet points.\n" + "Paris. Lyon.")
    assert a == b
    assert a != c


def test_one_sided_wrappers_share_head_or_tail() -> None:
    h1, t1 = template_parts("Return your final response within \\boxed{}. What is 2+2?")
    h2, t2 = template_parts("Return your final response within \\boxed{}. Name a prime above 90.")
    assert h1 == h2 and t1 != t2


JUDGE = ("You are an expert grader. Read the two answers below carefully and decide which one is better.\n{}\n"
         "Output your final verdict strictly as [[A]] or [[B]] please.")


@pytest.mark.parametrize(
    "paraphrase",
    [
        JUDGE.replace("grader", "judge"),
        JUDGE.replace("the two", "both").replace(" please", ""),
        JUDGE.replace("expert", "EXPERT").replace("better", "best").replace("please.", "please!"),
    ],
)
def test_simhash_matches_paraphrased_templates_not_unrelated_prompts(paraphrase: str) -> None:
    ref = simhash64(JUDGE.format("Answer A: Paris, because of its history. Answer B: Lyon, due to its size."))
    near = hamming(ref, simhash64(paraphrase.format("Answer A: def f(x): return 2*x. Answer B: lambda x: x+x.")))
    far = [hamming(ref, simhash64(t)) for t in (
        "My cat keeps knocking plants off the windowsill, any tips on how to stop this behaviour for good?",
        "Write a haiku about autumn leaves falling in Kyoto at dusk while the temple bells ring.",
        "Convert this CSV to JSON and keep the header names, then sort the rows by the date column please.",
    )]
    assert near <= 16  # same template, reworded wrapper, other payload
    assert min(far) >= 24  # unrelated prompts: ~32 bits apart
    assert near < min(far)


def test_lsh_bands_collide_for_near_duplicates() -> None:
    h = simhash64("Please think step by step and show all your reasoning. Question: what is 17*3?")
    near = h ^ 0b101  # two bits apart: four 16-bit bands, at least two still equal
    assert len(set(lsh_bands(h)) & set(lsh_bands(near))) >= 2
    assert not set(lsh_bands(h)) & set(lsh_bands(~h & (2**64 - 1)))


def test_cost_and_output_are_bounded_for_huge_prompts() -> None:
    fp = fingerprint("word " * 200_000 + "Output [[A]] or [[B]].")
    assert len(fp.skeleton) <= 400 + 3 + 120
    assert fp.skeleton.endswith("output [[a]] or [[b]].")  # the closing instruction survives
    assert 0 <= fp.simhash < 2**64


def test_never_raises_on_odd_text() -> None:
    for text in (None, "", "\x00\x00", "\ud800 lone surrogate", "```unclosed code", "«»" * 500):
        fp = fingerprint(text)
        assert isinstance(fp.template, int)


# --- exactness of the optimised implementation ----------------------------------------
#
# A plain reference with the original algorithm: every masking regex run unconditionally,
# the head/tail loop, and a SimHash that counts bits one by one. The module must agree with
# it on any text, whatever its memo tables hold.

import hashlib  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import models.fingerprint as fpm  # noqa: E402

_R_PASSES = [
    (re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)", re.S), " <code> "),
    (re.compile(r"`[^`\n]{1,200}`"), "<code>"),
    (re.compile(r"(?:https?|ftp)://[^\s<>\"'`]+|www\.[^\s<>\"'`]+"), "<url>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<url>"),
    (re.compile(r'"[^"\n]{1,300}"'
                r"|'(?<!\w')[^'\n]{1,300}'(?!\w)"
                r"|«[^»\n]{1,300}»|“[^”\n]{1,300}”|‘[^’\n]{1,300}’|„[^“”\n]{1,300}[“”]"
                r"|「[^」\n]{1,300}」|『[^』\n]{1,300}』"), '"_"'),
    (re.compile(r"[0-9][0-9a-z_\-]{7,}"), "<id>"),
    (re.compile(r"[0-9]+(?:[.,][0-9]+)*"), "0"),
]


def _ref_lines(text: str, max_chars: int = 400) -> str:
    if not text:
        return ""
    if len(text) > max_chars + 120:
        text = text[:max_chars] + "\n…\n" + text[-120:]
    s = text.lower().replace("\x00", " ")
    for rx, repl in _R_PASSES:
        s = rx.sub(repl, s)
    return " ".join(s.replace("\n", " \x00 ").split())


def _ref_head_tail(lines: str) -> tuple[str, str]:
    if not lines:
        return "", ""
    toks = lines.split(" ")
    head: list[str] = []
    for t in toks[:12]:
        if t == "\x00":
            if head:
                break
            continue
        head.append(t)
        if t[-1] in ".?!:;。？！：；":
            break
    tail: list[str] = []
    for t in reversed(toks[-9:]):
        if t == "\x00" or (tail and t[-1] in ".?!:;。？！：；"):
            if tail:
                break
            continue
        tail.append(t)
        if len(tail) == 8:
            break
    tail.reverse()
    return " ".join(head), " ".join(tail)


def _h64(s: str) -> int:
    digest = hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _ref_simhash(tokens: list[str]) -> int:
    sel = tokens if len(tokens) <= 16 else tokens[:12] + tokens[-6:]
    shingles = (sel + [a + " " + b for a, b in zip(sel, sel[1:])])[:48]
    counts = [0] * 64
    for sh in shingles:
        digest = hashlib.blake2b(sh.encode("utf-8", "surrogatepass"), digest_size=64).digest()
        for i, byte in enumerate(digest):
            counts[i] += byte >> 7
    need = len(shingles) // 2 + 1
    return sum(1 << i for i in range(64) if shingles and counts[i] >= need)


def _ref_fingerprint(text: str | None) -> tuple:
    lines = _ref_lines(text or "")
    head, tail = _ref_head_tail(lines)
    flat = " ".join(lines.replace("\x00", " ").split())
    return (flat, _h64(head + "|" + tail), _h64("h|" + head), _h64("t|" + tail),
            _ref_simhash(flat.split()), _h64(text) if text else 0)


_FRAGMENTS = [
    '"', "'", "«", "»", "“", "”", "‘", "’", "„", "「", "」", "『", "』", "`", "```", "~~~", "~",
    "http://", "https://", "ftp://", "www.", "x.io/a?b=1", "@", "ana.p@example.org", "a@b.c", ".",
    ",", "0", "1", "7", "12345678", "3.14", "1,000", "9f8e7d6c5b4a", "٣", "\x00", "\n", "\r", "\t",
    " ", "\x1c", "\x85", "\u2028", "\xa0", "…", "\ud800", "\udc80", "\U0001f600", "Σ", "İ", "ß",
    "word", "Word", "WORD", "answer", "step.", "Q:", "?", "!", ";", "。", "？", "[[A]]", "\\boxed{}",
    "<id>", "_", "-", "+", "é", "Кто", "的",
]
_TEXT = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=60).map("".join),
    st.text(max_size=120),
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=4)), max_size=80).map("".join),
)
_QUICK = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

PINNED = [  # computed by the implementation before the speed-up (same values required)
    ("Return your final response within \\boxed{}. What is 2 + 2?",
     ("return your final response within \\boxed{}. what is 0 + 0?", 10340362250201672516,
      17414172246476990837, 11662480691032009769, 2237097690951371343, 15649581415439890784)),
    ("You are a strict grader. Compare the two answers below.\nAnswer A: Paris. Answer B: Lyon.\n"
     "Output [[A]] or [[B]] only.",
     ("you are a strict grader. compare the two answers below. answer a: paris. answer b: lyon. "
      "output [[a]] or [[b]] only.", 4647174885147007977, 1077656932231313410,
      13980275464424816874, 10131126370631828023, 13614465758094342327)),
    ('Mail ana@corp.io about order 12345 at https://x.io/p?id=9 re "Project X" `rm -rf /`',
     ('mail <url> about order 0 at <url> re "_" <code>', 12794856108924133170,
      14077831850385602004, 6453779394313586670, 6115842173118375173, 521869391949207756)),
    ("```python\nprint(1)\n```\nExplain it's output, see www.example.com and ftp://h/x.\n",
     ("<code> explain it's output, see <url> and <url>", 11508539673195957461,
      9471697124525035873, 7979714920312225304, 16515189519223529244, 4432126937161629473)),
    ("«Кто ты?» — спросил он 3,5 раза. „Нет“ ответила она; 「はい」と『いいえ』",
     ('"_" — спросил он 0 раза. "_" ответила она; "_"と"_"', 17538421828291447183,
      14021050290171150737, 8895498018488307895, 9388516393306726209, 530374004880536358)),
    ("\n\n\nQ: 17*3?\nA: let's think step by step.\n\n",
     ("q: 0*0? a: let's think step by step.", 13720640759044532236, 15396679224867606897,
      3765623233325737252, 15871528079508577039, 13529585234911150264)),
    ("ID 9f8e7d6c-5b4a-3928-1706-aabbccddeeff v1.2.3 and 0.5,7 or 1.,2",
     ("id <id> v0 and 0 or 0.,0", 14117363242011865709, 11766792461699453472,
      2647689254696120594, 3189312943097500807, 14386469977588540972)),
    ("x" * 600 + " end. Output [[A]] or [[B]].",
     ("x" * 400 + " … " + "x" * 92 + " end. output [[a]] or [[b]].", 1247306581621143145,
      14925488216846784789, 9116786165542538769, 5791422317429391488, 9690425392926757082)),
    ("Ünïcödé ΣΑΣ \ud800 lone\x00nul\ttab\x1cfs",
     ("ünïcödé σας \ud800 lone nul tab fs", 4618446666981551113, 13817921927461702446,
      6713361832874829917, 6975116883563741167, 11850132849572987806)),
    ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
     "sixteen seventeen. final tail words here now",
     ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
      "sixteen seventeen. final tail words here now", 12133354455657667214, 2043829111673226786,
      11913945538718943272, 3183731982714758264, 13255833099580524602)),
]


def _clear_tables() -> None:
    for table in (fpm._SPREAD_CACHE, fpm._PARTS, fpm._HEADS, fpm._TAILS, fpm._ID_CACHE):
        table.clear()


@pytest.mark.parametrize(("text", "expected"), PINNED)
def test_pinned_fingerprints_are_unchanged(text: str, expected: tuple) -> None:
    assert _ref_fingerprint(text) == expected  # the reference is the original algorithm
    _clear_tables()
    assert tuple(fingerprint(text)) == expected  # cold tables
    assert tuple(fingerprint(text)) == expected  # warm tables
    assert (template_id(text), *template_parts(text)) == expected[1:4]
    assert skeleton(text) == expected[0] and simhash64(text) == expected[4]


@_QUICK
@given(_TEXT, st.integers(0, 700))
def test_fingerprint_equals_the_reference_on_any_text(text: str, cut: int) -> None:
    long = text * (1 + 700 // (len(text) + 1))  # crosses the 400 + 120 character window
    for t in (text, text.upper(), long, long[: cut + 380], text[:cut]):
        ref = _ref_fingerprint(t)
        assert tuple(fingerprint(t)) == ref
        assert skeleton(t) == ref[0] and simhash64(t) == ref[4]
        assert (template_id(t), *template_parts(t)) == ref[1:4]
        assert fpm._skel_lines(t) == _ref_lines(t)
        for max_chars in (1, 7, 399):
            ref_lines = _ref_lines(t, max_chars)
            assert skeleton(t, max_chars) == " ".join(ref_lines.replace("\x00", " ").split())


def test_results_do_not_depend_on_the_memo_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [t for t, _ in PINNED]
    texts += [f"Template {i % 7}: solve item {i}.\nAnswer {i * 31} now" for i in range(300)]
    expected = [_ref_fingerprint(t) for t in texts]
    for cap in (2, 3, 64):  # tiny tables: constantly halved
        for name in ("_SPREAD_CACHE_MAX", "_PARTS_MAX", "_ENDS_CACHE_MAX", "_ID_CACHE_MAX"):
            monkeypatch.setattr(fpm, name, cap)
        _clear_tables()
        assert [tuple(fingerprint(t)) for t in texts * 2] == expected * 2
        assert len(fpm._SPREAD_CACHE) <= cap and len(fpm._PARTS) <= cap
        assert len(fpm._HEADS) <= cap and len(fpm._TAILS) <= cap and len(fpm._ID_CACHE) <= cap


_SUB_TEXT = st.one_of(
    st.lists(st.sampled_from(["`", "```", "~", "~~~", "\n", "a", " ", "$"]), max_size=30)
    .map("".join),
    st.lists(st.sampled_from(["a", "1", "_", ".", "+", "-", "@", " ", "\n", "…", "é", "٣", "x-y"]),
             max_size=30).map("".join),
    st.lists(st.sampled_from(["h", "t", "p", "s", ":", "/", "w", ".", "f", " ", '"', "<", "`", "a",
                              "://", "www.", "http", "https", "ftp", "\n", "é"]), max_size=30)
    .map("".join),
    st.text(max_size=60),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(_SUB_TEXT)
def test_string_substitutes_equal_their_regexes(text: str) -> None:
    assert fpm._code_fence_sub(text) == _R_PASSES[0][0].sub(" <code> ", text)
    assert fpm._url_sub(text) == _R_PASSES[2][0].sub("<url>", text)
    assert fpm._email_sub(text) == _R_PASSES[3][0].sub("<url>", text)
    zeros = re.sub(r"[0-9]", "0", text)
    assert fpm._number0_sub(zeros) == _R_PASSES[6][0].sub("0", zeros)
    assert fpm._ID0.sub("<id>", zeros) == _R_PASSES[5][0].sub("<id>", zeros)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(["\x00", "a", "b.", "c?", "d:", "。", "x；", "end!", "w"]),
                max_size=14))
def test_head_and_tail_segments_equal_the_token_loop(tokens: list[str]) -> None:
    lines = " ".join(tokens)
    _clear_tables()
    head, tail = _ref_head_tail(lines)
    assert fpm._head_of(" ".join(tokens[:12])) == (head, _h64("h|" + head))
    assert fpm._tail_of(" ".join(tokens[-9:])) == (tail, _h64("t|" + tail))
