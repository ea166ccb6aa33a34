"""Per-account running state: fixed-size event-time rings, counters and bounded sketches.

One :class:`AccountState` per account. :meth:`AccountState.update` folds every request's
metadata in, O(1); :meth:`AccountState.update_text` folds in the text signals of the
requests the engine analyses (all of an account's first few, then a sample), O(k) on a
top-k replacement with k = 16. Everything is bounded whatever the traffic: 60 one-minute
buckets, 24 one-hour buckets, a 24-bin hour-of-day histogram, a top-k template counter, the
last few SimHashes, at most ``max_models`` models and ``max_ip_blocks`` /24 blocks. Buckets
are keyed by ``ts // bucket_ms`` (event time, never the wall clock).

:meth:`AccountState.features` turns the state into the named signals the scorer and the
River models read (values in natural units: requests/hour, bits, shares, tokens).

>>> from types import SimpleNamespace as NS
>>> st = AccountState.new(created_ts=0, tier="free")
>>> sig = NS(template=1, simhash=1, intents=(1.0,) + (0.0,) * 7)
>>> ev = NS(ts=0, model="m", input_tokens=10, output_tokens=100, reasoning_tokens=None,
...         tool_count=None, image_count=None, status=200, client_ip="1.2.3.4")
>>> for i in range(10):
...     st.update(ev, i * 60_000, 8, 16, False)
...     st.update_text(sig, 0.5, 0.05, 16, 16)
>>> f = st.features(9 * 60_000)
>>> f["req_1h"], f["cv_gap"], f["intent_cot"]
(10.0, 0.0, 1.0)
"""

from __future__ import annotations

import math
import operator
import zlib
from functools import lru_cache
from typing import Any

__all__ = ["AccountState", "INTENT_NAMES", "FEATURE_NAMES"]

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

INTENT_NAMES = ("cot", "rubric", "rewrite", "agentic", "coding", "analysis", "computer_use", "vision")

FEATURE_NAMES = (
    "req_1h", "req_24h", "out_tok_1h", "ramp", "age_days", "cv_gap", "active_frac", "hour_entropy",
    "burst", "top_template_share", "template_diversity", "dup_rate", "extraction_share",
    *(f"intent_{n}" for n in INTENT_NAMES),
    "reasoning_share", "long_output_share", "xlong_output_share", "tool_share", "image_share", "error_rate", "rate429",
    "new_model_share", "model_count", "ip_blocks",
)

_LOG2 = math.log(2)

#: An output at least this long (tokens) counts as *long*; at least XLONG as *maxed*
#: (typical ``max_tokens`` caps are 4096 and above).
LONG_OUTPUT_TOKENS = 2000
XLONG_OUTPUT_TOKENS = 4000

#: Two wrappers whose SimHashes differ in at most this many of 64 bits are one template
#: (one reworded word moves ~10-13 bits); unrelated prompts differ in 32 +- 4 bits, so a
#: spurious merge needs a 4.5 sigma coincidence (~3e-5 per comparison).
NEAR_BITS = 14

#: Intents whose requests count as *extraction-like* for the cluster summaries: reasoning
#: traces, grading, safe rewriting, computer use and vision. Plain coding/analysis/tool use
#: is what most honest developers do, so it does not count on its own.
_EXTRACTION_INTENTS = frozenset({0, 1, 2, 6, 7})


def _entropy(counts: list[int] | list[float]) -> float:
    tot = sum(counts)
    if tot <= 0:
        return 0.0
    h = 0.0
    for c in counts:
        if c > 0:
            p = c / tot
            h -= p * math.log(p)
    return h / _LOG2



_INTENT_KEYS = tuple("intent_" + n for n in INTENT_NAMES)
_RECENT_INTENT_KEYS = tuple("recent_intent_" + n for n in INTENT_NAMES)

#: The recent share of long or maxed outputs this far above the lifetime share is a change
#: of behaviour (:meth:`AccountState.output_shift`). A steady account's recent share wanders
#: by ~0.07 (one standard deviation at a share of 0.3, alpha = 0.05).
OUTPUT_SHIFT = 0.3


