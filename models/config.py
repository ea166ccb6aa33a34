"""Engine configuration: every threshold, window and cap in one frozen dataclass.

Units live in the names (``_ms``, ``_s``). Defaults are immutable scalars; bad values raise
``ValueError`` naming the parameter. :attr:`EngineConfig.state_tag` is folded into every
state key, so changing a window or a cap starts fresh state instead of misreading old state.

>>> EngineConfig().alert_threshold
0.6
>>> EngineConfig(min_requests=0)
Traceback (most recent call last):
...
ValueError: min_requests must be >= 1, got 0
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

__all__ = ["EngineConfig", "INTENT_CAMPAIGN"]

#: Which campaign an intent points to (intent order of ``models.intents.INTENTS``).
INTENT_CAMPAIGN: tuple[str, ...] = (
    "reasoning_extraction",  # cot
    "reward_model_grading",  # rubric
    "policy_safe_rewriting",  # rewrite
    "agentic_coding_harvest",  # agentic
    "agentic_coding_harvest",  # coding
    "agentic_coding_harvest",  # analysis
    "agentic_coding_harvest",  # computer_use
    "vision_harvest",  # vision
)


@dataclass(frozen=True)
class EngineConfig:
    """Thresholds, windows (ms) and caps of the detection engine.

    Account scoring
    ---------------
    min_requests
        Requests an account needs before the regular account alert (intent x two evidence
        families) can fire. Default - 10.
    sparse_min_requests
        Below ``min_requests`` an account may only alert on the *sparse* rule (an extraction
        intent on most requests and maxed-out outputs: low-and-slow), from this many
        requests on. Default - 3.
    eval_every_requests / eval_every_ms
        An account's features are re-evaluated (rules + River models) every this many
        requests or after this much event time, whichever comes first, and once at
        ``min_requests`` (features are never scored per event, to stay inside the per-event
        budget). Defaults - 32, 300 000 ms.
    settled_eval_factor
        An account already at the top alert step can raise no further alert: both
        re-evaluation intervals are this many times longer for it. Default - 16.
    calm_eval_factor
        An account below the first step whose last evaluation found nothing at all (score
        and suspicion under 0.1) is re-evaluated this many times less often; it is back to
        the normal pace once an evaluation finds anything. Default - 2.
    text_full / text_quick / text_every
        Text signals (fingerprint, intents) are computed for an account's first
        ``text_full`` requests, then for a keyed-hash sample of 1 in ``text_every`` (the
        sender cannot predict which). An account whose first ``text_quick`` analysed
        requests show nothing (no intent, no repeated template or payload, no reasoning
        tokens or long outputs) goes to the sample after them; it is analysed in full again
        as soon as a sampled request shows something, up to ``text_full``. Shares of intents
        and templates are over analysed requests. Defaults - 8, 4, 32.
    maxed_text_every
        A request with a maxed-out output (>= 4000 tokens), what harvesting asks for and honest
        traffic rarely gets, is sampled 1 in this many instead (below the top step), so an
        honest history's analysed requests do not outweigh a switch. Default - 4.
    settled_text_factor
        The text of an account already at the top alert step is sampled this many times
        less often (1 in ``text_every * settled_text_factor``). Default - 4.
    max_future_skew_ms
        Event time may run ahead of the partition clock by at most this much; further
        ahead it is clamped until a second event confirms the jump. Default - 600 000.
    intent_hit
        An intent score at or above this counts as a request *of* that intent. Default - 0.5.
    ew_alpha
        Weight of the newest request in per-account exponentially weighted means. Default - 0.05.
    alert_threshold / step_thresholds
        Score (0..1) for step 1, then the scores for steps 2, 3, ... Each step is alerted
        once (hysteresis: a subject never re-alerts at the same step). Defaults - 0.6,
        (0.75, 0.9).
    min_evidence
        Independent evidence families (besides the intent mix) that must fire for an
        account alert when its outputs are maximised; two more otherwise, and then only for
        explicit extraction phrasing on accounts younger than ``old_account_ms``. Default - 2.
    baseline_every_ms
        An account contributes to the population baselines at most this often, so busy
        accounts do not outweigh light ones. Default - 3 600 000.
    model_learn_every
        The River anomaly model learns from about 1 in this many of those samples (an
        account's sample hour, offset by a hash of its id, picks them); the baselines learn
        from all. Learning is the costliest step of an evaluation. Default - 2.

    Accounts: memory caps
    ---------------------
    top_templates (SpaceSaving k), recent_simhashes, max_models, max_ip_blocks,
    max_link_keys, max_recent_alerts.

    Links and clusters
    ------------------
    link_refresh_ms / link_check_ms
        An (account, link key) update is re-sent at most every ``link_refresh_ms``; an
        account's link keys are looked at most every ``link_check_ms``. Defaults - 1 200 000
        (a harvesting member is fresh in a 2-hour cluster window six times over; a crossing of
        the cluster bar is sent at once), 60 000.
    quiet_refresh_factor
        ``link_refresh_ms`` is this many times longer for a member that does not harvest on its
        own, or whose own alerts reached the top step. Default - 3.
    cluster_window_ms
        Members seen within this window count as active. Default - 7 200 000.
    cluster_eval_ms
        A link key is re-evaluated on a new member, else at most this often. Default - 180 000.
    max_members
        Members stored per link key (least recently seen evicted). Default - 256.
    broad_members
        A link key with more distinct members than this is *broad* (NAT, SDK default):
        it can only alert if nearly every active member harvests. Default - 64.
    min_cluster_members / cluster_member_share
        Harvesting members, and their share among active members, needed for a cluster
        alert. Defaults - 3, 0.6.
    member_suspicion / member_min_requests
        A member *harvests* when its own suspicion (intent x output maximisation, see
        :func:`models.scoring.shrunk_suspicion`) reaches this and it sent at least this many
        requests. Defaults - 0.5, 3.
    min_pay_members / pooled_min_requests
        A payment-linked (one payer) cluster needs only this many harvesting members, or its
        members' pooled traffic (at least ``pooled_min_requests`` requests) must be
        harvesting-like: hydra members are each too light to judge. Defaults - 2, 8.
        Accounts of one declared organisation (``org_id``) count as one payer: a team's
        developer and CI accounts on the company card are not several accounts behind one
        payer. A payment key whose active members are all one organisation is judged as a
        shared network is (harvesting members only, named alone).
    member_clear_requests
        On a payment key, a member with at least this many requests of its own whose own
        suspicion stays under ``member_suspicion``, with almost no explicit extraction
        phrasing (under 15 % of its analysed requests), has cleared itself: the cluster never
        names it (an honest customer behind a reseller's card). Lighter members are judged
        with the payer's pooled traffic. Default - 20.
    model_new_ms / model_warmup_ms
        A model is *new* for this long after it is first seen, provided it was first seen
        at least ``model_warmup_ms`` after the partition's first event. Defaults - 24 h, 1 h.
    """

    # account scoring
    min_requests: int = 10
    sparse_min_requests: int = 3
    eval_every_requests: int = 32
    eval_every_ms: int = 300_000
    settled_eval_factor: int = 16
    calm_eval_factor: int = 2
    text_full: int = 8
    text_quick: int = 4
    text_every: int = 32
    maxed_text_every: int = 4
    settled_text_factor: int = 4
    max_future_skew_ms: int = 600_000
    intent_hit: float = 0.5
    ew_alpha: float = 0.05
    alert_threshold: float = 0.6
    step_thresholds: tuple[float, ...] = (0.75, 0.9)
    min_evidence: int = 2
    old_account_ms: int = 180 * 86_400_000
    # account memory caps
    top_templates: int = 16
    recent_simhashes: int = 16
    max_models: int = 8
    max_ip_blocks: int = 16
    max_link_keys: int = 6
    max_recent_alerts: int = 8
    # links / clusters
    link_refresh_ms: int = 1_200_000
    quiet_refresh_factor: int = 3
    link_check_ms: int = 60_000
    link_min_requests: int = 1
    template_link_min_count: int = 8
    template_link_min_share: float = 0.3
    cluster_window_ms: int = 7_200_000
    cluster_eval_ms: int = 180_000
    max_members: int = 256
    broad_members: int = 64
    min_cluster_members: int = 3
    cluster_member_share: float = 0.6
    member_suspicion: float = 0.5
    member_min_requests: int = 3
    min_pay_members: int = 2
    pooled_min_requests: int = 8
    member_clear_requests: int = 20
    # partition globals
    max_tracked_models: int = 256
    model_new_ms: int = 86_400_000
    model_warmup_ms: int = 3_600_000
    # models
    hst_trees: int = 3
    hst_height: int = 8
    hst_window: int = 250
    hst_q: float = 0.98
    calibration_size: int = 512
    baseline_every_ms: int = 3_600_000
    model_learn_every: int = 2
    supervised_min_labels: int = 10

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            low = 0 if isinstance(v, float) or f.name == "min_evidence" else 1
            if v < low:
                raise ValueError(f"{f.name} must be >= {low}, got {v}")
        if not 0 < self.ew_alpha <= 1:
            raise ValueError(f"ew_alpha must be in (0, 1], got {self.ew_alpha}")
        if not 0 < self.alert_threshold < 1:
            raise ValueError(f"alert_threshold must be in (0, 1), got {self.alert_threshold}")
        if any(t <= self.alert_threshold or t > 1 for t in self.step_thresholds) or list(
            self.step_thresholds
        ) != sorted(self.step_thresholds):
            raise ValueError(f"step_thresholds must be increasing and above alert_threshold, got {self.step_thresholds}")
        if self.hst_height > 10:
            raise ValueError(f"hst_height must be <= 10 (2**(h+1)-1 nodes per tree), got {self.hst_height}")

    @property
    def top_step(self) -> int:
        """The highest alert step (``alert_threshold`` is step 1, then one per ``step_thresholds``)."""
        return 1 + len(self.step_thresholds)

    @property
    def state_tag(self) -> str:
        """Short hash of the parameters that shape stored state (part of every state key)."""
        shape = (self.top_templates, self.recent_simhashes, self.max_models, self.max_ip_blocks,
                 self.max_link_keys, self.max_members, 4)
        return hashlib.sha1(repr(shape).encode()).hexdigest()[:6]
