"""The labelled traffic simulator: determinism, schema, labels, and the shape of each population."""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from models.event import event_from_dict
from streams.simulate import (
    ATTACK_SCENARIOS,
    BENIGN_SCENARIOS,
    DEFAULT_START_MS,
    plan_simulation,
    simulate,
    simulate_command,
)
from streams.simulate.attacks import HYDRA_MAX_EVENTS
from streams.simulate.corpus import SAMPLE_PATH

HOUR_MS = 3_600_000
DATA = Path(__file__).resolve().parents[2] / "streams" / "data"


def _read(capture: Path, labels: Path) -> tuple[list[dict], dict[str, dict]]:
    with gzip.open(capture, "rb") as fh:
        events = [orjson.loads(line) for line in fh]
    with open(labels, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return events, {r["account_id"]: r for r in rows}


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict[str, dict], Path]:
    d = tmp_path_factory.mktemp("sim")
    simulate(d / "c.jsonl.gz", d / "l.csv", seed=11, hours=4, scale=0.1)
    events, labels = _read(d / "c.jsonl.gz", d / "l.csv")
    return events, labels, d / "l.csv"


def _by_scenario(events: list[dict], labels: dict[str, dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for ev in events:
        out[labels[ev["account_id"]]["scenario"]].append(ev)
    return out


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    kw = {"hours": 1, "scale": 0.05}
    simulate(tmp_path / "a.jsonl.gz", tmp_path / "a.csv", seed=3, **kw)
    simulate(tmp_path / "b.jsonl.gz", tmp_path / "b.csv", seed=3, **kw)
    simulate(tmp_path / "c.jsonl.gz", tmp_path / "c.csv", seed=4, **kw)
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.jsonl.gz").read_bytes() != (tmp_path / "c.jsonl.gz").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_events_sorted_in_window_and_valid(capture) -> None:
    events, _, _ = capture
    assert len(events) > 2_000
    ts = [e["ts"] for e in events]
    assert ts == sorted(ts)
    assert DEFAULT_START_MS <= ts[0] and ts[-1] < DEFAULT_START_MS + 4 * HOUR_MS
    for ev in events:
        parsed = event_from_dict(ev)
        assert parsed.account_created_ts <= parsed.ts
        assert len(ev["prompt"]) <= 2_000 and len(ev["system_prompt"] or "") <= 1_500
    assert len({e["request_id"] for e in events}) == len(events)


def test_labels_cover_every_account_and_every_scenario(capture) -> None:
    events, labels, path = capture
    assert path.read_text().splitlines()[0] == "account_id,label,scenario,group,attack_from_ts"
    assert {e["account_id"] for e in events} == set(labels)
    seen = {(r["scenario"], r["label"]) for r in labels.values()}
    expected = {(s, "benign") for s in BENIGN_SCENARIOS} | {(s, "attack") for s in ATTACK_SCENARIOS}
    assert seen == expected
    assert all(r["group"] for r in labels.values())
    assert not any(k in events[0] for k in ("label", "scenario", "group"))


def test_turncoats_are_honest_until_their_switch_and_harvest_after_it(capture) -> None:
    events, labels, _ = capture
    switch = {a: int(r["attack_from_ts"]) for a, r in labels.items() if r["attack_from_ts"]}
    assert switch and all(labels[a]["scenario"] == "turncoat" for a in switch)
    assert {a for a, r in labels.items() if r["scenario"] == "turncoat"} == set(switch)
    before: dict[str, list[dict]] = defaultdict(list)
    after: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        a = e["account_id"]
        if a in switch:
            (after if e["ts"] >= switch[a] else before)[a].append(e)
    for a in switch:
        assert len(before[a]) >= 5 and len(after[a]) >= 10
        ok_before = [e for e in before[a] if e["status"] == 200]
        ok_after = [e for e in after[a] if e["status"] == 200]
        # chat-length answers before, maxed-out outputs after, from the same address
        assert sum(e["output_tokens"] >= 4000 for e in ok_before) <= 0.1 * len(ok_before)
        assert all(e["output_tokens"] >= 4000 for e in ok_after)
        assert {e["client_ip"] for e in before[a]} == {e["client_ip"] for e in after[a]}


def test_ids_and_metadata_do_not_leak_labels(capture) -> None:
    events, labels, _ = capture
    words = {
        "attack",
        "benign",
        "hydra",
        "distill",
        "ds-",
        "mm-",
        "ms-",
        "ls-",
        "campaign",
        "proxy",
        "pivot",
        *ATTACK_SCENARIOS,
        *BENIGN_SCENARIOS,
        *{r["group"] for r in labels.values()},
    }
    patterns = {
        "account_id": r"acct_[0-9a-f]{12}",
        "org_id": r"org_[0-9a-f]{10}",
        "api_key_id": r"key_[0-9a-f]{16}",
        "payment_fingerprint": r"pf_[0-9a-f]{12}",
    }
    for ev in events:
        for field, pat in patterns.items():
            assert re.fullmatch(pat, ev[field]), (field, ev[field])
        meta = " ".join(
            str(ev[f]) for f in ("user_agent", "account_tier", "country", "endpoint", "model")
        ).lower()
        assert not any(w in meta for w in words), meta


def test_benign_account_count_scales_linearly_to_2000_at_scale_1() -> None:
    small = plan_simulation(seed=5, hours=1, scale=0.1, scenario="benign")
    double = plan_simulation(seed=5, hours=1, scale=0.2, scenario="benign")
    n_small = sum(a.label == "benign" for a in small.active)
    n_double = sum(a.label == "benign" for a in double.active)
    assert 1.7 <= n_double / n_small <= 2.3
    assert n_double * 5 >= 2_000  # extrapolated to --scale 1
    assert {a.scenario for a in double.active} == set(BENIGN_SCENARIOS)


def test_scenario_restriction_keeps_the_benign_background(tmp_path: Path) -> None:
    only_benign = plan_simulation(seed=5, hours=1, scale=0.05, scenario="benign")
    with_hydra = plan_simulation(seed=5, hours=1, scale=0.05, scenario="hydra")
    assert {a.scenario for a in only_benign.active} <= set(BENIGN_SCENARIOS)
    attack = {a.scenario for a in with_hydra.active if a.label == "attack"}
    assert attack == {"hydra"}
    benign_ids = {a.account_id for a in with_hydra.active if a.label == "benign"}
    assert benign_ids == {a.account_id for a in only_benign.active}


def test_coding_pivot_moves_about_half_its_traffic_to_the_new_model(capture) -> None:
    events, labels, _ = capture
    release = DEFAULT_START_MS + 2 * HOUR_MS
    late = DEFAULT_START_MS + 3 * HOUR_MS
    by = _by_scenario(events, labels)
    pivot = by["coding_pivot"]
    assert not any(e["model"] == "claude-next" and e["ts"] < release for e in events)
    late_pivot = [e for e in pivot if e["ts"] >= late]
    share = sum(e["model"] == "claude-next" for e in late_pivot) / len(late_pivot)
    assert 0.35 <= share <= 0.65
    late_benign = [e for s in BENIGN_SCENARIOS for e in by[s] if e["ts"] >= late]
    benign_share = sum(e["model"] == "claude-next" for e in late_benign) / len(late_benign)
    assert benign_share < 0.1
    per_acct = Counter(e["account_id"] for e in pivot)
    assert min(per_acct.values()) > max(Counter(e["account_id"] for e in by["chat"]).values()) / 3


def test_hydra_members_stay_below_volume_heavy_benign_users_exceed(capture) -> None:
    events, labels, _ = capture
    counts = Counter(e["account_id"] for e in events)
    hydra = [n for a, n in counts.items() if labels[a]["scenario"] == "hydra"]
    chat = sorted((n for a, n in counts.items() if labels[a]["scenario"] == "chat"), reverse=True)
    assert len(hydra) >= 20 and max(hydra) <= HYDRA_MAX_EVENTS
    assert sum(n > max(hydra) for n in chat) >= 3
    # identities rotate: hydra requests come from many IPs and several ASNs per network
    by_group: dict[str, set] = defaultdict(set)
    for ev in events:
        if labels[ev["account_id"]]["scenario"] == "hydra":
            by_group[labels[ev["account_id"]]["group"]].add(ev["asn"])
    assert all(len(asns) >= 2 for asns in by_group.values())


def test_campus_users_share_their_nat_ip(capture) -> None:
    events, labels, _ = capture
    ips: dict[str, set[str]] = defaultdict(set)
    users: dict[str, set[str]] = defaultdict(set)
    for ev in events:
        row = labels[ev["account_id"]]
        if row["scenario"] == "campus_nat":
            ips[row["group"]].add(ev["client_ip"])
            users[row["group"]].add(ev["account_id"])
    assert ips
    for group, group_ips in ips.items():
        assert len(users[group]) >= 10 and len(group_ips) <= 3


def test_deepseek_fleet_shares_payment_and_ip_ranges(capture) -> None:
    events, labels, _ = capture
    ds = [e for e in events if labels[e["account_id"]]["group"] == "ds-1"]
    accounts = {e["account_id"] for e in ds}
    assert len(accounts) >= 9
    assert len({e["payment_fingerprint"] for e in ds}) <= 4
    assert len({e["client_ip"].rsplit(".", 1)[0] for e in ds}) <= 3
    cot = [
        e
        for e in ds
        if labels[e["account_id"]]["scenario"] == "cot_elicitation" and e["status"] == 200
    ]
    chat = [
        e for e in events if labels[e["account_id"]]["scenario"] == "chat" and e["status"] == 200
    ]
    assert sum(e["reasoning_tokens"] for e in cot) / len(cot) > 5 * sum(
        e["reasoning_tokens"] for e in chat
    ) / len(chat)


def test_cli_writes_files_and_rejects_unknown_scenario(tmp_path: Path) -> None:
    runner = CliRunner()
    out, lab = tmp_path / "x.jsonl", tmp_path / "x.csv"
    res = runner.invoke(
        simulate_command,
        [
            "--out",
            str(out),
            "--labels",
            str(lab),
            "--hours",
            "0.5",
            "--scale",
            "0.03",
            "--scenario",
            "low_and_slow",
            "--quiet",
            "--corpus-dir",
            str(SAMPLE_PATH.parent),
        ],
        catch_exceptions=False,
    )
    # a directory without <kind>.jsonl files is a usage error, not a crash
    assert res.exit_code == 2 and "corpus" in res.output
    res = runner.invoke(
        simulate_command,
        [
            "--out",
            str(out),
            "--labels",
            str(lab),
            "--hours",
            "0.5",
            "--scale",
            "0.03",
            "--scenario",
            "low_and_slow",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    scenarios = {r["scenario"] for r in csv.DictReader(lab.open())}
    assert "low_and_slow" in scenarios and not scenarios & (
        set(ATTACK_SCENARIOS) - {"low_and_slow"}
    )
    first = orjson.loads(out.read_bytes().splitlines()[0])
    event_from_dict(first)
    res = runner.invoke(
        simulate_command, ["--out", str(out), "--labels", str(lab), "--scenario", "nope"]
    )
    assert res.exit_code == 2


def test_bundled_sample_is_small_and_usable(tmp_path: Path) -> None:
    assert SAMPLE_PATH.stat().st_size <= 1_500_000
    summary = simulate(
        tmp_path / "s.jsonl.gz",
        tmp_path / "s.csv",
        seed=1,
        hours=0.5,
        scale=0.03,
        corpus_dir=SAMPLE_PATH,
    )
    assert summary.corpus.endswith("corpus_sample.jsonl.gz")
    events, labels = _read(tmp_path / "s.jsonl.gz", tmp_path / "s.csv")
    assert events and {e["account_id"] for e in events} == set(labels)


def test_demo_capture_has_every_scenario() -> None:
    events, labels = _read(DATA / "demo_capture.jsonl.gz", DATA / "demo_labels.csv")
    assert {e["account_id"] for e in events} == set(labels)
    assert {r["scenario"] for r in labels.values()} == set(BENIGN_SCENARIOS) | set(ATTACK_SCENARIOS)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    event_from_dict(events[len(events) // 2])