def _newest(ring: list[int], idx: int, count: int) -> list[int]:
    """The ``count`` newest buckets of a ring whose newest bucket index is ``idx``, oldest first.

    >>> _newest([0, 1, 2, 3, 4, 5], 7, 3)  # buckets 5, 6, 7 -> slots 5, 0, 1
    [5, 0, 1]
    """
    size = len(ring)
    if count <= 0:
        return []
    end = idx % size + 1
    start = end - count
    return ring[start:end] if start >= 0 else ring[start:] + ring[:end]


def _clear_ring(ring: list[int], last: int, now: int) -> None:
    """Zero the slots of a ring of ``len(ring)`` buckets that lie after bucket ``last`` up to
    and including bucket ``now`` (bucket indexes count from the epoch; ``last`` < 0: none yet).

    >>> ring = list(range(1, 7))
    >>> _clear_ring(ring, 10, 13); ring  # buckets 11, 12, 13 -> slots 5, 0, 1
    [0, 0, 3, 4, 5, 0]
    """
    size = len(ring)
    if last < 0 or now - last >= size:
        ring[:] = [0] * size
        return
    lo, hi = (last + 1) % size, now % size
    if lo <= hi:
        ring[lo:hi + 1] = [0] * (hi + 1 - lo)
    else:  # wraps around the end of the ring
        ring[lo:] = [0] * (size - lo)
        ring[:hi + 1] = [0] * (hi + 1)


@lru_cache(maxsize=65_536)
def _block_digest(ip: str) -> int:
    """A 32-bit digest of the /24 (or of an IPv6 address): counts blocks, keeps no address.
    Cached: an account's requests come from a few addresses."""
    return zlib.crc32((ip.rpartition(".")[0] or ip).encode("utf-8", "surrogatepass"))


_BIT_DIGIT = bytes.maketrans(b"\x00\x01", b"01")  # 0/1 bytes -> ASCII digits


