"""Benign look-alikes of extraction campaigns must not alert: enterprise batch jobs, LLM-as-judge
evaluation pipelines, benchmark runs with reasoning on, coding agents with many tools."""

from __future__ import annotations

import random

from models.engine import Engine
from tests.models.fixtures import DAY, MIN, T0, event, harvester, interleave

JUDGE = ("[System] Please act as an impartial judge and evaluate the quality of the responses. "
         "Rate on a scale of 1 to 10.\n{}\nOutput your final verdict as [[A]] or [[B]].")


def alerts_for(events: list) -> list[dict]:
    eng = Engine()
    # a population of ordinary users gives the baselines something to stand on
    rng = random.Random(5)
    pop = [event(f"u{i}", T0 + rng.randint(0, 180 * MIN), 0, prompt="What's a good name for a cat?",
                 output_tokens=rng.randint(100, 700)) for i in range(200)]
    out = []
    for e in interleave(iter(pop), iter(events)):
        out += eng.process(e).alerts
    return out


def test_enterprise_batch_job_one_template_steady_and_voluminous() -> None:
    events = [event("ent", T0 + i * 20_000, i, account_tier="enterprise", account_created_ts=T0 - 700 * DAY,
                    prompt=f"Classify this support ticket into billing, bug or other: ticket #{i} says it broke.",
                    output_tokens=40) for i in range(500)]
    assert alerts_for(events) == []


def test_llm_as_judge_evaluation_pipeline() -> None:
    events = [event("evals", T0 + i * 30_000, i, account_tier="team", account_created_ts=T0 - 400 * DAY,
                    prompt=JUDGE.format(f"Answer A: {i} apples. Answer B: {i + 1} pears."), output_tokens=200)
              for i in range(300)]
    assert alerts_for(events) == []


def test_benchmark_run_with_reasoning_on_but_short_answers() -> None:
    rng = random.Random(3)
    events = [event("lab", T0 + i * 25_000, i, account_tier="edu", account_created_ts=T0 - 300 * DAY,
                    prompt=f"Solve: what is {rng.randint(2, 99)} * {rng.randint(2, 99)}? Let's think step by step "
                           "and put your final answer in \\boxed{}.",
                    reasoning_tokens=rng.randint(500, 2500), output_tokens=rng.randint(200, 600))
              for i in range(300)]
    assert alerts_for(events) == []


def test_coding_agent_with_tools_on_every_request() -> None:
    rng = random.Random(4)
    events, ts = [], T0
    for i in range(400):
        ts += 9_000 if i % 40 else 40 * MIN  # bursty editor sessions
        events.append(event("dev", ts, i, tool_count=25, account_created_ts=T0 - 3 * DAY,
                            prompt=f"Fix the failing test in src/module_{i}.py; run pytest after editing.",
                            system_prompt="You are an AI coding agent inside the editor.",
                            reasoning_tokens=rng.choice((0, 0, 300)), output_tokens=rng.randint(100, 900)))
    assert alerts_for(events) == []


def test_the_same_shape_with_harvesting_outputs_does_alert() -> None:
    # control: the detector is not simply silent on these populations
    got = alerts_for(list(harvester("bad", n=60, start=T0 + 10 * MIN)))
    assert {a["subject"] for a in got} == {"bad"}
