"""The detection engine: per-account scoring, link updates, and a local composite.

What it does
    :class:`AccountEngine` (one per partition of ``llm-requests``) folds each request into
    the account's bounded state (:mod:`models.account`), re-evaluates the account every few
    requests or minutes of event time (rules in :mod:`models.scoring` + River models in
    :mod:`models.learners`), raises at most one alert per escalation step, asks the
    :class:`~models.policy.Policy` for an action, and emits *link updates* (shared payment,
    /24, ASN+UA, prompt template) for the :class:`~models.cluster.ClusterEngine`.
    :class:`Engine` wires both together in-process (``replay --local``, tests).

How to use
    >>> from models.event import RequestEvent
    >>> eng = Engine()
    >>> ev = RequestEvent(request_id="r1", ts=1_700_000_000_000, account_id="a1", model="m",
    ...                   input_tokens=10, output_tokens=20, prompt="hi there")
    >>> res = eng.process(ev)
    >>> res.alerts, len(res.links) >= 0
    ([], True)

Contract
    Deterministic for an event order (event time only, seeded models). State lives behind a
    :class:`~models.state.StateStore` as MessagePack bytes; :meth:`AccountEngine.pop_dirty` hands the
    changed keys to the caller. River models are per partition and persisted separately via
    :meth:`AccountEngine.snapshot_models` (pickle + HMAC-SHA256, refused on a bad signature).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from functools import lru_cache, partial
from time import perf_counter as _perf
from typing import Any

from models.account import XLONG_OUTPUT_TOKENS, AccountState
from models.alerts import StepResult, make_alert
from models.cluster import ClusterEngine, default_partitioner
from models.config import EngineConfig
from models.event import RequestEvent
from models.learners import ModelBank
from models.policy import ACTIONS, Policy
from models.scoring import MEAN_OUT_PRIOR, assess, shrunk_suspicion
from models.state import KeyedCache, StateStore, dumps, loads
from models.text import text_signals

__all__ = ["AccountEngine", "ClusterEngine", "Engine", "EngineConfig", "StepResult"]

#: An evaluation keeps its reasons (signals, values, baselines) only at this score or above;
#: below it the account view's signals already tell everything, and formatting them on every
#: evaluation of every ordinary account cost more than the rest of the assessment.
REASONS_MIN_SCORE = 0.3

#: Below this score and suspicion an evaluated account is calm (see ``EngineConfig.calm_eval_factor``).
CALM_SCORE = 0.1


_NEVER = 1 << 62  # an event time (ms) no stream reaches


@lru_cache(maxsize=65_536)
def _hkey(kind: str, value: str) -> str:
    """Pseudonymous link key (state never holds the raw IP or payment fingerprint); cached
    because an account's keys are looked at every ``link_check_ms`` and rarely change."""
    return f"{kind}:{hashlib.sha1(value.encode()).hexdigest()[:16]}"  # noqa: S324 - pseudonymous key


class _Globals:
    """Per-partition globals: first-seen time of each model (bounded), first event time."""

    __slots__ = ("first_ts", "models", "clock", "ahead")

    def __init__(self, first_ts: int = -1, models: dict[str, int] | None = None, clock: int = -1,
                 ahead: int = -1) -> None:
        self.first_ts = first_ts
        self.models = models or {}
        self.clock = clock
        self.ahead = ahead  # event time of the previous event if it was beyond the clamp

    def to_json(self) -> list[Any]:
        return [self.first_ts, self.models, self.clock, self.ahead]

    @classmethod
    def from_json(cls, obj: list[Any]) -> _Globals:
        return cls(obj[0], dict(obj[1]), *obj[2:4])