class AccountState:
    """Running signals of one account. See the module docstring."""

    #: the persisted fields, in :meth:`to_json` order
    FIELDS = (
        "created", "tier", "first_ts", "last_ts", "n",
        "m_idx", "m_cnt", "h_idx", "h_cnt", "h_out", "hod",
        "gap_mean", "gap_var", "n_gaps",
        "i_hit", "i_ew", "n_extract",
        "tpl", "tsim", "sims", "n_dup",
        "n_reason", "n_long", "n_tools", "n_img", "n_err", "n_429", "sum_out",
        "n_txt", "n_xlong", "n_int", "link_ts", "base_ts", "last_tpl",
        "models", "n_new",
        "ips", "links",
        # scoring / decisions
        "eval_n", "eval_ts", "score", "campaign", "step", "cstep", "allow", "confirmed",
        "alerts", "actions", "reasons", "susp", "excerpt", "sup",
        # appended last: a state written before it restores with the default
        "r_out",
    )
    # link_memo: (raw link values, next refresh due (ms), refresh interval) of the last
    # full pass over the link keys; in memory only (None after a restore: a full pass)
    # last_ip: the client address of the previous request, whose /24 is already counted
    __slots__ = FIELDS + ("link_memo", "last_ip")

    @classmethod
    def new(cls, created_ts: int | None, tier: str | None) -> AccountState:
        s = cls.__new__(cls)
        s.created = created_ts
        s.tier = tier
        s.first_ts = -1
        s.last_ts = -1
        s.n = 0
        s.m_idx = -1
        s.m_cnt = [0] * 60
        s.h_idx = -1
        s.h_cnt = [0] * 24
        s.h_out = [0] * 24
        s.hod = [0] * 24
        s.gap_mean = 0.0
        s.gap_var = 0.0
        s.n_gaps = 0
        s.i_hit = [0] * 8
        s.i_ew = [0.0] * 8
        s.n_extract = 0
        s.tpl = {}
        s.tsim = {}
        s.sims = []
        s.n_dup = 0
        s.n_reason = 0
        s.n_long = 0
        s.n_tools = 0
        s.n_img = 0
        s.n_err = 0
        s.n_429 = 0
        s.sum_out = 0
        s.n_txt = 0
        s.n_xlong = 0
        s.n_int = 0
        s.link_ts = -1
        s.base_ts = -1
        s.last_tpl = 0
        s.models = {}
        s.n_new = 0
        s.ips = []
        s.links = {}
        s.eval_n = 0
        s.eval_ts = -1
        s.score = 0.0
        s.campaign = None
        s.step = 0
        s.cstep = {}
        s.allow = False
        s.confirmed = False
        s.alerts = []
        s.actions = {}
        s.reasons = []
        s.susp = 0.0
        s.excerpt = None
        s.sup = 0.0
        s.r_out = [0.0, 0.0]
        s.link_memo = None
        s.last_ip = None
        return s

    def refresh_links(self) -> None:
        """Have every link key sent again at the account's next request (its summary changed
        in a way the clusters must hear of now)."""
        for ent in self.links.values():
            ent[1] = -10 * HOUR_MS
        self.link_ts = -1
        self.link_memo = None

    # -- serialisation (plain JSON: lists and str-keyed dicts only) -------------------------
    def to_json(self) -> list[Any]:
        """The persisted fields in :attr:`FIELDS` order (the lists are the state's own: encode
        before the next update). Template counters go as ``[id, value]`` pairs."""
        out = list(_get_fields(self))  # one C call for all fields: 3-4x faster than getattr each
        out[_TPL_AT] = [[a, b] for a, b in self.tpl.items()]
        out[_TSIM_AT] = [[a, b] for a, b in self.tsim.items()]
        return out

    @classmethod
    def from_json(cls, obj: list[Any]) -> AccountState:
        s = cls.__new__(cls)
        for k, v in zip(cls.FIELDS, obj):
            setattr(s, k, v)
        if len(obj) < len(cls.FIELDS):  # written before the recent view existed
            s.r_out = [0.0, 0.0]
        s.link_memo = None
        s.last_ip = None
        s.tpl = {int(a): b for a, b in s.tpl}
        s.tsim = {int(a): b for a, b in s.tsim}
        return s

    # -- update: once per request -----------------------------------------------------------
    def update(self, ev: Any, ts: int, k_models: int, k_ips: int, new_model: bool,
               alpha: float = 0.05) -> None:
        """Fold one request's metadata in (O(1)). ``ts`` is the engine's clamped event time (ms);
        ``alpha`` is the newest request's weight in the recent shares of long and maxed outputs
        (:attr:`r_out`)."""
        if ts < self.last_ts:  # late event: count it, but time structures use the last ts
            ts = self.last_ts
        self.n += 1
        if self.first_ts < 0:
            self.first_ts = ts
        else:
            gap = (ts - self.last_ts) / 1000.0
            # exponentially weighted mean/variance of the gaps (West 1979), alpha = 0.05
            if self.n_gaps == 0:
                self.gap_mean = gap
            else:
                d = gap - self.gap_mean
                incr = 0.05 * d
                self.gap_mean += incr
                self.gap_var = 0.95 * (self.gap_var + d * incr)
            self.n_gaps += 1
        self.last_ts = ts
        # minute ring (last 60 minutes)
        mi = ts // MIN_MS
        cnt = self.m_cnt
        if mi != self.m_idx:
            _clear_ring(cnt, self.m_idx, mi)
            self.m_idx = mi
        cnt[mi % 60] += 1
        # hour ring (last 24 hours) with output tokens
        hi = ts // HOUR_MS
        hslot = hi % 24
        if hi != self.h_idx:
            _clear_ring(self.h_cnt, self.h_idx, hi)
            _clear_ring(self.h_out, self.h_idx, hi)
            self.h_idx = hi
        self.h_cnt[hslot] += 1
        out = ev.output_tokens
        self.h_out[hslot] += out
        self.sum_out += out
        self.hod[hslot] += 1  # hour of day (UTC) == hi % 24
        # output-maximising parameters and errors; long and maxed outputs also (exponentially
        # weighted) over the last ~1/alpha requests: an honest history must not hide a switch
        rec = self.r_out
        beta = 1.0 - alpha
        rec[0] *= beta
        rec[1] *= beta
        if ev.reasoning_tokens:
            self.n_reason += 1
        if out >= LONG_OUTPUT_TOKENS:
            self.n_long += 1
            rec[0] += alpha
            if out >= XLONG_OUTPUT_TOKENS:
                self.n_xlong += 1
                rec[1] += alpha
        if ev.tool_count:
            self.n_tools += 1
        if ev.image_count:
            self.n_img += 1
        st = ev.status
        if st is not None and st >= 400:
            if st == 429:
                self.n_429 += 1
            else:
                self.n_err += 1
        # model mix
        models = self.models
        m = ev.model
        mc = models.get(m)
        if mc is not None:
            models[m] = mc + 1
        elif len(models) < k_models:
            models[m] = 1
        if new_model:
            self.n_new += 1
        # /24 blocks
        ip = ev.client_ip
        if ip and ip != self.last_ip and len(self.ips) < k_ips:
            self.last_ip = ip
            blk = _block_digest(ip)
            if blk not in self.ips:
                self.ips.append(blk)

    def output_shift(self) -> bool:
        """True while the account's recent outputs are far more often long or maxed out than
        over its life (:data:`OUTPUT_SHIFT`). The engine then reads its text in full again,
        so the recent intent view sees the switch. (Reasoning switched on is not a shift: it
        comes with a model change.)"""
        n = self.n or 1
        rec = self.r_out
        return rec[1] - self.n_xlong / n >= OUTPUT_SHIFT or rec[0] - self.n_long / n >= OUTPUT_SHIFT

    def text_clean(self) -> bool:
        """True while no analysed request showed anything: no intent hit, every template and
        payload distinct, and no request with reasoning tokens or a long output. Most light
        users look so; the engine then samples their text instead of reading all of it."""
        return (self.n_int == 0 and self.n_dup == 0 and len(self.tpl) >= self.n_txt
                and self.n_reason == 0 and self.n_long == 0)

    def update_text(self, sig: Any, intent_hit: float, alpha: float, k_tpl: int, k_sims: int) -> None:
        """Fold the text signals of one *analysed* request in (the engine samples which ones).

        Intent, template and duplicate shares are over :attr:`n_txt` analysed requests.
        """
        self.n_txt += 1
        intents = sig.intents
        hit = self.i_hit
        ew = self.i_ew
        ext = anyi = False
        beta = 1.0 - alpha
        for j in range(8):
            v = intents[j]
            if v >= intent_hit:  # recent share of requests of this intent (weighted)
                ew[j] = beta * ew[j] + alpha
                hit[j] += 1
                anyi = True
                if j in _EXTRACTION_INTENTS:
                    ext = True
            else:
                ew[j] *= beta
        if ext:
            self.n_extract += 1
        if anyi:
            self.n_int += 1
        # templates: SpaceSaving top-k over wrappers; a wrapper within NEAR_BITS (SimHash)
        # of a tracked one is the same template paraphrased and counts there
        t = sig.template
        tpl = self.tpl
        tsim = self.tsim
        c = tpl.get(t)
        if c is None:
            sh = sig.simhash
            if sh:
                for tid, h in tsim.items():
                    if (h ^ sh).bit_count() <= NEAR_BITS:
                        t = tid
                        c = tpl[tid]
                        break
        if c is not None:
            tpl[t] = c + 1
        elif len(tpl) < k_tpl:
            tpl[t] = 1
            tsim[t] = sig.simhash
        else:
            mk = min(tpl, key=tpl.__getitem__)
            tpl[t] = tpl.pop(mk) + 1
            tsim.pop(mk, None)
            tsim[t] = sig.simhash
        self.last_tpl = t
        # exact payload repeats (retries / resampling): the last few raw-text digests
        dg = getattr(sig, "digest", 0) or sig.simhash
        sims = self.sims
        if dg in sims:
            self.n_dup += 1
        else:
            sims.append(dg)
            if len(sims) > k_sims:
                del sims[0]

    # -- features: at evaluation time ---------------------------------------------------------
    def features(self, now: int) -> dict[str, float]:
        """Named signals at event time ``now`` (ms). Values in natural units."""
        n = self.n or 1
        mi = now // MIN_MS
        hi = now // HOUR_MS
        # windows relative to now: the live buckets are the newest ones ending at the ring's
        # index (buckets older than 60 minutes / 24 hours relative to now are gone)
        lag_m = mi - self.m_idx
        req_1h = float(sum(_newest(self.m_cnt, self.m_idx, 60 - lag_m))) if 0 <= lag_m < 60 else 0.0
        lag_h = hi - self.h_idx
        live_h = 24 - lag_h if 0 <= lag_h < 24 else 0
        hours = _newest(self.h_cnt, self.h_idx, live_h)
        req_24h = float(sum(hours))
        out_1h = float(self.h_out[self.h_idx % 24]) if lag_h == 0 else 0.0
        span_h = max(1, min(24, (self.last_ts - self.first_ts) // HOUR_MS + 1))
        recent = hours[-span_h:] if span_h < live_h else hours
        active_frac = (len(recent) - recent.count(0)) / span_h
        created = self.created
        age_ms = (now - created) if created is not None and created <= now else None
        age_days = age_ms / DAY_MS if age_ms is not None else 365.0
        # ramp: requests per hour since creation, for accounts younger than a week
        ramp = 0.0
        if age_ms is not None and age_ms < 7 * DAY_MS:
            ramp = self.n / max(1.0, age_ms / HOUR_MS)
        cv = math.sqrt(self.gap_var) / self.gap_mean if self.n_gaps >= 5 and self.gap_mean > 0 else 1.0
        m_cnt = self.m_cnt
        n_active = 60 - m_cnt.count(0)  # counts are never negative
        burst = max(m_cnt) / (sum(m_cnt) / n_active) if n_active else 0.0
        nt = self.n_txt or 1
        tpl = self.tpl
        top = max(tpl.values()) if tpl else 0
        top_share = min(1.0, top / nt)
        diversity = len(tpl) / max(1, min(nt, 16))
        f = {
            "req_1h": req_1h,
            "req_24h": req_24h,
            "out_tok_1h": out_1h,
            "ramp": ramp,
            "age_days": age_days,
            "cv_gap": cv,
            "active_frac": active_frac,
            "hour_entropy": _entropy(self.hod),
            "burst": burst,
            "top_template_share": top_share,
            "template_diversity": diversity,
            "dup_rate": self.n_dup / nt,
            "extraction_share": self.n_extract / nt,
            "intent_any": self.n_int / nt,
        }
        for name, hits in zip(_INTENT_KEYS, self.i_hit):
            f[name] = hits / nt
        f["reasoning_share"] = self.n_reason / n
        f["long_output_share"] = self.n_long / n
        f["xlong_output_share"] = self.n_xlong / n
        f["mean_out"] = self.sum_out / n
        f["tool_share"] = self.n_tools / n
        f["image_share"] = self.n_img / n
        f["error_rate"] = self.n_err / n
        f["rate429"] = self.n_429 / n
        f["new_model_share"] = self.n_new / n
        # the recent view (last ~1/alpha requests, weighted; biased low while younger than that)
        f["recent_long_output_share"], f["recent_xlong_output_share"] = self.r_out
        for name, v in zip(_RECENT_INTENT_KEYS, self.i_ew):
            f[name] = v
        f["model_count"] = float(len(self.models))
        f["ip_blocks"] = float(len(self.ips))
        f["span_h"] = float(span_h)
        f["n"] = float(self.n)
        f["n_txt"] = float(self.n_txt)
        return f

    def minute_mask(self, now: int) -> int:
        """Bit i set when the account was active ``i`` minutes before ``now`` (60 bits)."""
        lag = now // MIN_MS - self.m_idx
        if lag < 0 or lag >= 60:
            return 0
        cnt = self.m_cnt
        i = self.m_idx % 60
        # the ring's slots from the newest minute back (i, i-1, ..., 0, 59, ..., i+1), the ones
        # still inside the hour; one '1'/'0' digit each, the newest last (lowest bit): int(.., 2)
        newest_first = (cnt[i::-1] + cnt[:i:-1])[: 60 - lag]
        digits = bytes(map(bool, reversed(newest_first))).translate(_BIT_DIGIT)
        return int(digits, 2) << lag


_get_fields = operator.attrgetter(*AccountState.FIELDS)
_TPL_AT = AccountState.FIELDS.index("tpl")
_TSIM_AT = AccountState.FIELDS.index("tsim")
