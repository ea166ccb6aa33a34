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
