"""Account scoring: intent mix x independent evidence families -> campaign, score, reasons.

A rule is clearer than a model here, so the account score is a small, documented formula:

* **Intent strength** ``I`` - the share of the account's analysed requests whose intent score
  for the campaign's intents is high (CoT elicitation, rubric grading, safe rewriting,
  agentic / coding / analysis / computer-use, vision), ramped 0.15 -> 0.45 for explicit
  extraction phrasing (rare in ordinary prompts) and 0.2 -> 0.6 for capability intents.
* **Output maximisation** (:func:`output_max`) - reasoning requested *with* outputs well above
  the population median, or long / maxed-out outputs on most requests. It is the family
  that separates harvesting from honest heavy use (benchmarks, coding agents, batch jobs).
* **Evidence** ``E`` - a sum over *independent* families, each in [0, 1]: output maximisation,
  a new account (young or ramping fast since creation), sustained volume above the benign
  population, 24/7 activity, machine-regular timing, template repetition with payload
  diversity, traffic moved to a newly released model, one account spread over many networks,
  (once trained) the supervised verdict model, and the calibrated River anomaly quantile at
  half weight (an outlier corroborates, it never decides).
* **Recent view** - for the explicit extraction campaigns, the intent share and the share of
  long / maxed outputs are also judged over the last ~20 requests (exponentially weighted),
  with the shift from the lifetime shares as one more family; that view wins when it scores
  higher and needs no more evidence: a long honest history must not hide a switch to harvesting.
* ``score = I * (0.3 + 0.7 * min(1, E / 2))``, damped x0.75 for long-lived team/enterprise
  accounts. An account alert needs ``min_evidence`` families firing (>= 0.5, anomaly not
  counted) with output maximisation; without it, two more, explicit extraction phrasing and
  an account younger than ``old_account_days`` - never one signal. An established account
  (``old_account_days`` or older) on a capability campaign (coding, tools, images) does not
  count volume, 24/7 activity, regular timing or template repetition: its CI bots and
  pipelines show them by design.
* A *sparse* account (low-and-slow: a handful of requests) may alert only on explicit
  extraction phrasing plus maxed-out outputs on most requests (``Assessment.sparse_ok``).

Without extraction intent the fallback campaign ``anomalous_usage`` can still fire, but only
on strong, broad evidence (anomaly + several families), and its score is capped.

Every reason carries the value and the benign population baseline (running median).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from models.baseline import Baselines

__all__ = ["Assessment", "CAMPAIGN_INTENTS", "RECENT_CAMPAIGNS", "assess", "output_max", "recent_view",
           "shrunk_suspicion", "suspicion_of"]

#: campaign -> intent feature names whose shares add up to its intent strength
CAMPAIGN_INTENTS: dict[str, tuple[str, ...]] = {
    "reasoning_extraction": ("intent_cot",),
    "reward_model_grading": ("intent_rubric",),
    "policy_safe_rewriting": ("intent_rewrite",),
    "agentic_coding_harvest": ("intent_agentic", "intent_coding", "intent_analysis", "intent_computer_use"),
    "vision_harvest": ("intent_vision",),
}

_CAMPAIGN_NAMES = tuple(CAMPAIGN_INTENTS.items())

_TRUSTED_TIERS = frozenset({"team", "enterprise"})

#: Campaigns of capability intents (everyday developer and document work, unlike explicit
#: extraction phrasing): on an established account they need evidence beyond TOOLING_FAMILIES.
CAPABILITY_CAMPAIGNS = frozenset({"agentic_coding_harvest", "vision_harvest"})
#: Evidence families that honest automation shows by design (CI bots, batch pipelines).
TOOLING_FAMILIES = frozenset({"req_1h", "active_frac", "cv_gap", "top_template_share"})

#: Campaigns also judged on their last ~20 requests (:func:`recent_view`).
RECENT_CAMPAIGNS = ("reasoning_extraction", "reward_model_grading", "policy_safe_rewriting")
_RECENT_KEY = {c: "recent_" + CAMPAIGN_INTENTS[c][0] for c in RECENT_CAMPAIGNS}
_CAPABILITY_INTENTS = tuple(n for c, names in CAMPAIGN_INTENTS.items() if c not in RECENT_CAMPAIGNS
                            for n in names)


@dataclass
class Assessment:
    """Outcome of :func:`assess` for one account at one evaluation.

    ``score`` in [0, 1] (alert steps compare against it), ``fired`` the number of evidence
    families at >= 0.5 (the anomaly model does not count: it corroborates, never decides),
    ``suspicion`` in [0, 1] how harvesting-like the account is on its own (sent to the
    cluster engine), ``families`` every family's strength (for explanations and tests).
    """

    score: float
    campaign: str
    evidence: float
    fired: int
    reasons: list[dict[str, Any]]
    suspicion: float
    intent: float = 0.0
    output_max: float = 0.0
    sparse_ok: bool = False
    extra_evidence: int = 0
    #: the calibrated anomaly quantile used, or None when it could not change the outcome
    #: and was therefore not computed (see :func:`assess`)
    anomaly: float | None = None
    _fam: list[tuple[Any, ...]] = field(default_factory=list, repr=False)

    @property
    def families(self) -> dict[str, float]:
        """Every evidence family's strength, rounded (built on demand: rarely read)."""
        return {fm[0]: round(fm[1], 4) for fm in self._fam}


