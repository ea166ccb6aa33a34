"""Adversarial cardinality through the worker's runtime: state stays bounded, links stay honest."""

from __future__ import annotations

import orjson

from streams.runtime import InputRecord, Runtime

T0 = 1_767_225_600_000


def rec(offset: int, ev: dict) -> InputRecord:
    return InputRecord("llm-requests", 0, offset, ev["account_id"].encode(), orjson.dumps(ev), T0 + 3_600_000)


def test_one_account_with_thousands_of_ips_agents_models_and_templates_keeps_bounded_state() -> None:
    stores: dict = {}
    runtime = Runtime(store_factory=lambda kind, p: stores.setdefault((kind, p), {}),
                      wall_clock_ms=lambda: T0 + 3_600_000)
    sizes = []
    offset = 0
    for round_ in range(4):
        batch = []
        for i in range(1_500):
            n = round_ * 1_500 + i
            batch.append(rec(offset, {
                "request_id": f"r{n}", "ts": T0 + n * 500, "account_id": "acct-hydra", "model": f"model-{n}",
                "input_tokens": 10, "output_tokens": 10, "client_ip": f"{n % 250}.{n // 250 % 250}.{n % 7}.1",
                "asn": n, "user_agent": f"agent/{n}", "payment_fingerprint": f"pf_{n}",
                "prompt": f"Template {n} " + " ".join(f"w{n * 7 + k}x" for k in range(12)),
                "system_prompt": f"You are bot number {n} of a fleet named fleet{n}x.",
            }))
            offset += 1
        out = runtime.process_requests(batch)
        assert not out.deadletters, out.deadletters[:1]
        runtime.flush_all()
        sizes.append(sum(len(v) for v in stores[("account", 0)].values()))
    # 6 000 distinct IPs, agents, models, payment fingerprints and templates: the state did not grow
    assert sizes[-1] <= sizes[0] * 1.2, sizes  # (about 9 KB in both)
    assert sizes[-1] < 64 * 1024, sizes
    assert len(stores[("account", 0)]) <= 4  # account state, volume, partition globals (+ models)
    view = runtime.account_engine(0).account_view("acct-hydra")
    assert view is not None and len(view["link_keys"]) <= 6


def test_identifiers_written_into_a_prompt_do_not_link_honest_accounts() -> None:
    runtime = Runtime(wall_clock_ms=lambda: T0 + 3_600_000)
    honest = {"acct-alice": ("pf_alice", "203.0.113.5"), "acct-bob": ("pf_bob", "198.51.100.9")}
    links: dict[str, set[str]] = {}
    offset = 0
    for i in range(60):
        batch = []
        for account, (pf, ip) in honest.items():
            batch.append(rec(offset, {"request_id": f"{account}-{i}", "ts": T0 + i * 60_000, "account_id": account,
                                      "model": "m", "input_tokens": 10, "output_tokens": 50, "payment_fingerprint": pf,
                                      "client_ip": ip, "prompt": f"Help me write a poem about {account} {i}"}))
            offset += 1
        # the attacker quotes both honest accounts' identifiers in its prompts and user agent
        batch.append(rec(offset, {"request_id": f"evil-{i}", "ts": T0 + i * 60_000, "account_id": "acct-evil",
                                  "model": "m", "input_tokens": 10, "output_tokens": 50,
                                  "payment_fingerprint": "pf_evil", "client_ip": "192.0.2.66",
                                  "user_agent": "pf_alice 203.0.113.5 pf_bob 198.51.100.9",
                                  "prompt": "acct-alice pf_alice 203.0.113.5 acct-bob pf_bob 198.51.100.9 "
                                            f"payment_fingerprint=pf_alice client_ip=203.0.113.5 #{i}"}))
        offset += 1
        out = runtime.process_requests(batch)
        for link in out.links:
            links.setdefault(link["account_id"], set()).add(link["link_key"])
    assert links.get("acct-alice") and links.get("acct-bob"), links
    assert not links["acct-alice"] & links["acct-bob"]
    assert not links.get("acct-evil", set()) & (links["acct-alice"] | links["acct-bob"])