class AccountEngine:
    """Scores accounts of one ``llm-requests`` partition.

    Parameters
    ----------
    config
        :class:`EngineConfig` (defaults documented there).
    store
        Backing :class:`~models.state.StateStore` (dict when None).
    policy
        Enforcement :class:`~models.policy.Policy` (the default YAML when None).
    seed
        Seed of the River models of this partition.
    cache_size
        Accounts kept decoded in memory. Default - 50 000.
    model_key
        HMAC key for :meth:`snapshot_models` / :meth:`restore_models`.
    """

    def __init__(self, config: EngineConfig | None = None, store: StateStore | None = None,
                 policy: Policy | None = None, seed: int = 0, cache_size: int = 50_000,
                 model_key: bytes = b"distillguard-local") -> None:
        self.config = cfg = config or EngineConfig()
        self.policy = policy or Policy.default()
        self.seed = seed
        self.model_key = model_key
        self._prefix = f"a:{cfg.state_tag}:"
        self._gkey = f"g:{cfg.state_tag}"
        self._cache = KeyedCache(store, AccountState.from_json, AccountState.to_json, max_items=cache_size)
        self.models = ModelBank(seed=seed, n_trees=cfg.hst_trees, height=cfg.hst_height,
                                window_size=cfg.hst_window, q=cfg.hst_q,
                                calibration_size=cfg.calibration_size,
                                supervised_min_labels=cfg.supervised_min_labels)
        self._glob: _Globals | None = None
        self._salt = zlib.crc32(hashlib.sha256(model_key + str(seed).encode()).digest())
        self.stats = {"events": 0, "text": 0, "evaluations": 0, "alerts": 0, "links": 0}
        #: seconds per stage when set to a dict (``bench/bench_engine.py``); None = off
        self.timings: dict[str, float] | None = None

    # -- state helpers ---------------------------------------------------------------------
    def _globals(self) -> _Globals:
        """Partition globals, read from the store once; written back by :meth:`pop_dirty`."""
        g = self._glob
        if g is None:
            raw = self._cache.store.get(self._gkey)
            g = _Globals.from_json(loads(raw)) if raw else _Globals()
            self._glob = g
        return g

    def _is_new_model(self, model: str, ts: int) -> bool:
        g = self._globals()
        cfg = self.config
        if g.first_ts < 0:
            g.first_ts = ts
        first = g.models.get(model)
        if first is None:
            first = ts
            models = g.models
            if len(models) >= cfg.max_tracked_models:
                del models[min(models, key=models.__getitem__)]
            models[model] = ts
        return first - g.first_ts >= cfg.model_warmup_ms and ts - first < cfg.model_new_ms

    # -- per event -------------------------------------------------------------------------
    def event_time(self, ts: int) -> int:
        """The event time (ms) to use for ``ts``, advancing the partition clock.

        An event more than ``max_future_skew_ms`` ahead of the clock is clamped to that
        limit, so one far-future timestamp cannot close every window. Time genuinely moves
        on (after an idle gap) when two consecutive events are both ahead: the clock then
        jumps to the earlier of the two. Late events keep their own (earlier) time.
        """
        g = self._globals()
        clock = g.clock
        if clock < 0:
            g.clock = ts
            return ts
        if ts <= clock:
            g.ahead = -1
            return ts
        lim = clock + self.config.max_future_skew_ms
        if ts <= lim:
            g.clock = ts
            g.ahead = -1
            return ts
        if g.ahead >= 0:  # corroborated: the previous event was ahead too
            clock = min(g.ahead, ts)
            g.ahead = -1
            t = min(ts, clock + self.config.max_future_skew_ms)
            g.clock = max(clock, t)
            return t
        g.ahead = ts
        g.clock = lim
        return lim

    def _wants_text(self, st: AccountState, request_id: str, output_tokens: int) -> bool:
        """Analyse this request's text? An account's first ``text_full`` requests (its first
        ``text_quick`` only, while they show nothing: see :meth:`AccountState.text_clean`),
        then a keyed-hash sample of 1 in ``text_every`` (unpredictable to the sender), of 1 in
        ``maxed_text_every`` for a request whose output (tokens) is maxed out, and every
        request while the account's outputs shift (:meth:`AccountState.output_shift`)."""
        cfg = self.config
        nt = st.n_txt
        if nt < cfg.text_full and (nt < cfg.text_quick or not st.text_clean()) or cfg.text_every <= 1:
            return True
        # an honest history must not hide a switch: every request is read while the account's
        # outputs shift, and maxed-out outputs (what harvesting asks for, rare in honest
        # traffic) are sampled more often (below the top step, which raises no further alert)
        if st.step < cfg.top_step and st.output_shift():
            return True
        h = zlib.crc32(request_id.encode("utf-8", "surrogatepass"), self._salt)
        if st.step >= cfg.top_step:  # its text is sampled less
            return h % (cfg.text_every * cfg.settled_text_factor) == 0
        return h % (cfg.maxed_text_every if output_tokens >= XLONG_OUTPUT_TOKENS else cfg.text_every) == 0

    def process(self, event: RequestEvent) -> StepResult:
        """Fold one request in; returns alerts, actions and link updates (usually none)."""
        cfg = self.config
        self.stats["events"] += 1
        acct = event.account_id
        key = self._prefix + acct
        st = self._cache.get_for_update(key)
        if st is None:
            st = AccountState.new(event.account_created_ts, event.account_tier)
            self._cache.put(key, st)
        if event.account_tier is not None:
            st.tier = event.account_tier
        if event.account_created_ts is not None:
            st.created = event.account_created_ts
        tm = self.timings
        t0 = _perf() if tm is not None else 0.0
        ts = self.event_time(event.ts)
        new_model = self._is_new_model(event.model, ts)
        st.update(event, ts, cfg.max_models, cfg.max_ip_blocks, new_model, cfg.ew_alpha)
        sig = None
        if tm is not None:
            t1 = _perf()
            tm["account_update"] += t1 - t0
            t0 = t1
        if self._wants_text(st, event.request_id, event.output_tokens):
            self.stats["text"] += 1
            sig = text_signals(event.prompt, event.system_prompt, event.tool_count or 0, event.image_count or 0)
            st.update_text(sig, cfg.intent_hit, cfg.ew_alpha, cfg.top_templates, cfg.recent_simhashes)
        if tm is not None:
            t1 = _perf()
            tm["text"] += t1 - t0
            t0 = t1
        res = StepResult()
        ts = st.last_ts
        n = st.n
        # an account at the top step can raise no further alert: it is re-evaluated
        # ``settled_eval_factor`` times less often (its view and summary still refresh);
        # one whose last evaluation found nothing at all, ``calm_eval_factor`` times less often
        if st.step >= cfg.top_step:
            slow = cfg.settled_eval_factor
        elif st.step == 0 and st.eval_ts >= 0 and st.score < CALM_SCORE and st.susp < CALM_SCORE:
            slow = cfg.calm_eval_factor
        else:
            slow = 1
        if n > st.eval_n and (
            n - st.eval_n >= cfg.eval_every_requests * slow
            or (st.eval_ts >= 0 and ts - st.eval_ts >= cfg.eval_every_ms * slow)
            or n == cfg.min_requests
            # a sparse account can only alert on maxed-out outputs: evaluate it early only then
            or (cfg.sparse_min_requests <= n < cfg.min_requests and 2 * st.n_xlong >= n)
        ):
            self._evaluate(acct, st, ts, sig.excerpt if sig is not None else None, res)
        if tm is not None:
            t1 = _perf()
            tm["evaluate"] += t1 - t0
            t0 = t1
        self._links(acct, st, event, sig, ts, res)
        if tm is not None:
            tm["links"] += _perf() - t0
        return res

    def _links(self, acct: str, st: AccountState, ev: RequestEvent, sig: Any, ts: int, res: StepResult) -> None:
        """Link updates: shared payment, /24, ASN+UA and the account's repeated prompt template."""
        cfg = self.config
        if st.n < cfg.link_min_requests:
            return
        # look at the link keys at most once a minute per account (and on analysed requests,
        # which may reveal a repeated template): keys only change slowly
        if sig is None and st.link_ts >= 0 and ts - st.link_ts < cfg.link_check_ms:
            return
        st.link_ts = ts
        # a member whose own suspicion just crossed the cluster bar refreshes every key now
        # (cheap: a few divisions, at most once a minute per account)
        if st.links and st.step == 0:
            own = shrunk_suspicion(st.n, st.n_txt, st.n_int, st.n_reason, st.n_long, st.n_xlong,
                                   self._out_ratio(st))
            if (own >= cfg.member_suspicion) != (st.susp >= cfg.member_suspicion):
                st.refresh_links()
                st.link_ts = ts
        # a member that does not harvest, or whose own alert reached the top step, says
        # little new each refresh: ``quiet_refresh_factor`` times less often (it stays active
        # in the cluster window; a change of its suspicion still refreshes every key at once)
        refresh = cfg.link_refresh_ms
        if st.susp < cfg.member_suspicion or st.step >= cfg.top_step:
            refresh *= cfg.quiet_refresh_factor
        # the account's own repeated prompt template (never the system prompt): the tracked
        # template its last analysed request counted under (paraphrases merged), from state,
        # so the key stays fresh however sparsely the account's text is sampled
        tpl = None
        t = st.last_tpl
        c = st.tpl.get(t)
        if c is not None and c >= cfg.template_link_min_count and c >= cfg.template_link_min_share * st.n_txt:
            tpl = str(t)
        # nothing due and the same keys as at the last full pass: that pass's outcome again
        raw = (ev.payment_fingerprint, ev.client_ip, ev.asn, ev.user_agent, tpl)
        memo = st.link_memo
        if sig is None and memo is not None and ts < memo[1] and memo[2] == refresh and memo[0] == raw:
            return
        cands = []
        if ev.payment_fingerprint:
            cands.append(("pay", ev.payment_fingerprint))
        if ev.client_ip:
            cands.append(("ip24", ev.client_ip.rpartition(".")[0] or ev.client_ip))
        if ev.asn is not None and ev.user_agent:
            cands.append(("asnua", f"{ev.asn}|{ev.user_agent}"))
        if tpl is not None:
            cands.append(("tpl", tpl))
        links = st.links
        summary = None
        due = _NEVER  # the earliest refresh of a key looked at
        for kind, value in cands:
            lkey = _hkey(kind, value)  # state never holds the raw IP / payment fingerprint
            ent = links.get(lkey)
            if ent is None:
                if len(links) >= cfg.max_link_keys:
                    continue
                per_kind = sum(1 for e in links.values() if e[2] == kind)
                if per_kind >= (2 if kind in ("ip24", "tpl") else 1):
                    continue
                ent = links[lkey] = [lkey, -1, kind]
            elif ts - ent[1] < refresh:
                if ent[1] + refresh < due:
                    due = ent[1] + refresh
                continue
            ent[1] = ts
            if ts + refresh < due:
                due = ts + refresh
            if summary is None:
                summary = self._summary(st, ts)
                # the organisation, pseudonymous: accounts of one organisation are one payer
                summary.append(_hkey("org", ev.org_id) if ev.org_id else "")
            res.links.append({"link_key": ent[0], "kind": kind, "account_id": acct, "ts": ts, "summary": summary})
            self.stats["links"] += 1
        st.link_memo = (raw, due, refresh)

    def _out_ratio(self, st: AccountState) -> float:
        """The account's mean output (tokens) over the population median."""
        med = self.models.baselines.quantile("mean_out", 0.5, MEAN_OUT_PRIOR)
        return (st.sum_out / (st.n or 1)) / max(100.0, med)

    def _summary(self, st: AccountState, ts: int) -> list[Any]:
        """Compact member summary for the cluster engine (layout: ``models.cluster.S_*``).

        The suspicion is recomputed from the state here (a few divisions), so members with
        too few requests for a full evaluation are still judged on their own behaviour.
        """
        out_ratio = self._out_ratio(st)
        own = shrunk_suspicion(st.n, st.n_txt, st.n_int, st.n_reason, st.n_long, st.n_xlong, out_ratio)
        st.susp = round(max(st.susp if st.step else 0.0, own), 4)
        # an allowlisted account (analyst verdict "benign") is sent as suspicion -1: clusters
        # leave it out entirely (never counted, pooled or named)
        susp = -1.0 if st.allow else st.susp
        created = st.created
        age_d = (ts - created) / 86_400_000 if created is not None and created <= ts else 365.0
        # layout: models.cluster S_* indexes (``_links`` appends the organisation token)
        return [st.n, float(sum(st.m_cnt)) if ts // 60_000 - st.m_idx < 60 else 0.0,
                round(st.n_extract / (st.n_txt or 1), 4), st.campaign, susp, round(age_d, 3),
                st.minute_mask(ts), ts // 60_000, ts,
                st.n_txt, st.n_int, st.n_reason, st.n_long, st.n_xlong, round(out_ratio, 3)]

    # -- evaluation (every few requests / minutes) -------------------------------------------
    def _evaluate(self, acct: str, st: AccountState, ts: int, excerpt: str | None, res: StepResult) -> None:
        cfg = self.config
        self.stats["evaluations"] += 1
        st.eval_n = st.n
        st.eval_ts = ts
        f = st.features(ts)
        bank = self.models
        # Population sample: a benign-looking account feeds the River model and the baselines
        # at most once per ``baseline_every_ms`` (a busy batch job must not outweigh a thousand
        # light users, and learning on every evaluation was the costliest step of all).
        sample = (st.susp < 0.3 and st.step == 0 and not st.confirmed
                  and (st.base_ts < 0 or ts - st.base_ts >= cfg.baseline_every_ms))
        anom: float | Callable[[], float]
        # the River models only see accounts with enough requests for stable features
        if st.n < cfg.min_requests:
            anom = 0.0
        elif sample and (zlib.crc32(acct.encode("utf-8", "surrogatepass"))
                         + ts // cfg.baseline_every_ms) % cfg.model_learn_every == 0:
            anom = bank.score(f, learn=True)
        else:  # scored only if it can change the outcome (see models.scoring.assess)
            anom = partial(bank.score, f, False)
        p_att = bank.attack_probability(f)
        thresholds = (cfg.alert_threshold, *cfg.step_thresholds)
        # the anomaly is only worth scoring if it could lift the account to a step not reached
        bar = thresholds[st.step] if st.step < len(thresholds) else 2.0
        a = assess(f, st.tier, anom, p_att, bank.baselines, cfg.old_account_ms / 86_400_000,
                   alert_bar=bar, reasons_min=REASONS_MIN_SCORE)
        was_susp = st.susp >= 0.5
        st.score = round(a.score, 4)
        st.campaign = a.campaign if a.score > 0 else st.campaign
        st.susp = round(a.suspicion, 4)
        st.reasons = a.reasons[:8]
        if excerpt and a.score >= 0.3:
            st.excerpt = excerpt[:160]
        # population baselines: benign-looking accounts, each at most once per
        # ``baseline_every_ms`` (a busy batch job must not outweigh a thousand light users)
        if sample and a.score < 0.3:
            st.base_ts = ts
            bank.baselines.update({**f, "anomaly": a.anomaly} if a.anomaly is not None else f)
        if (st.susp >= 0.5) != was_susp:
            st.refresh_links()  # refresh the cluster view now
        if st.allow:
            return
        if st.n >= cfg.min_requests:
            # two independent families with output maximisation, else three
            if a.fired < cfg.min_evidence + a.extra_evidence:
                return
        elif not (st.n >= cfg.sparse_min_requests and a.sparse_ok):
            return
        target = sum(1 for t in thresholds if a.score >= t)
        if target <= st.step:
            return
        st.step = target
        self._alert(acct, st, ts, a.campaign, target, a.score, a.reasons, res)

    def _alert(self, acct: str, st: AccountState, ts: int, campaign: str, step: int, score: float,
               reasons: list[dict[str, Any]], res: StepResult) -> None:
        alert = make_alert(acct, campaign, step, ts=ts, kind="account", accounts=[acct], score=score,
                           severity=self.policy.severity(score), reasons=reasons, excerpt=st.excerpt)
        st.alerts.append(alert["alert_id"])
        if len(st.alerts) > self.config.max_recent_alerts:
            del st.alerts[0]
        self.stats["alerts"] += 1
        res.alerts.append(alert)
        history = {"in_force": st.actions, "confirmed": st.confirmed, "allowlisted": st.allow}
        for act in self.policy.decide(alert, history):
            st.actions[act["action"]] = ts + act["ttl_s"] * 1000
            res.actions.append(act)

    # -- feedback ----------------------------------------------------------------------------
    def feedback(self, account_id: str, verdict: str, ts: int) -> StepResult:
        """Apply an analyst verdict.

        ``benign``: the account is allowlisted (no further alerts or actions; actions in force
        are lifted) and the supervised model learns a negative. ``attack``: the account is
        marked confirmed, the supervised model learns a positive, and a critical alert at the
        next step is raised (the policy may then suspend: confirmed evidence).
        """
        if verdict not in ("attack", "benign"):
            raise ValueError(f"verdict must be 'attack' or 'benign', got {verdict!r}")
        key = self._prefix + account_id
        st = self._cache.get(key)
        if st is None:
            st = AccountState.new(None, None)
            self._cache.put(key, st)
        else:
            self._cache.touch(key)
        res = StepResult()
        f = st.features(max(ts, st.last_ts)) if st.n else None
        if verdict == "benign":
            st.allow = True
            st.confirmed = False
            st.actions = {}
            st.refresh_links()  # tell the clusters at the next request
            if f is not None:
                self.models.learn_verdict(f, False)
            return res
        st.allow = False
        st.confirmed = True
        if f is not None:
            self.models.learn_verdict(f, True)
        st.step += 1
        reasons = [{"signal": "analyst_verdict", "value": 1.0, "baseline": 0.0, "detail": "confirmed attack"}]
        if not st.reasons and f is not None:  # a low-risk account keeps none: spell them out now
            st.reasons = assess(f, st.tier, 0.0, None, self.models.baselines,
                                self.config.old_account_ms / 86_400_000).reasons[:8]
        reasons += st.reasons[:6]
        self._alert(account_id, st, ts, st.campaign or "anomalous_usage", st.step, max(0.95, st.score), reasons, res)
        return res

    # -- views / state -------------------------------------------------------------------------
    def account_view(self, account_id: str) -> dict[str, Any] | None:
        """Risk, signals (values and baselines), recent alert ids, actions in force. No prompt text."""
        st = self._cache.get(self._prefix + account_id)
        if st is None:
            return None
        base = self.models.baselines
        f = st.features(st.last_ts) if st.n else {}
        signals = {k: {"value": round(v, 4), "baseline": round(base.quantile(k, 0.5), 4)}
                   for k, v in f.items() if k not in ("n", "span_h")}
        return {
            "account_id": account_id,
            "requests": st.n,
            "first_ts": st.first_ts,
            "last_ts": st.last_ts,
            "tier": st.tier,
            "risk": st.score,
            "campaign": st.campaign,
            "step": st.step,
            "allowlisted": st.allow,
            "confirmed": st.confirmed,
            "signals": signals,
            "reasons": st.reasons,
            "recent_alerts": list(st.alerts),
            "actions_in_force": {a: u for a, u in st.actions.items() if u > st.last_ts and a in ACTIONS},
            "link_keys": sorted(e[0] for e in st.links.values()),
        }

    def pop_dirty(self) -> dict[str, bytes]:
        """State keys written since the last call -> serialised records (partition globals included)."""
        out = self._cache.pop_dirty()
        if self._glob is not None:
            out[self._gkey] = dumps(self._glob.to_json())
        return out

    def flush(self) -> int:
        """Write :meth:`pop_dirty` into the store; returns the number of keys written."""
        return self._cache.flush_into(self.pop_dirty())

    def cached_keys(self) -> int:
        """Decoded states held in memory (bounded by ``cache_size``)."""
        return len(self._cache)

    def evict_all(self) -> None:
        """Drop in-memory state (after a rebalance); it is re-read from the store on access.
        Unflushed state is written to the store first."""
        self.flush()
        self._cache.evict_all()
        self._glob = None

    def snapshot_models(self, key: bytes | None = None) -> bytes:
        """River models, calibration and baselines: pickle signed with HMAC-SHA256."""
        return self.models.snapshot(key or self.model_key)

    def restore_models(self, blob: bytes, key: bytes | None = None) -> None:
        """Load :meth:`snapshot_models` output; raises ``SnapshotError`` on a bad signature."""
        self.models.restore(blob, key or self.model_key)


class Engine:
    """In-process composite: account engines per partition + cluster engines per partition.

    Link updates produced by an event are routed (by ``partitioner(link_key, partitions)``)
    to the cluster engines and processed immediately, so :meth:`process` returns the
    account *and* cluster outcomes of the event.
    """

    def __init__(self, config: EngineConfig | None = None, policy: Policy | None = None, partitions: int = 1,
                 partitioner: Callable[[str, int], int] | None = None, seed: int = 0) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.config = config or EngineConfig()
        self.policy = policy or Policy.default()
        self.partitions = partitions
        self.partitioner = partitioner or default_partitioner
        self.accounts = [AccountEngine(self.config, policy=self.policy, seed=seed + p) for p in range(partitions)]
        self.clusters = [ClusterEngine(self.config, policy=self.policy) for _ in range(partitions)]

    def account_engine(self, account_id: str) -> AccountEngine:
        """The engine of the partition that owns ``account_id``."""
        # one partition: no key to hash (replay --local and the engine bench run this way)
        return self.accounts[self.partitioner(account_id, self.partitions)] if self.partitions > 1 else self.accounts[0]

    def cluster_engine(self, link_key: str) -> ClusterEngine:
        """The cluster engine of the partition that owns ``link_key``."""
        return self.clusters[self.partitioner(link_key, self.partitions)] if self.partitions > 1 else self.clusters[0]

    def process(self, event: RequestEvent) -> StepResult:
        res = self.account_engine(event.account_id).process(event)
        if res.links:
            for link in res.links:
                out = self.cluster_engine(link["link_key"]).process(link)
                if out.alerts or out.actions:
                    res.alerts.extend(out.alerts)
                    res.actions.extend(out.actions)
        return res

    def feedback(self, account_id: str, verdict: str, ts: int) -> StepResult:
        return self.account_engine(account_id).feedback(account_id, verdict, ts)

    def account_view(self, account_id: str) -> dict[str, Any] | None:
        return self.account_engine(account_id).account_view(account_id)

    def cluster_view(self, cluster_id: str) -> dict[str, Any] | None:
        key = cluster_id.removeprefix("cluster:")
        return self.cluster_engine(key).cluster_view(key)