def _r(signal: str, value: float, baseline: float, detail: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"signal": signal, "value": round(float(value), 4), "baseline": round(float(baseline), 4)}
    if detail:
        d["detail"] = detail
    return d


def _ramp(x: float, lo: float, hi: float) -> float:
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return (x - lo) / (hi - lo)


#: Campaigns whose intent is itself an extraction request (not ordinary developer work);
#: only these can alert on a *sparse* account (low-and-slow: few requests, each maxed out).
SPARSE_CAMPAIGNS = frozenset({"reasoning_extraction", "reward_model_grading", "policy_safe_rewriting"})

#: Population median of per-account mean output (tokens) assumed until the baseline has
#: seen enough accounts (typical chat answers are a few hundred tokens).
MEAN_OUT_PRIOR = 500.0

#: Anomaly strength is scaled by this: a population outlier corroborates, it never decides
#: (coding agents, batch jobs and benchmark runs are all outliers of a chat-heavy population).
ANOMALY_WEIGHT = 0.5


def output_max(reasoning_share: float, out_ratio: float, long_share: float, xlong_share: float) -> float:
    """Output maximisation in [0, 1]: reasoning requested *with* outputs well above the
    population's median length (``out_ratio``), or long / maxed-out outputs on most requests.

    Reasoning alone is ordinary (benchmarks, hard questions); so are long answers now and then.

    >>> output_max(0.95, 3.0, 0.1, 0.0), output_max(0.95, 1.1, 0.0, 0.0), output_max(0.0, 1.0, 0.0, 0.6)
    (1.0, 0.0, 1.0)
    """
    return max(_ramp(reasoning_share, 0.5, 0.9) * _ramp(out_ratio, 1.3, 2.5),
               _ramp(long_share, 0.25, 0.6), _ramp(xlong_share, 0.2, 0.5))


def suspicion_of(intent_any_share: float, om: float) -> float:
    """How harvesting-like one account is on its own, whatever its campaign mix (hydra members
    spread over several): share of requests with any capability intent x output maximisation.

    >>> suspicion_of(0.8, 1.0), suspicion_of(1.0, 0.0), suspicion_of(0.1, 1.0)
    (1.0, 0.25, 0.0)
    """
    return _ramp(intent_any_share, 0.2, 0.6) * (0.25 + 0.75 * om)


#: Pseudo-requests of benign behaviour added to every share in :func:`shrunk_suspicion`: one
#: request is not a behaviour (a single long answer to a coding question is not).
SUSPICION_PRIOR = 1.0


def shrunk_suspicion(n: float, n_txt: float, n_intent: float, n_reason: float, n_long: float,
                     n_xlong: float, out_ratio: float) -> float:
    """:func:`suspicion_of` from raw counts, each share shrunk towards 0 by
    :data:`SUSPICION_PRIOR` pseudo-requests.

    >>> shrunk_suspicion(2, 2, 2, 0, 0, 0, 5.0) < 0.5 <= shrunk_suspicion(6, 6, 6, 6, 6, 6, 5.0)
    True
    """
    k = SUSPICION_PRIOR
    om = output_max(n_reason / (n + k), out_ratio, n_long / (n + k), n_xlong / (n + k))
    return suspicion_of(n_intent / (n_txt + k), om)


