"""Cluster engine: accounts linked by shared infrastructure, scored as one subject.

Input is the ``distill-links`` stream (keyed by ``link_key``): an account engine sends one
update per (account, link key) when it first sees the pair and at most every
``link_refresh_ms`` after, with a compact account summary. Link kinds:

``pay``   shared payment fingerprint          (strong: different accounts, one card)
``tpl``   shared prompt template fingerprint  (the wrapper, never the system prompt)
``asnua`` same ASN + user agent               (weak: SDK defaults are shared widely)
``ip24``  same client /24                     (weak: NATs put hundreds of users together)

A link key alone proves nothing (a campus NAT, a popular SDK). Sharing a key never makes a
member suspicious: a member *harvests* only on its own evidence (its suspicion, intent x
output maximisation, computed by the account engine, after ``member_min_requests``).
A cluster alert needs ``min_cluster_members`` harvesting members and their share among the
active members (``cluster_member_share``), then further independent evidence: link strength,
synchronised timing (members active in the same minutes), low dispersion of member rates
(load balancing), aggregate volume far above one account's, young accounts, the members'
mean suspicion. Only a shared payment fingerprint (one payer behind accounts of several
organisations) names members that do not harvest on their own, and there the members' pooled
counts are judged too (hydra members are each too light): it names every active member but
those that cleared themselves (enough honest traffic of their own). Accounts of one declared
organisation count as one payer (a team's accounts on the company card), so a payment key
held by one organisation is judged as a shared network is. Every other kind names only the
harvesting members, so an honest user behind the same NAT, SDK or copied template is never
named. A key with more than ``broad_members`` distinct
members is *broad*: it alerts only if nearly every active member harvests. Allowlisted
accounts take no part. Members per key are capped (least recently seen evicted); a cluster
that alerted alerts again (next step) when members it has not named yet join.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from models.alerts import StepResult, make_alert
from models.config import EngineConfig
from models.policy import Policy
from models.scoring import shrunk_suspicion
from models.state import KeyedCache, StateStore

__all__ = ["ClusterEngine", "LINK_WEIGHT"]

#: How much a shared key of this kind says by itself (evidence units).
LINK_WEIGHT = {"pay": 1.0, "tpl": 0.8, "asnua": 0.3, "ip24": 0.2}
#: A member with at least this share of explicit extraction phrasing never clears itself (the
#: ramp of explicit extraction intents starts there, models.scoring).
CLEAR_EXTRACT_SHARE = 0.15
#: A payment key held by one organisation: its accounts sharing the company card is expected.
ORG_PAY_WEIGHT = 0.3

# member summary list layout (compact JSON): see AccountEngine._summary. The account engine
# sends the fields before S_ALERTED, then the pooled counts (requests with analysed text,
# with any intent, with reasoning, long, maxed outputs; mean output / population median);
# the cluster engine keeps its own "named by this cluster" flag at S_ALERTED.
S_N, S_R1H, S_EXT, S_CAMP, S_SUSP, S_AGE, S_MASK, S_MIN, S_LAST, S_ALERTED = range(10)
P_TXT, P_INT, P_REASON, P_LONG, P_XLONG, P_OUTR = range(10, 16)
_N_POOLED = 6
#: The member's organisation token (``""``: none declared), after the pooled counts. Members
#: stored before it existed have no such field and count as organisations of their own.
S_ORG = 16
_MASK60 = (1 << 60) - 1
#: Harvesting members (most recently updated) whose minute masks enter the synchrony measure:
#: enough to see load balancing, bounded cost on keys with hundreds of members.
SYNC_MEMBERS = 32


def _ramp(x: float, lo: float, hi: float) -> float:
    return 0.0 if x <= lo else 1.0 if x >= hi else (x - lo) / (hi - lo)


class _Link:
    __slots__ = ("kind", "members", "seen", "step", "named", "last_eval", "score", "first_ts", "campaign",
                 "in_force", "nh")

    @classmethod
    def new(cls, kind: str, ts: int) -> _Link:
        s = cls.__new__(cls)
        s.kind, s.members, s.seen, s.step, s.named = kind, {}, 0, 0, 0
        s.last_eval, s.score, s.first_ts, s.campaign = -1, 0.0, ts, None
        s.in_force = {}
        s.nh = 0  # stored members that harvest on their own (upper bound of the active ones)
        return s

    def to_json(self) -> list[Any]:
        return [getattr(self, k) for k in self.__slots__]

    @classmethod
    def from_json(cls, obj: list[Any]) -> _Link:
        s = cls.__new__(cls)
        for k, v in zip(cls.__slots__, obj):
            setattr(s, k, v)
        return s


class ClusterEngine:
    """Scores link keys (one engine per partition of ``distill-links``).

    Parameters mirror :class:`models.engine.AccountEngine`: ``config``, ``store`` (a
    :class:`~models.state.StateStore`), ``policy``, ``cache_size``.
    """

    def __init__(self, config: EngineConfig | None = None, store: StateStore | None = None,
                 policy: Policy | None = None, cache_size: int = 50_000) -> None:
        self.config = config or EngineConfig()
        self.policy = policy or Policy.default()
        self._prefix = f"l:{self.config.state_tag}:"
        self._cache = KeyedCache(store, _Link.from_json, _Link.to_json, max_items=cache_size)
        self.stats = {"links": 0, "alerts": 0, "broad_suppressed": 0}

    # -- public --------------------------------------------------------------------------
    def process(self, link: dict[str, Any]) -> StepResult:
        """Fold one link update in; returns cluster alerts/actions (if any)."""
        cfg = self.config
        key = str(link["link_key"])
        acct = str(link["account_id"])
        ts = int(link["ts"])
        summ = link.get("summary") or []
        kind = str(link.get("kind") or key.split(":", 1)[0])
        self.stats["links"] += 1
        skey = self._prefix + key
        st = self._cache.get(skey)
        if st is None:
            st = _Link.new(kind, ts)
            self._cache.put(skey, st)
        else:
            self._cache.touch(skey)
        members = st.members
        prev = members.get(acct)
        head = (list(summ[:S_ALERTED]) + [0] * S_ALERTED)[:S_ALERTED]
        pooled = (list(summ[S_ALERTED:S_ALERTED + _N_POOLED]) + [0] * _N_POOLED)[:_N_POOLED]
        org = summ[S_ALERTED + _N_POOLED] if len(summ) > S_ALERTED + _N_POOLED else ""
        entry = head + [prev[S_ALERTED] if prev else 0] + pooled + [str(org or "")]
        entry[S_LAST] = ts
        new_member = prev is None
        if new_member:
            st.seen += 1
            if len(members) >= cfg.max_members:
                oldest = next(iter(members))  # dict order = recency of updates
                st.nh -= self._harvests(members.pop(oldest))
        else:
            st.nh -= self._harvests(prev)
            del members[acct]  # re-insert keeps dict order = recency
        members[acct] = entry
        st.nh += self._harvests(entry)
        if st.kind != "pay" and st.nh < cfg.min_cluster_members:
            st.score = 0.0  # too few harvesting members stored: no alert is possible
            return StepResult()
        if len(members) < cfg.min_pay_members:
            st.score = 0.0  # a lone member (most payment keys): no cluster to judge
            return StepResult()
        if not new_member and st.last_eval >= 0 and ts - st.last_eval < cfg.cluster_eval_ms:
            return StepResult()
        return self._evaluate(key, st, ts)

    def _harvests(self, m: list[Any]) -> int:
        """1 when a member harvests on its own evidence (see :meth:`_evaluate`), else 0."""
        cfg = self.config
        return int(float(m[S_SUSP]) >= cfg.member_suspicion and int(m[S_N]) >= cfg.member_min_requests)

    def _cleared(self, m: list[Any]) -> bool:
        """A member whose own traffic is enough to judge and is not harvesting-like: under the
        suspicion bar and nearly no explicit extraction phrasing (a grader's outputs are short,
        so its suspicion alone would clear it)."""
        cfg = self.config
        return (int(m[S_N]) >= cfg.member_clear_requests and float(m[S_SUSP]) < cfg.member_suspicion
                and float(m[S_EXT]) < CLEAR_EXTRACT_SHARE)

    def cluster_view(self, cluster_id: str) -> dict[str, Any] | None:
        """Current state of a cluster (``cluster_id`` = link key, with or without ``cluster:``)."""
        key = cluster_id.removeprefix("cluster:")
        st = self._cache.get(self._prefix + key)
        if st is None:
            return None
        return {
            "cluster_id": "cluster:" + key,
            "kind": st.kind,
            "members": sorted(st.members),
            "distinct_members_seen": st.seen,
            "score": st.score,
            "campaign": st.campaign,
            "step": st.step,
            "first_ts": st.first_ts,
            "actions_in_force": {a: u for a, u in st.in_force.items()},
        }

    def pop_dirty(self) -> dict[str, bytes]:
        return self._cache.pop_dirty()

    def flush(self) -> int:
        return self._cache.flush_into(self._cache.pop_dirty())

    def cached_keys(self) -> int:
        """Decoded states held in memory (bounded by ``cache_size``)."""
        return len(self._cache)

    def evict_all(self) -> None:
        self._cache.evict_all()

    # -- scoring -------------------------------------------------------------------------
    def _evaluate(self, key: str, st: _Link, ts: int) -> StepResult:
        cfg = self.config
        st.last_eval = ts
        horizon = ts - cfg.cluster_window_ms
        # allowlisted members (suspicion < 0) take no part in the cluster's judgement
        active = [(a, m) for a, m in st.members.items() if m[S_LAST] >= horizon and float(m[S_SUSP]) >= 0]
        n_act = len(active)
        if n_act < (cfg.min_pay_members if st.kind == "pay" else cfg.min_cluster_members):
            st.score = 0.0
            return StepResult()
        # a member harvests when its own account assessment says so (intent x output
        # maximisation, see models.scoring): sharing a key never makes a member suspicious
        # (and has sent at least ``member_min_requests``: one request is not a behaviour)
        harvest = [(a, m) for a, m in active
                   if float(m[S_SUSP]) >= cfg.member_suspicion and int(m[S_N]) >= cfg.member_min_requests]
        own = {a for a, _ in harvest}  # harvesting on their own evidence (before any pooling)
        broad = st.seen > cfg.broad_members
        # one payer behind accounts of several organisations (a member without an organisation
        # is one of its own); a payment key held by one organisation is judged as a network is
        payer = st.kind == "pay" and _payers(active) >= cfg.min_pay_members
        pooled = 0.0
        if payer and not broad and len(harvest) < n_act:
            # one payer: judge the members' traffic pooled (hydra: every member too light to
            # judge alone, the whole clearly harvesting). Never for shared networks.
            pooled = _pooled_suspicion(active)
            if pooled >= cfg.member_suspicion and sum(int(m[S_N]) for _, m in active) >= cfg.pooled_min_requests:
                harvest = active
        share = len(harvest) / n_act
        core = _ramp(share, cfg.cluster_member_share - 0.2, cfg.cluster_member_share + 0.15)
        min_h = cfg.min_cluster_members
        if payer and not broad:
            # one payer behind several accounts: two or three harvesting members are enough,
            # whatever the others do (hydra operators mix in ordinary traffic)
            min_h = cfg.min_pay_members
            core = max(core, _ramp(len(harvest), min_h - 1, min_h + 1))
        if core <= 0 or len(harvest) < min_h:
            st.score = 0.0
            return StepResult()
        if broad and share < 0.9:
            st.score = 0.0
            self.stats["broad_suppressed"] += 1
            return StepResult()
        # synchronised timing: co-activity of the (at most SYNC_MEMBERS most recent)
        # harvesting members in the last 60 minutes. A member's co-activity is the number of
        # (other member, minute) pairs active with it: sum over the others of the popcount of
        # the two masks ANDed (one C-level popcount per pair, no loop over minutes)
        cur_min = ts // 60_000
        masks = []
        for _, m in harvest[-SYNC_MEMBERS:]:
            shift = cur_min - int(m[S_MIN])
            masks.append((int(m[S_MASK]) << shift) & _MASK60 if 0 <= shift < 60 else 0)
        nh = len(harvest)
        denom = max(1, len(masks) - 1)
        sync_vals = []
        for mask in masks:
            cnt = mask.bit_count()
            if cnt:
                tot = sum([(mask & other).bit_count() for other in masks]) - cnt
                sync_vals.append(tot / denom / cnt)
        sync = sum(sync_vals) / len(sync_vals) if sync_vals else 0.0
        rates = [float(m[S_R1H]) for _, m in harvest]
        mean_r = sum(rates) / nh
        cv_r = (sum((r - mean_r) ** 2 for r in rates) / nh) ** 0.5 / mean_r if mean_r > 0 else 1.0
        agg = sum(rates)
        young = sum(1 for _, m in harvest if float(m[S_AGE]) < 14) / nh
        alerted = sum(1 for _, m in harvest if m[S_ALERTED]) / nh
        susp_mean = sum(float(m[S_SUSP]) for _, m in harvest) / nh
        one_org = st.kind == "pay" and not payer
        weight = ORG_PAY_WEIGHT if one_org else LINK_WEIGHT.get(st.kind, 0.2)
        what = f"shared {st.kind} key" + (" (one organisation)" if one_org else "")
        fam = [
            ("link_kind", weight, weight, 0.0, what),
            ("synchronised_minutes", _ramp(sync, 0.3, 0.7), sync, 0.1, "mean co-activity of members per minute (last hour)"),
            ("member_rate_cv", _ramp(0.8 - cv_r, 0.0, 0.5) * _ramp(nh, 3, 6), cv_r, 1.0, "dispersion of member request rates (load balancing)"),
            ("aggregate_req_1h", _ramp(agg, 60.0, 240.0), agg, 20.0, "sum of member requests in the last hour"),
            ("young_member_share", _ramp(young, 0.4, 0.9), young, 0.1, "members whose account is < 14 days old"),
            ("alerted_member_share", _ramp(alerted, 0.2, 0.6), alerted, 0.0, "members already named by this cluster"),
            ("member_suspicion", _ramp(susp_mean, 0.6, 0.9), susp_mean, cfg.member_suspicion,
             "mean suspicion of the harvesting members (each on its own intent x output maximisation)"),
        ]
        evidence = sum(s for _, s, _, _, _ in fam)
        score = core * (0.4 + 0.6 * min(1.0, evidence / 2.0))
        if broad:
            score *= 0.9
        st.score = round(score, 4)
        camps: dict[str, int] = {}
        for _, m in harvest:
            if m[S_CAMP]:
                camps[m[S_CAMP]] = camps.get(m[S_CAMP], 0) + 1
        dom, dom_n = max(camps.items(), key=lambda kv: (kv[1], kv[0])) if camps else ("hydra_cluster", 0)
        if payer:
            campaign = "hydra_cluster"  # accounts of several organisations, one payer
        elif share < 0.8:
            campaign = "reseller_mixing"  # one network carrying ordinary and harvesting traffic
        elif dom_n >= 0.7 * nh and dom != "anomalous_usage" and nh < 10:
            campaign = dom
        else:
            campaign = "hydra_cluster"
        thresholds = (cfg.alert_threshold, *cfg.step_thresholds)
        target = sum(1 for t in thresholds if score >= t)
        # named accounts: one payer behind several organisations names every active member but
        # those that cleared themselves (enough requests of their own, none harvesting-like:
        # an honest customer of a reseller paying for everyone); every other key names only
        # the members that harvest on their own evidence, so an honest user behind the same
        # NAT, SDK, copied template or company card is never named
        if payer:
            named = [a for a, m in active if a in own or not self._cleared(m)]
        else:
            named = [a for a, _ in harvest]
        # members join over time (hydra accounts are short-lived): once the cluster has
        # alerted, members it has not named yet escalate it again, in batches of >= 10 %
        members = st.members
        fresh = [a for a in named if not members[a][S_ALERTED]]
        before = sum(1 for m in members.values() if m[S_ALERTED])
        grew = st.step > 0 and target > 0 and len(fresh) >= max(1, before // 10)
        if target <= 0 or (target <= st.step and not grew):
            return StepResult()
        step = max(target, st.step + 1) if grew else target
        st.step = step
        st.campaign = campaign
        st.named = before + len(fresh)
        for a, m in active:
            if a in named:
                m[S_ALERTED] = 1
        reasons = [
            {"signal": "cluster_members", "value": float(n_act), "baseline": float(cfg.min_cluster_members),
             "detail": f"{st.seen} distinct members seen on this {st.kind} key" + (" (broad key)" if broad else "")},
            {"signal": "harvesting_member_share", "value": round(share, 4), "baseline": cfg.cluster_member_share,
             "detail": "members whose intent mix is extraction-like"},
        ]
        for sig, s, v, b, d in fam:
            if s >= 0.5:
                reasons.append({"signal": sig, "value": round(float(v), 4), "baseline": float(b), "detail": d})
        subject = "cluster:" + key
        alert = make_alert(subject, campaign, step, ts=ts, kind="cluster", accounts=sorted(named),
                           score=score, severity=self.policy.severity(score), reasons=reasons, excerpt=None)
        self.stats["alerts"] += 1
        actions = self.policy.decide(alert, {"in_force": st.in_force})
        for act in actions:
            st.in_force[act["action"]] = ts + act["ttl_s"] * 1000
        return StepResult(alerts=[alert], actions=actions)


def _payers(members: list[tuple[str, list[Any]]]) -> int:
    """Distinct payers among ``members``: one per declared organisation, one per member
    without one (and per member stored before organisations were sent)."""
    orgs = set()
    alone = 0
    for _, m in members:
        org = m[S_ORG] if len(m) > S_ORG else ""
        if org:
            orgs.add(org)
        else:
            alone += 1
    return len(orgs) + alone


def _pooled_suspicion(members: list[tuple[str, list[Any]]]) -> float:
    """:func:`models.scoring.shrunk_suspicion` of the members' summed counts."""
    n = sum(float(m[S_N]) for _, m in members)
    if n <= 0:
        return 0.0
    sums = [sum(float(m[i]) for _, m in members) for i in (P_TXT, P_INT, P_REASON, P_LONG, P_XLONG)]
    out_ratio = sum(float(m[P_OUTR]) * float(m[S_N]) for _, m in members) / n
    return shrunk_suspicion(n, sums[0], sums[1], sums[2], sums[3], sums[4], out_ratio)


def default_partitioner(key: str, partitions: int) -> int:
    """Deterministic key -> partition (crc32), used by the local :class:`~models.engine.Engine`."""
    return zlib.crc32(key.encode()) % partitions if partitions > 1 else 0


Partitioner = Callable[[str, int], int]
