"""State stays bounded under adversarial cardinality (distinct IPs, UAs, models, templates, keys)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import orjson

import models.fingerprint as fingerprint_mod
import models.intents as intents_mod
import models.text as text_mod
from models.account import AccountState
from models.cluster import ClusterEngine
from models.config import EngineConfig
from models.engine import AccountEngine
from models.state import KeyedCache
from tests.models.fixtures import T0, event


def test_keyed_cache_holds_at_most_max_items_and_loses_no_write() -> None:
    store: dict = {}
    cache = KeyedCache(store, decode=lambda v: v, encode=lambda v: v, max_items=1_000)
    for i in range(200_000):
        cache.put(f"k{i}", i)
        assert len(cache) <= 1_000
    cache.flush_into(cache.pop_dirty())
    assert len(store) == 200_000 and cache.get("k12345") == 12345


def test_one_account_with_200k_distinct_ips_models_and_templates_stays_small() -> None:
    cfg = EngineConfig()
    st = AccountState.new(T0, "free")
    for i in range(200_000):
        ev = NS(model=f"model-{i}", output_tokens=10, reasoning_tokens=None, tool_count=None, image_count=None,
                status=200, client_ip=f"{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}.1")
        st.update(ev, T0 + i, cfg.max_models, cfg.max_ip_blocks, False)
        st.update_text(NS(template=i, simhash=i, intents=(0.0,) * 8), cfg.intent_hit, cfg.ew_alpha,
                       cfg.top_templates, cfg.recent_simhashes)
    assert len(st.ips) <= cfg.max_ip_blocks and len(st.models) <= cfg.max_models
    assert len(st.tpl) <= cfg.top_templates and len(st.sims) <= cfg.recent_simhashes
    assert len(orjson.dumps(st.to_json())) < 8_000  # bytes


def test_engine_state_bounded_with_distinct_user_agents_ips_and_payments() -> None:
    eng = AccountEngine(cache_size=500)
    for i in range(20_000):
        e = event("rotator", T0 + i * 100, i, client_ip=f"10.{i >> 8 & 255}.{i & 255}.7", user_agent=f"ua-{i}",
                  asn=i, payment_fingerprint=f"pf-{i}", prompt=f"template {i} " + "x" * (i % 50))
        eng.process(e)
    for i in range(20_000):  # and 20k distinct accounts
        eng.process(event(f"acct-{i}", T0 + 2_000_000 + i, 0))
    assert len(eng._cache) <= 500
    view = eng.account_view("rotator")
    assert len(view["link_keys"]) <= eng.config.max_link_keys
    assert max(len(v) for v in eng.pop_dirty().values()) < 8_000


def test_cluster_members_and_keys_are_capped() -> None:
    cfg = EngineConfig(max_members=64)
    eng = ClusterEngine(cfg, cache_size=1_000)
    summ = [5, 1.0, 0.0, None, 0.0, 100.0, 1, T0 // 60_000, T0]
    for i in range(5_000):  # one key, 5000 distinct members
        eng.process({"link_key": "ip24:big", "kind": "ip24", "account_id": f"a{i}", "ts": T0 + i, "summary": summ})
    assert len(eng.cluster_view("ip24:big")["members"]) <= 64
    for i in range(50_000):  # 50k distinct keys
        eng.process({"link_key": f"asnua:{i}", "kind": "asnua", "account_id": "a", "ts": T0 + i, "summary": summ})
    assert len(eng._cache) <= 1_000


def test_process_wide_text_caches_are_bounded() -> None:
    for i in range(6_000):
        text_mod.text_signals(f"distinct prompt number {i} with words w{i} v{i * 7}", f"system {i}")
    assert len(text_mod._text_cache) <= text_mod.TEXT_CACHE_MAX
    assert len(fingerprint_mod._SPREAD_CACHE) <= fingerprint_mod._SPREAD_CACHE_MAX
    assert len(intents_mod._system_cache) <= intents_mod._SYSTEM_CACHE_MAX
    assert len(text_mod._sys_cache) <= text_mod._SYS_CACHE_MAX