def assess(f: dict[str, float], tier: str | None, anomaly: float | Callable[[], float],
           p_attack: float | None, base: Baselines, old_account_days: float = 180.0,
           alert_bar: float = 0.0, reasons_min: float = 0.0) -> Assessment:
    """Score one account's features (see the module docstring). Pure function of its inputs.

    ``anomaly`` is the calibrated River anomaly quantile in [0, 1], or a callable returning
    it. Scoring the River model is the costliest part of an evaluation, so the callable is
    only invoked when the anomaly can change a decision: when enough families fire for the
    ``anomalous_usage`` fallback, or when the score *with the largest anomaly contribution*
    would reach ``alert_bar`` (the engine passes its alert threshold). Otherwise the score
    is computed without it (``Assessment.anomaly`` is None): below the alert bar either way.
    ``reasons`` are only spelled out when the score reaches ``reasons_min`` (the engine keeps
    them for accounts worth explaining; :attr:`Assessment.families` always has every family).

    >>> from models.baseline import Baselines
    >>> f = {"intent_cot": 0.0, "intent_rubric": 0.0, "intent_rewrite": 0.0, "intent_agentic": 0.0,
    ...      "intent_coding": 0.0, "intent_analysis": 0.0, "intent_computer_use": 0.0,
    ...      "intent_vision": 0.0, "intent_any": 0.0, "n": 20.0, "n_txt": 8.0, "span_h": 2.0,
    ...      "mean_out": 300.0, "reasoning_share": 0.0, "long_output_share": 0.0,
    ...      "xlong_output_share": 0.0, "req_1h": 10.0, "age_days": 400.0, "ramp": 0.0,
    ...      "active_frac": 0.5, "cv_gap": 1.0, "top_template_share": 0.1, "dup_rate": 0.0,
    ...      "new_model_share": 0.0, "ip_blocks": 1.0}
    >>> def never() -> float:
    ...     raise AssertionError("an account without intent or evidence needs no anomaly score")
    >>> a = assess(f, "pro", never, None, Baselines())
    >>> a.score, a.anomaly
    (0.0, None)
    """
    a = _assess(f, tier, anomaly, p_attack, base, old_account_days, alert_bar, reasons_min, "")
    rf = recent_view(f)
    if rf is None:
        return a
    r = _assess(rf, tier, anomaly, p_attack, base, old_account_days, alert_bar, reasons_min, " (recent)")
    # the recent view wins only if it says more and needs no more evidence to alert
    if r.score > a.score and r.fired - r.extra_evidence >= a.fired - a.extra_evidence:
        return r
    return a


def recent_view(f: dict[str, float]) -> dict[str, float] | None:
    """The account's features as its last ~20 requests show them, for the explicit extraction
    campaigns only (:data:`RECENT_CAMPAIGNS`); None when its recent requests show too little
    of them (share <= 0.15, or no recent view in ``f``).

    A long honest history must not hide a switch to harvesting; everyday coding or analysis
    in a burst is what honest developers do, so the other intents count 0 in this view. Of
    the outputs only the long and maxed shares are recent: reasoning switched on for a while
    is a model change (benchmark runs do it), so the reasoning share stays the lifetime one.
    ``output_shift``: how far the recent share of long or maxed outputs is above the lifetime
    one (an evidence family of its own in this view).

    >>> f = {"recent_intent_cot": 0.9, "recent_intent_rubric": 0.0, "recent_intent_rewrite": 0.0,
    ...      "recent_long_output_share": 0.9, "recent_xlong_output_share": 0.9, "intent_cot": 0.1,
    ...      "intent_coding": 0.5, "long_output_share": 0.1, "xlong_output_share": 0.05}
    >>> v = recent_view(f)
    >>> v["intent_cot"], v["intent_coding"], v["intent_any"], v["xlong_output_share"], round(v["output_shift"], 2)
    (0.9, 0.0, 0.9, 0.9, 0.85)
    >>> recent_view({"intent_cot": 0.9}) is None
    True
    """
    shares = [f.get(_RECENT_KEY[c], 0.0) for c in RECENT_CAMPAIGNS]
    if max(shares) <= 0.15:
        return None
    v = dict(f)
    for name in _CAPABILITY_INTENTS:
        v[name] = 0.0
    for c, sh in zip(RECENT_CAMPAIGNS, shares):
        v[CAMPAIGN_INTENTS[c][0]] = sh
    v["intent_any"] = min(1.0, sum(shares))
    shift = 0.0
    for name in ("long_output_share", "xlong_output_share"):
        shift = max(shift, f["recent_" + name] - f[name])
        v[name] = f["recent_" + name]
    v["output_shift"] = shift
    return v


