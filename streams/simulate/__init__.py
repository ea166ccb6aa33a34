"""Labelled traffic simulator: benign API populations plus distillation campaigns.

``simulate(out_path, labels_path, seed=..., hours=..., scale=..., scenario=...)`` writes a capture
(JSON lines sorted by ``ts``, one request event per line, ``models/schemas/request.schema.json``) and a
labels CSV (``account_id,label,scenario,group,attack_from_ts``). Output is byte-identical for the same arguments and
corpus. ``simulate_command`` is the ``distillguard simulate`` click command.
"""

from streams.simulate.cli import simulate_command
from streams.simulate.core import (
    ATTACK_SCENARIOS,
    BENIGN_SCENARIOS,
    DEFAULT_START_MS,
    SCENARIO_CHOICES,
    SimulationPlan,
    SimulationSummary,
    iter_events,
    plan_simulation,
    simulate,
)

__all__ = [
    "ATTACK_SCENARIOS",
    "BENIGN_SCENARIOS",
    "DEFAULT_START_MS",
    "SCENARIO_CHOICES",
    "SimulationPlan",
    "SimulationSummary",
    "iter_events",
    "plan_simulation",
    "simulate",
    "simulate_command",
]
