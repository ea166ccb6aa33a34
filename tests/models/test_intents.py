"""Intent detectors: paraphrase, casing and other languages; no firing on one ordinary "step by step"."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models.intents as intents_mod
from models.intents import INTENTS, WEIGHTS, intent_cues, intent_scores

HIT = 0.5  # EngineConfig.intent_hit: a request "of" an intent
COT = INTENTS.index("cot")


def score(text: str, **kw: int) -> dict[str, float]:
    return dict(zip(INTENTS, intent_scores(text, None, kw.get("tools", 0), kw.get("images", 0))))


@pytest.mark.parametrize(
    "prompt",
    [
        "Solve 17*23. Show your complete reasoning process.",
        "SOLVE 17*23. SHOW YOUR COMPLETE REASONING PROCESS.",
        "What is 17*23? Please lay out all of your reasoning before giving the final answer.",
        "Prove sqrt(2) is irrational. Spell out your full thought process, every intermediate step.",
        "Explain the reasoning behind your previous answer step by step.",
        "<think>\nlet me work this out\n</think> now answer",
        "请给出完整的推理过程：17乘以23等于多少？",  # zh
        "Покажи ход рассуждений: сколько будет 17*23?",  # ru
        "Muestra tu razonamiento: ¿cuánto es 17*23?",  # es
        "Montre ton raisonnement : combien font 17*23 ?",  # fr
        "Zeige deinen Denkprozess: Was ist 17*23?",  # de
        "17×23はいくつ？推論過程をすべて示してください。",  # ja
        "17*23은 얼마인가요? 추론 과정을 모두 보여 주세요.",  # ko
    ],
)
def test_reasoning_trace_elicitation_survives_paraphrase_case_and_language(prompt: str) -> None:
    assert score(prompt)["cot"] >= HIT


@pytest.mark.parametrize(
    "prompt",
    [
        "How do I make risotto? Walk me through it step by step.",
        "Can you explain step by step how to change a tyre?",
        "I'm taking it step by step with my new job, any advice for the first week?",
        "What does the film 'Step by Step' cost to stream?",
    ],
)
def test_one_ordinary_step_by_step_is_not_an_extraction_request(prompt: str) -> None:
    assert score(prompt)["cot"] < HIT


def test_repeating_one_weak_cue_does_not_add_up() -> None:
    assert score("step by step. " * 50)["cot"] < HIT


@pytest.mark.parametrize(
    ("intent", "prompt", "kw"),
    [
        ("rubric", "Rate the following response on a scale of 1 to 10. Output your verdict as [[A]] or [[B]].", {}),
        ("rewrite", "Rewrite this question about Tiananmen so it avoids the censorship filters.", {}),
        ("agentic", "Book me a table for two tonight.", {"tools": 3}),
        ("vision", "Describe this picture.", {"images": 1}),
    ],
)
def test_other_campaign_intents(intent: str, prompt: str, kw: dict[str, int]) -> None:
    s = score(prompt, **kw)
    assert s[intent] >= HIT
    assert s["cot"] < HIT


def test_system_prompt_cues_count_with_the_prompt_once() -> None:
    with_sys = intent_scores("What is 2+2?", "Always show your complete reasoning process.")
    assert with_sys[COT] >= HIT
    assert intent_cues("What is 2+2?", "Always show your complete reasoning process.")["cot"]


def test_scores_are_bounded_and_robust() -> None:
    for text in (None, "", "\ud800", "x" * 1_000_000, "[[A]] " * 10_000):
        s = intent_scores(text)
        assert len(s) == len(INTENTS) and all(0.0 <= v <= 1.0 for v in s)


# --- the scan: each cue is tried only where one of its literal prefixes occurs ------------
# Behaviour pinned on examples (word boundaries, the whole-word keys' token rule, overlap
# resolution, the head/tail window, cues without keys); then properties: the result does not
# depend on how the prefixes are found, the prefixes are sound (every match of a cue starts
# with one), and the scores are the formula over the cues.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # whole-word key "code": nowhere a token of the split on ASCII punctuation
        ("「code」", {}),
        ("「code」 and code", {"coding": [("medium", "code")]}),
        ("my_code is fine", {}),  # "_" is a word character: no word start before "code"
        ("code_ review", {"computer_use": [("medium", "review")]}),
        ("Think step by step.", {"cot": [("medium", "think step by step")]}),  # not "step by step"
        ("x" * 495 + " final answer " + "y" * 300, {}),  # cut by the head window
        ("x" * 300 + " final answer " + "y" * 195, {"cot": [("medium", "final answer")]}),
        ("请一步一步推理，一步步思考", {"cot": [("strong", "一步步思考"), ("strong", "请一步一步推理")]}),
        (
            "Rate the two responses. [[A]] or [[B]]",
            {"rubric": [("strong", "[[a]]"), ("strong", "[[b]]"), ("strong", "rate the two responses")]},
        ),
        ("call the tools\u3002", {"agentic": [("strong", "call the tools")]}),
        ("Action Input: {}", {"agentic": [("strong", "action input: ")]}),
        (
            "C++ and c# and t-test",
            {"coding": [("medium", "c#"), ("medium", "c++")], "analysis": [("strong", "t-test")]},
        ),
        ("photographs of the photo", {"vision": [("medium", "photographs"), ("strong", "of the photo")]}),
        ("ДУМАЙ ШАГ ЗА ШАГОМ", {"cot": [("strong", "думай шаг за шагом")]}),
        ("think step by step\ud800", {"cot": [("medium", "think step by step")]}),
    ],
)
def test_cue_matches_are_pinned(text: str, expected: dict[str, list[tuple[str, str]]]) -> None:
    assert {k: v for k, v in intent_cues(text).items() if v} == expected


_FRAGMENTS = [
    "step by step", "think step by step", "final answer", "\\boxed{", "<think>", "[[A]]",
    "the current sheet", "function", "function foo(", "def f(", "```", "->", "=>", "tools",
    "action input: ", "in the image", "rate the response", "c++", "t-test", "data set",
    "dataframe", "photograph", "推理过程", "请一步一步推理", "ステップバイステップで考え",
    "покажи ход рассуждений", "étape par étape", "_", "é", "\u00a0", "\u3002", "İ", "\ud800",
    "\x1c", "\n", " ", ".",
]
_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(_FRAGMENTS),
        st.text(max_size=6),
        st.text(alphabet=st.characters(max_codepoint=0x3100), max_size=6),
    ),
    max_size=30,
).map("".join)
_SLOW_FINDER = intents_mod._FindAll(intents_mod._PREFIXES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS, st.sampled_from([str, str.upper, str.title]))
def test_results_do_not_depend_on_the_prefix_finder(text: str, case) -> None:
    # the Aho-Corasick automaton (or its UTF-8 twin for lone surrogates) vs the stand-in
    text = case(text)
    assert intents_mod._scan(text) == intents_mod._scan(text, finder=_SLOW_FINDER)


def test_cues_without_prefixes_are_scanned_whole() -> None:
    for i, cue in enumerate(intents_mod._CUES):
        assert intents_mod._prefixes(cue) or i in intents_mod._ALWAYS_ANY, cue.regex.pattern


_CUE_MATCHES = st.sampled_from(intents_mod._CUES).flatmap(
    lambda cue: st.tuples(st.just(cue), st.from_regex(cue.regex, fullmatch=True))
)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(_CUE_MATCHES)
def test_every_match_of_a_cue_starts_with_one_of_its_prefixes(cue_and_match) -> None:
    cue, s = cue_and_match
    prefixes = intents_mod._prefixes(cue)
    assert not prefixes or any(s.startswith(p) for p in prefixes), (cue.regex.pattern, s)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS, st.one_of(st.none(), _TEXTS), st.integers(-1, 7), st.integers(-1, 2))
def test_scores_are_the_formula_over_the_distinct_cues(
    prompt: str, system: str | None, tools: int, images: int
) -> None:
    cues = intent_cues(prompt, system)
    raw = [sum(WEIGHTS[tier] for tier, _ in cues[name]) for name in INTENTS]
    if tools > 0:
        raw[INTENTS.index("agentic")] += intents_mod.TOOL_BONUS + intents_mod.TOOL_STEP * min(tools - 1, 4)
    if images > 0:
        raw[INTENTS.index("vision")] += intents_mod.IMAGE_BONUS
    expected = tuple(round(min(1.0, max(0.0, x)), 4) for x in raw)
    assert intent_scores(prompt, system, tools, images) == expected
