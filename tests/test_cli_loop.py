"""The loop's CLI as an engineer uses it: self-play, sync, import, status, Elo, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift_tasks.cli import app

REPO = Path(__file__).resolve().parents[1]
TRACE = REPO / "tests" / "data" / "parity" / "square8_2p.jsonl.gz"
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"RINGRIFT_HOME": str(tmp_path), "COLUMNS": "200"}


def _status(env: dict[str, str]) -> dict:
    result = runner.invoke(app, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_json_maps_every_config_to_games_new_games_and_best_model(home: dict) -> None:
    report = _status(home)

    assert len(report["configs"]) == 12
    for entry in report["configs"].values():
        assert {"games", "new_games", "best_model"} <= set(entry)
    assert report["configs"]["square8_2p"]["enabled"] is True
    assert report["home"] == home["RINGRIFT_HOME"]
    assert report["resources"]["level"] in ("ok", "warning", "critical")


def test_selfplay_then_sync_puts_the_games_in_the_pool_once(home: dict) -> None:
    played = runner.invoke(
        app, ["selfplay", "-n", "3", "-w", "1", "--agent", "random", "--seed", "5"], env=home
    )
    assert played.exit_code == 0, played.output
    assert "selfplay: 3 games" in played.output

    first = runner.invoke(app, ["sync"], env=home)
    second = runner.invoke(app, ["sync"], env=home)

    assert "3 games added (square8_2p +3)" in first.output
    assert "0 shards merged, 0 games added" in second.output
    cfg = _status(home)["configs"]["square8_2p"]
    assert (cfg["games"], cfg["new_games"], cfg["best_model"]) == (3, 3, None)


def test_import_of_a_trace_file_is_idempotent(home: dict) -> None:
    first = runner.invoke(app, ["import", str(TRACE)], env=home)
    second = runner.invoke(app, ["import", str(TRACE)], env=home)

    assert first.exit_code == 0, first.output
    assert "10 added, 0 already in the pool, 0 rejected" in first.output
    assert "0 added, 10 already in the pool" in second.output
    assert _status(home)["configs"]["square8_2p"]["games"] == 10


def test_elo_prints_the_ladder_of_logged_matches(home: dict, tmp_path: Path) -> None:
    from ringrift_tasks.store.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'ringrift.db'}")
    for i in range(6):
        winner, loser = ("heuristic", "random") if i < 5 else ("random", "heuristic")
        store.elo.record_match(f"m{i}", "square8_2p", [winner, loser], [winner, loser])

    result = runner.invoke(app, ["elo", "--json"], env=home)

    assert result.exit_code == 0, result.output
    ladder = json.loads(result.output)["square8_2p"]
    assert [r["agent"] for r in ladder] == ["heuristic", "random"]
    assert ladder[1]["elo"] == pytest.approx(400.0)
    assert ladder[0]["elo"] > 400.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["selfplay", "-c", "square9_2p"], "bad config name 'square9_2p'"),
        (["selfplay", "--agent", "bogus"], "unknown agent 'bogus'"),
        (["elo", "-c", "hex7_2p"], "bad config name 'hex7_2p'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(home: dict, args: list[str], message: str) -> None:
    result = runner.invoke(app, args, env=home)

    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_config_file_names_the_key(home: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  min_new_games: lots\n")

    result = runner.invoke(app, ["status"], env={**home, "RINGRIFT_CONFIG": str(bad)})

    assert result.exit_code == 2
    assert "training.min_new_games" in result.output


def test_stats_reports_lengths_reasons_and_seat_rates(home: dict) -> None:
    runner.invoke(app, ["import", str(TRACE)], env=home)

    result = runner.invoke(app, ["stats", "--json", "-c", "square8_2p"], env=home)

    assert result.exit_code == 0, result.output
    st = json.loads(result.output)["square8_2p"]
    assert st["games"] == 10
    assert sum(st["terminations"].values()) == 10
    assert st["length"]["min"] <= st["length"]["median"] <= st["length"]["max"]


def test_a_full_tournament_rerun_for_the_same_hour_plays_nothing_new(home: dict) -> None:
    args = ["tournament", "full", "-c", "square8_2p", "--games", "2", "--at", "2026-11-25T09:00"]
    home = {**home, "RINGRIFT__TOURNAMENT__BASELINES": "random,heuristic"}

    first = runner.invoke(app, args, env=home)
    second = runner.invoke(app, args, env=home)

    assert first.exit_code == 0, first.output
    assert "elo-square8_2p-2026-11-25T09:00: 2 played, 0 already logged" in first.output
    assert "0 played, 2 already logged" in second.output
    ladder = json.loads(runner.invoke(app, ["elo", "--json"], env=home).output)["square8_2p"]
    assert sum(r["games"] for r in ladder) == 4  # 2 games x 2 participants


def test_rollback_without_a_best_is_refused_in_one_line(home: dict) -> None:
    result = runner.invoke(
        app, ["promote", "square8_2p", "--rollback", "--reason", "bad model"], env=home
    )

    assert result.exit_code == 2
    assert "no best model to roll back" in result.output
