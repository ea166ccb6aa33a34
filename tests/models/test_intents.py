"""Intent detectors: paraphrase, casing and other languages; no firing on one ordinary "step by step"."""

from __future__ import annotations

import pytest

from models.intents import INTENTS, intent_cues, intent_scores

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
