"""``ringrift decisions``: read the gate decisions (time, run id, passed, reason, evidence),
newest first, filtered by config and gate kind. The decisions are made by the real training
gate on a real store (and one real SPRT promotion verdict)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift_tasks.cli import app
from ringrift_tasks.config import load_config
from ringrift_tasks.evaluation.gate import decide
from ringrift_tasks.store import open_store
from ringrift_tasks.training.gate import training_gate

runner = CliRunner()
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"RINGRIFT_HOME": str(tmp_path), "COLUMNS": "200"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _three_decisions() -> None:
    """square8_2p refused (empty pool), hex8_2p forced through, square8_2p promoted."""
    cfg = load_config()
    with open_store(cfg.store_url) as store:
        training_gate(cfg, store, "square8_2p", T0, run_id="scheduled__a")
        training_gate(cfg, store, "hex8_2p", T0 + 60, run_id="manual__b", force=True)
        sprt = decide([1.0] * 300, elo_margin=20.0)
        store.decisions.record(
            "square8_2p", "promotion", True, "promoted", evidence=sprt.evidence(), at=T0 + 120
        )


def _run(home: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["decisions", *args], env=home)
    return result.exit_code, result.output


def test_an_empty_log_says_so(home: dict[str, str]) -> None:
    assert _run(home) == (0, "decisions: none recorded\n")


def test_decisions_are_listed_newest_first_with_time_run_verdict_reason_and_evidence(
    home: dict[str, str],
) -> None:
    _three_decisions()

    code, out = _run(home)

    assert code == 0, out
    heads = [line for line in out.splitlines() if not line.startswith("  ")]
    assert heads[0].startswith("2027-01-15 08:02:00 UTC  square8_2p  promotion  passed  run -")
    assert heads[1].startswith("2027-01-15 08:01:00 UTC  hex8_2p  training  passed  run manual__b")
    assert "forced (would refuse: 0 new games < 300 required" in heads[1]
    assert heads[2].startswith(
        "2027-01-15 08:00:00 UTC  square8_2p  training  refused  run scheduled__a: "
        "0 new games < 300 required"
    )
    evidence = [line for line in out.splitlines() if line.startswith("  evidence: ")]
    assert len(evidence) == 3 and '"llr"' in evidence[0] and '"new_games": 0' in evidence[2]


def test_config_kind_and_limit_filter_the_list(home: dict[str, str]) -> None:
    _three_decisions()

    _, by_config = _run(home, "--config", "square8_2p", "--json")
    _, by_kind = _run(home, "--kind", "training", "--json")
    _, newest = _run(home, "--limit", "1", "--json")
    _, both = _run(home, "-c", "hex8_2p", "--kind", "promotion")

    assert [(d["config"], d["gate"]) for d in json.loads(by_config)] == [
        ("square8_2p", "promotion"),
        ("square8_2p", "training"),
    ]
    assert [d["run_id"] for d in json.loads(by_kind)] == ["manual__b", "scheduled__a"]
    (only,) = json.loads(newest)
    assert only["passed"] is True and only["time_utc"] == "2027-01-15 08:02:00"
    assert only["evidence"]["games"] == decide([1.0] * 300, elo_margin=20.0).games
    assert both == "decisions: none recorded for hex8_2p promotion\n"


def test_a_bad_kind_or_config_is_refused_naming_it(home: dict[str, str]) -> None:
    kind = _run(home, "--kind", "elo")
    config = _run(home, "--config", "square9_2p")

    assert kind[0] == 2 and "--kind must be one of training, promotion; got 'elo'" in kind[1]
    assert config[0] == 2 and "square9" in config[1]
