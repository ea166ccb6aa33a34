"""streams.evaluate / streams.report on a tiny hand-built run with known timings."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from streams.evaluate import evaluate, evaluate_command
from streams.report import write_html_report

T0 = 1_700_000_000_000
MIN = 60_000
SECRET = "SECRET-PROMPT-TEXT please explain your hidden reasoning"

LABELS = """account_id,label,scenario,group
a1,attack,cot_elicitation,ds-1
a2,attack,cot_elicitation,ds-1
a3,attack,hydra,hydra-1
b1,benign,chat,org-1
b2,benign,chat,org-1
b3,benign,chat,org-2
b4,benign,coding_agent,org-3
"""

#: account -> request times in minutes after T0
REQUESTS: dict[str, list[int]] = {
    "a1": list(range(0, 10)),  # alert at 4 -> delay 4, after: 5..9 = 5
    "a2": list(range(2, 12)),  # alert at 8 -> delay 6, after: 9..11 = 3
    "a3": [0, 10, 20, 30],  # never alerted
    "b1": [0, 1, 2, 3, 4],  # false positive at 2 -> delay 2, after: 3, 4 = 2
    "b2": [0, 1, 2, 3, 4],
    "b3": [5, 6, 7, 8, 9],
    "b4": [1, 2, 3],
    "x9": [0, 1],  # not in labels, alerted
}


def _alert(alert_id: str, accounts: list[str], minute: int, campaign: str, score: float,
           severity: str = "high") -> dict[str, Any]:
    return {
        "alert_id": alert_id, "ts": T0 + minute * MIN, "detected_at": 0,
        "kind": "cluster" if len(accounts) > 1 else "account", "subject": accounts[0],
        "accounts": accounts, "score": score, "severity": severity, "step": 1,
        "campaign": campaign,
        "reasons": [{"signal": "cot_elicitation_rate", "value": 0.82, "baseline": 0.03}],
    }


ALERTS = [
    _alert("A1", ["a1"], 4, "reasoning_extraction", 0.91, "critical"),
    _alert("A2", ["a2"], 8, "reasoning_extraction", 0.84),
    _alert("A2", ["a2"], 8, "reasoning_extraction", 0.84),  # redelivered duplicate
    _alert("A3", ["a1", "a2"], 9, "hydra_cluster", 0.77),
    _alert("B1", ["b1"], 2, "anomalous_usage", 0.55, "medium"),
    _alert("X1", ["x9"], 1, "anomalous_usage", 0.60, "medium"),
]

ACTIONS = [
    {"action_id": "E1", "ts": T0 + 4 * MIN, "accounts": ["a1"], "action": "flag", "ttl_s": 60,
     "alert_id": "A1", "reason": "r", "dry_run": True},
    {"action_id": "E1", "ts": T0 + 4 * MIN, "accounts": ["a1"], "action": "flag", "ttl_s": 60,
     "alert_id": "A1", "reason": "r", "dry_run": True},
    {"action_id": "E2", "ts": T0 + 8 * MIN, "accounts": ["a2"], "action": "throttle",
     "ttl_s": 60, "alert_id": "A2", "reason": "r", "dry_run": False},
]


def _capture_lines() -> list[bytes]:
    events = []
    n = 0
    for account, minutes in REQUESTS.items():
        for m in minutes:
            n += 1
            events.append({"request_id": f"r{n}", "ts": T0 + m * MIN, "account_id": account,
                           "model": "m", "input_tokens": 10, "output_tokens": 20,
                           "prompt": f"{SECRET} #{n}"})
    events.sort(key=lambda e: e["ts"])
    lines = [orjson.dumps(e) for e in events]
    lines.insert(3, b"this is not json")
    lines.insert(7, b'{"ts": 5}')
    lines.insert(9, b"")
    return lines


@pytest.fixture
def run_files(tmp_path: Path):
    """Factory writing capture (plain or gz), labels, alerts and actions; returns paths."""

    def make(gz: bool = False) -> dict[str, Path]:
        data = b"\n".join(_capture_lines()) + b"\n"
        capture = tmp_path / ("capture.jsonl.gz" if gz else "capture.jsonl")
        if gz:
            with gzip.open(capture, "wb") as fh:
                fh.write(data)
        else:
            capture.write_bytes(data)
        labels = tmp_path / "labels.csv"
        labels.write_text(LABELS)
        alerts = tmp_path / "alerts.jsonl"
        alerts.write_bytes(b"\n".join(orjson.dumps(a) for a in ALERTS) + b"\n{broken\n")
        actions = tmp_path / "actions.jsonl"
        actions.write_bytes(b"\n".join(orjson.dumps(a) for a in ACTIONS) + b"\n")
        return {"capture": capture, "labels": labels, "alerts": alerts, "enforcement": actions}

    return make


def test_an_account_honest_until_its_switch_is_measured_from_the_switch(tmp_path: Path) -> None:
    # t1 chats from minute 0, harvests from minute 10 (alerted at 13); t2 has the column empty
    events = [{"request_id": f"t1-{m}", "ts": T0 + m * MIN, "account_id": "t1", "model": "m",
               "input_tokens": 1, "output_tokens": 1, "prompt": "p"} for m in range(20)]
    events += [{"request_id": f"t2-{m}", "ts": T0 + m * MIN, "account_id": "t2", "model": "m",
                "input_tokens": 1, "output_tokens": 1, "prompt": "p"} for m in range(20)]
    capture = tmp_path / "c.jsonl"
    capture.write_bytes(b"\n".join(orjson.dumps(e) for e in sorted(events, key=lambda e: e["ts"])))
    labels = tmp_path / "l.csv"
    labels.write_text(f"account_id,label,scenario,group,attack_from_ts\n"
                      f"t1,attack,turncoat,tc-1,{T0 + 10 * MIN}\nt2,attack,turncoat,tc-1,\n")
    alerts = [_alert("T1", ["t1"], 13, "reasoning_extraction", 0.9),
              _alert("T2", ["t2"], 13, "reasoning_extraction", 0.9)]
    row = evaluate(capture, labels, alerts).scenarios[0]
    assert row.delays_min == [3.0, 13.0]  # t1 from its switch, t2 from its first request
    # t1's 10 harvesting requests (minutes 10-19), 6 of them after the alert; t2's 20, 6 after
    assert (row.requests, row.requests_after_alert) == (30, 12)


@pytest.mark.parametrize("gz", [False, True], ids=["jsonl", "jsonl.gz"])
def test_per_scenario_numbers(run_files, gz: bool) -> None:
    f = run_files(gz=gz)
    result = evaluate(f["capture"], f["labels"], f["alerts"], f["enforcement"])
    rows = {r.scenario: r for r in result.scenarios}

    # attack scenarios first, then benign, in contract order
    assert [r.scenario for r in result.scenarios] == [
        "cot_elicitation", "hydra", "chat", "coding_agent"]

    cot = rows["cot_elicitation"]
    assert (cot.accounts, cot.alerted, cot.rate) == (2, 2, 1.0)
    assert cot.delays_min == [4.0, 6.0]
    assert cot.median_delay_min == 5.0
    assert (cot.requests, cot.requests_after_alert) == (20, 8)
    assert cot.share_after_alert == pytest.approx(0.4)

    hydra = rows["hydra"]
    assert (hydra.accounts, hydra.alerted, hydra.rate, hydra.median_delay_min) == (1, 0, 0.0, None)
    assert (hydra.requests, hydra.share_after_alert) == (4, 0.0)

    chat = rows["chat"]
    assert chat.rate_name == "fp_rate"
    assert (chat.accounts, chat.alerted) == (3, 1)
    assert chat.rate == pytest.approx(1 / 3)
    assert chat.median_delay_min == 2.0
    assert (chat.requests, chat.requests_after_alert) == (15, 2)
    assert rows["coding_agent"].rate == 0.0

    ov = result.overall
    assert ov["attack_recall"] == pytest.approx(2 / 3)
    assert ov["benign_fp_rate"] == pytest.approx(0.25)
    assert ov["benign_alerted"] == 1
    assert ov["worst_benign_scenario"] == "chat"
    assert ov["worst_benign_fp_rate"] == pytest.approx(1 / 3)
    assert ov["median_ttd_min"] == 5.0
    assert ov["attack_requests_after_alert_share"] == pytest.approx(8 / 24)
    assert ov["unlabelled_alerted"] == 1
    assert ov["unlabelled_alerted_sample"] == ["x9"]

    # capture: 2 bad lines (not JSON, no account_id); blank line ignored
    assert result.capture.bad_lines == 2
    assert result.capture.events == sum(len(v) for v in REQUESTS.values())
    assert result.capture.unlabelled_accounts_seen == 1


def test_duplicates_confusion_enforcement_and_targets(run_files) -> None:
    f = run_files()
    result = evaluate(f["capture"], f["labels"], f["alerts"], f["enforcement"])
    assert result.alerts["total"] == 5
    assert result.alerts["duplicates_dropped"] == 1
    assert result.alerts["bad_lines"] == 1
    assert result.campaign_confusion == {
        "cot_elicitation": {"reasoning_extraction": 2, "hydra_cluster": 1},
        "chat": {"anomalous_usage": 1},
        "unlabelled": {"anomalous_usage": 1},
    }
    assert result.enforcement is not None
    assert result.enforcement["by_action"] == {"flag": 1, "throttle": 1}
    assert result.enforcement["duplicates_dropped"] == 1
    tg = result.targets
    assert tg["median_ttd"] is True
    assert tg["attack_recall_per_scenario"] is False
    assert tg["attack_recall_by_scenario"] == {"cot_elicitation": True, "hydra": False}
    assert tg["benign_fp_rate_overall"] is False
    assert tg["benign_fp_by_scenario"] == {"chat": False, "coding_agent": True}
    assert tg["attack_requests_after_alert"] is False
    assert tg["all_pass"] is False


def test_alerts_as_iterable_and_all_targets_pass(run_files) -> None:
    """A perfect early detector on the same capture passes every target."""
    f = run_files()
    perfect = [_alert(f"P{a}", [a], REQUESTS[a][0], "reasoning_extraction", 0.9)
               for a in ("a1", "a2", "a3")]
    result = evaluate(f["capture"], f["labels"], perfect)
    assert result.overall["attack_recall"] == 1.0
    assert result.overall["median_ttd_min"] == 0.0
    assert result.overall["benign_fp_rate"] == 0.0
    # only the very first request of each attack account precedes its alert
    assert result.overall["attack_requests_after_alert_share"] == pytest.approx(21 / 24)
    assert result.targets["attack_requests_after_alert"] is False  # 87.5% < 90%
    assert result.targets["benign_fp_rate_overall"] is True
    assert result.targets["attack_recall_per_scenario"] is True


def _assert_self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert SECRET not in html and "SECRET-PROMPT" not in html


def test_cli_table_json_html(run_files, tmp_path: Path) -> None:
    f = run_files(gz=True)
    out_json = tmp_path / "out.json"
    out_html = tmp_path / "report.html"
    res = CliRunner().invoke(evaluate_command, [
        "--capture", str(f["capture"]), "--labels", str(f["labels"]), "--alerts", str(f["alerts"]),
        "--enforcement", str(f["enforcement"]), "--json", str(out_json), "--html", str(out_html),
    ])
    assert res.exit_code == 0, res.output
    for name in ("cot_elicitation", "hydra", "chat", "coding_agent", "attack recall", "targets"):
        assert name in res.output
    assert "FAIL" in res.output

    data = orjson.loads(out_json.read_bytes())
    assert data["overall"]["median_ttd_min"] == 5.0
    assert data["alerts"]["total"] == 5
    assert data["targets"]["all_pass"] is False
    assert [r["scenario"] for r in data["scenarios"]][:2] == ["cot_elicitation", "hydra"]

    html = out_html.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert html.count('src="data:image/png;base64,') == 3  # TTD, scores, timeline
    for name in ("cot_elicitation", "hydra", "chat", "coding_agent", "reasoning_extraction"):
        assert name in html
    assert "cot_elicitation_rate" in html and "0.82 vs 0.03" in html  # reasons shown


def test_cli_fail_on_targets_sets_exit_code(run_files) -> None:
    f = run_files()
    args = ["--capture", str(f["capture"]), "--labels", str(f["labels"]),
            "--alerts", str(f["alerts"])]
    assert CliRunner().invoke(evaluate_command, args).exit_code == 0
    assert CliRunner().invoke(evaluate_command, [*args, "--fail-on-targets"]).exit_code == 1


def test_html_report_with_no_alerts(run_files, tmp_path: Path) -> None:
    f = run_files()
    result = evaluate(f["capture"], f["labels"], [])
    path = write_html_report(result, result.capture, [], tmp_path / "empty.html")
    html = path.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert "No alerts" in html
    assert result.overall["attack_recall"] == 0.0
    assert result.overall["median_ttd_min"] is None