def _assess(f: dict[str, float], tier: str | None, anomaly: float | Callable[[], float],
            p_attack: float | None, base: Baselines, old_account_days: float, alert_bar: float,
            reasons_min: float, view: str) -> Assessment:
    """:func:`assess` on one view of the account (``view`` names it in the reasons)."""
    # -- intent mix --------------------------------------------------------------------
    best_c, best_share = "anomalous_usage", 0.0
    for c, names in _CAMPAIGN_NAMES:
        sh = f[names[0]] if len(names) == 1 else sum(f[n] for n in names)
        if sh > best_share:
            best_c, best_share = c, min(1.0, sh)
    # Explicit extraction phrasing (reasoning traces, grading, safe rewrites) is rare in
    # ordinary prompts (<= 0.2 % of benign corpus prompts) and the lexicons miss paraphrases,
    # so a lower share already means a lot; coding / tool use is everyday developer work.
    lo, hi = (0.15, 0.45) if best_c in SPARSE_CAMPAIGNS else (0.2, 0.6)
    intent = _ramp(best_share, lo, hi)
    med = base.quantile
    # -- evidence families: (signal, strength, value, baseline signal, detail) ---------------
    # baselines and detail texts are only looked up / formatted for the reasons spelled out
    n = f["n"]
    span_h = f["span_h"]
    # output-maximising parameters: reasoning requested, long or maxed outputs. Tools and
    # images are not counted here: they *are* the agentic / vision intents.
    mean_out_med = max(100.0, med("mean_out", 0.5, MEAN_OUT_PRIOR))
    out_ratio = f["mean_out"] / mean_out_med
    om = output_max(f["reasoning_share"], out_ratio, f["long_output_share"], f["xlong_output_share"])
    age = f["age_days"]
    # sustained volume above the benign population (p95 of req/h)
    p95 = max(5.0, med("req_1h", 0.95, 30.0))
    # a freshly created account (farmed accounts are young: 1 below 14 days, 0 from 30 days),
    # or one ramping fast since creation: one family, both say "new account"
    young = _ramp(30.0 - age, 0.0, 16.0)
    ramp = _ramp(f["ramp"], 3.0, 15.0) if age < 14 else 0.0
    # template repetition with payload diversity
    rep = (_ramp(f["top_template_share"], 0.25, 0.6) * _ramp(0.5 - f["dup_rate"], 0.0, 0.3)
           * _ramp(f["n_txt"], 8, 16))
    fam: list[tuple[str, float, float, str | float, Any]] = [
        ("output_max", om, f["reasoning_share"], "reasoning_share",
         ("share of requests with reasoning tokens; mean output {:.1f}x the population median{}",
          out_ratio, view)),
        ("req_1h", _ramp(f["req_1h"] / p95, 1.0, 2.0), f["req_1h"], "req_1h",
         "requests in the last hour vs benign p95"),
        ("new_account", max(young, ramp), age, "age_days",
         ("account age in days (ramp since creation {:.1f} requests/hour)", f["ramp"])),
        # 24/7: active in nearly every hour of its span (needs a few hours of span)
        ("active_frac", _ramp(f["active_frac"], 0.75, 0.95) * _ramp(span_h, 3.0, 6.0), f["active_frac"],
         "active_frac", ("active hours / {} h span", int(span_h))),
        # machine-regular timing
        ("cv_gap", _ramp(0.8 - f["cv_gap"], 0.0, 0.5) * _ramp(n, 10, 30), f["cv_gap"], "cv_gap",
         "coefficient of variation of inter-arrival gaps"),
        ("top_template_share", rep, f["top_template_share"], "top_template_share",
         "share of the top prompt template (payloads differ)"),
        # pivot to a newly released model
        ("new_model_share", _ramp(f["new_model_share"], 0.2, 0.45), f["new_model_share"], "new_model_share",
         "share of traffic on models first seen < 24 h ago"),
        # one account spread over many networks
        ("ip_blocks", _ramp(f["ip_blocks"], 3.0, 8.0), f["ip_blocks"], "ip_blocks", "distinct client /24 blocks"),
    ]
    shift = f.get("output_shift")
    if shift is not None:  # the recent view: a change of behaviour is evidence of its own
        fam.append(("output_shift", _ramp(shift, 0.2, 0.5), shift, 0.0,
                    "recent share of long / maxed outputs minus the lifetime share"))
    if p_attack is not None:
        fam.append(("supervised", _ramp(p_attack, 0.5, 0.9), p_attack, 0.5, "P(attack) from analyst verdicts"))
    fired = 0
    evidence = 0.0
    for fm in fam:
        evidence += fm[1]
        if fm[1] >= 0.5:
            fired += 1
    damp = 0.75 if age >= old_account_days and tier in _TRUSTED_TIERS else 1.0
    used: float | None
    if callable(anomaly):
        # the anomaly enters the score through the intent (score = intent x ...) and the
        # fallback (fired >= 4) only, and by at most ANOMALY_WEIGHT evidence
        best = intent * (0.3 + 0.7 * min(1.0, (evidence + ANOMALY_WEIGHT) / 2.0)) * damp
        used = anomaly() if (fired >= 4 or (intent > 0 and best >= alert_bar)) else None
    else:
        used = anomaly
    anomaly = 0.0 if used is None else used
    an = ANOMALY_WEIGHT * _ramp(anomaly, 0.95, 0.995)
    fam.append(("anomaly", an, anomaly, 0.5, "HalfSpaceTrees score, quantile among benign-looking accounts"))
    evidence += an
    # -- combine -------------------------------------------------------------------------
    ev_part = min(1.0, evidence / 2.0)
    if intent > 0:
        score = intent * (0.3 + 0.7 * ev_part) * damp
        campaign = best_c
    else:
        score = 0.0
        campaign = "anomalous_usage"
    # fallback: strong, broad anomaly without an extraction intent mix
    if anomaly >= 0.99 and fired >= 4:
        fb = min(0.7, 0.45 + 0.06 * fired) * damp
        if fb > score:
            score, campaign = fb, "anomalous_usage"
    # sparse accounts (too few requests for volume/timing evidence): only an extraction
    # intent on nearly every request *and* maxed-out outputs on most of them may alert.
    # An account may alert (the engine also checks its request count) with ``min_evidence``
    # families when its outputs are maximised. Without output maximisation only explicit
    # extraction phrasing may alert, with two more families, and never on an established
    # (old) account: volume, regular timing and one repeated template are what batch jobs,
    # eval pipelines, benchmark runs and developer tooling look like by design.
    established = age >= old_account_days
    need = 0 if om >= 0.5 else (2 if campaign in SPARSE_CAMPAIGNS and not established else 99)
    if established and campaign in CAPABILITY_CAMPAIGNS and need == 0:
        # an established account doing capability work (coding, tools, images): volume, 24/7
        # activity, regular timing and a repeated template are what its CI bots and pipelines
        # look like by design, and long outputs are what code is. Those families do not count
        # for it: it needs evidence they never show (a pivot to a new model, many networks,
        # an analyst verdict) besides its outputs
        need = sum(1 for fm in fam if fm[0] in TOOLING_FAMILIES and fm[1] >= 0.5)
    sparse_ok = (campaign in SPARSE_CAMPAIGNS and intent >= 0.5 and om >= 0.9
                 and f["xlong_output_share"] >= 0.5)
    # how harvesting-like the account is on its own, whatever the campaign mix (hydra members
    # spread over several): any capability intent x output maximisation
    nn, nt = f["n"], f["n_txt"]
    suspicion = shrunk_suspicion(nn, nt, f["intent_any"] * nt, f["reasoning_share"] * nn,
                                 f["long_output_share"] * nn, f["xlong_output_share"] * nn, out_ratio)
    score = min(1.0, score)
    reasons: list[dict[str, Any]] = []
    if score >= reasons_min:
        if best_share > 0:
            names = CAMPAIGN_INTENTS.get(best_c, ())
            reasons.append(_r("intent_share", best_share, sum(med(nm, 0.5) for nm in names),
                              f"{best_c}: share of requests with that intent{view}"))
        for sig, s_, v, b, d in sorted(fam, key=lambda t: -t[1]):
            if s_ >= 0.25:
                reasons.append(_r(sig, v, med(b, 0.5) if isinstance(b, str) else b,
                                  d if isinstance(d, str) else d[0].format(*d[1:])))
        if damp < 1.0:
            reasons.append(_r("account_age_days", age, med("age_days", 0.5),
                              f"long-lived {tier} account (score damped)"))
    return Assessment(score=score, campaign=campaign, evidence=evidence, fired=fired,
                      reasons=reasons, suspicion=suspicion, intent=intent, output_max=om, sparse_ok=sparse_ok,
                      extra_evidence=need, _fam=fam, anomaly=used)
