"""The integrity check (``ringrift check``): a store built by the real loop code passes;
each kind of damage is caught and named."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ringrift_tasks.cli import app
from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.evaluation.match import Participant, run_matches, schedule_group
from ringrift_tasks.evaluation.promotion import run_promotion_gate
from ringrift_tasks.evaluation.tournament import RunOptions
from ringrift_tasks.integrity import CHECKS, check_integrity
from ringrift_tasks.records.shard import write_shard
from ringrift_tasks.store import ModelVersion, Store, open_store
from tests.store.games import play_random_game

RUN = RunOptions(start_method=None, resource_guard=False, model_sims=2, max_steps=40)


def _model(store: Store, folder: Path, n: int) -> ModelVersion:
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    net = build_model(default_model_config("square8", blocks=1, channels=8), seed=n)
    path, sha = save_model(net, ModelCard(config="square8_2p", model_config=net.config), folder)
    return store.registry.register(
        sha, "square8_2p", path=str(path), bytes=path.stat().st_size, created_at=1000.0 + n
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loop home whose store is filled by the loop's own code: games merged from a
    sealed shard, one inserted, a tournament (games + Elo log), a bootstrap promotion and
    a real promotion gate. Built once; each test works on a copy."""
    root = tmp_path_factory.mktemp("integrity")
    cfg = _cfg(root / "home")
    with open_store(cfg.store_url) as s:
        shard = write_shard(root / "incoming", [play_random_game(seed=k) for k in (1, 2, 3)])
        assert s.pool.merge_shard(shard.path).added == 3
        s.pool.insert_records([play_random_game(seed=4)])
        baselines = [Participant.baseline("random"), Participant.baseline("heuristic")]
        run_matches(s, schedule_group("t-1", "square8_2p", baselines, 4), start_method=None)
        folder = root / "models"
        folder.mkdir()
        first, second = _model(s, folder, 1), _model(s, folder, 2)
        assert run_promotion_gate(cfg, s, "square8_2p", first.model_id, options=RUN).promoted
        gate = run_promotion_gate(cfg, s, "square8_2p", second.model_id, options=RUN)
        assert gate.decision is not None and gate.decision.decided
    return root / "home"


def _cfg(home: Path) -> RingriftConfig:
    return RingriftConfig(
        home=home,
        tournament={"baselines": ["random", "heuristic"]},
        promotion={"max_games": 4, "cooldown_s": 0},
    )


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "home"))


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with open_store(_cfg(home).store_url) as s:
        yield s


def _problems(store: Store, name: str) -> tuple[str, ...]:
    return check_integrity(store).check(name).problems


def test_a_store_built_by_the_loop_passes_every_check(store: Store) -> None:
    report = check_integrity(store)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.passed, report.to_json()
    assert report.check("games").checked == 12  # 3 merged, 1 inserted, 4 + 4 played
    assert report.check("match_log").checked == 8  # the tournament's and the gate's
    assert report.check("gate_evidence").checked == 1
    assert report.check("best_models").checked == 1


def test_a_tampered_result_fails_the_games_check_naming_the_game(store: Store) -> None:
    with store.write() as conn:
        gid = conn.execute(text("SELECT game_id FROM games ORDER BY game_id LIMIT 1")).scalar()
        conn.execute(
            text("UPDATE games SET result = :r WHERE game_id = :g"),
            {"r": json.dumps({"winner": 2, "termination": "elimination", "ranking": [2, 1]}),
             "g": gid},
        )  # fmt: skip
    problems = _problems(store, "games")
    assert len(problems) == 1
    assert gid in problems[0] and "checksum mismatch" in problems[0]


def test_a_self_consistent_game_that_does_not_replay_fails(store: Store) -> None:
    # Moves of one game under the result of another: checksum and id are its own, the
    # rules disagree.
    a, b = play_random_game(seed=11), play_random_game(seed=12)
    forged = dataclasses.replace(a, result=b.result, game_id="")
    assert forged.result != a.result
    store.pool.insert_records([forged])
    problems = _problems(store, "games")
    assert len(problems) == 1
    assert forged.game_id in problems[0] and "replay" in problems[0], problems


def test_a_sample_replays_only_that_many_games(store: Store) -> None:
    result = check_integrity(store, sample=3).check("games")
    assert result.checked == 3 and "of 12 games" in result.note


def test_a_lost_game_of_a_merged_shard_is_reported(store: Store) -> None:
    with store.write() as conn:
        sha = conn.execute(text("SELECT sha256 FROM merged_shards")).scalar()
        conn.execute(
            text(
                "DELETE FROM games WHERE game_id = "
                "(SELECT game_id FROM games WHERE shard = :s LIMIT 1)"
            ),
            {"s": sha},
        )
    (problem,) = _problems(store, "game_ids")
    assert sha in problem and "3 games added" in problem and "holds 2" in problem


def test_a_match_that_disagrees_with_its_game_fails(store: Store) -> None:
    with store.write() as conn:
        rows = conn.execute(
            text("SELECT match_id, ranking FROM matches WHERE source = 't-1' ORDER BY match_id")
        ).all()
        decided = [(m, json.loads(r)) for m, r in rows if len(json.loads(r)) == 2]
        assert decided, "random vs heuristic: some game has a winner"
        flipped, tiers = decided[0]
        orphan = next(m for m, _ in rows if m != flipped)
        conn.execute(
            text("UPDATE matches SET ranking = :r WHERE match_id = :m"),
            {"r": json.dumps(tiers[::-1]), "m": flipped},
        )
        conn.execute(
            text("UPDATE matches SET game_id = 'missing' WHERE match_id = :m"), {"m": orphan}
        )
    problems = _problems(store, "match_log")
    assert len(problems) == 2
    assert any(flipped in p and "ended" in p for p in problems)
    assert any(orphan in p and "game missing is not in the pool" in p for p in problems)


def test_gate_evidence_that_the_log_does_not_support_fails(store: Store) -> None:
    with store.write() as conn:
        conn.execute(text("DELETE FROM matches WHERE match_id LIKE 'gate-%/3'"))
    (problem,) = _problems(store, "gate_evidence")
    assert "evidence" in problem and "the logged games give" in problem


def test_two_best_models_of_one_config_fail(store: Store) -> None:
    with store.write() as conn:
        # Force what the schema forbids: drop the partial unique index, flag a second best.
        conn.execute(text("DROP INDEX ux_models_one_best_per_config"))
        conn.execute(text("UPDATE models SET status = 'best' WHERE status = 'archived'"))
        conn.execute(text("UPDATE models SET status = 'best' WHERE status = 'candidate'"))
    problems = _problems(store, "best_models")
    assert any("square8_2p: 2 models have status best" in p for p in problems)


def test_a_best_model_file_that_changed_fails(store: Store, tmp_path: Path) -> None:
    best = store.registry.best("square8_2p")
    assert best is not None
    changed = tmp_path / "changed.safetensors"
    changed.write_bytes(Path(best.path).read_bytes() + b"x")
    with store.write() as conn:
        conn.execute(text("UPDATE models SET path = :p WHERE status = 'best'"), {"p": str(changed)})
    (problem,) = _problems(store, "best_models")
    assert best.model_id in problem and "sha256" in problem


def test_a_missing_best_model_file_fails(store: Store, tmp_path: Path) -> None:
    with store.write() as conn:
        conn.execute(
            text("UPDATE models SET path = :p WHERE status = 'best'"),
            {"p": str(tmp_path / "gone.safetensors")},
        )
    (problem,) = _problems(store, "best_models")
    assert "gone.safetensors is missing" in problem


def test_the_cli_prints_each_check_and_exits_1_naming_the_game(
    store: Store, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGRIFT_HOME", str(home))
    runner = CliRunner()
    ok = runner.invoke(app, ["check"])
    assert ok.exit_code == 0, ok.output
    assert all(f"{name}: ok" in ok.output for name in CHECKS)

    with store.write() as conn:
        gid = conn.execute(text("SELECT game_id FROM games ORDER BY game_id LIMIT 1")).scalar()
        conn.execute(text("UPDATE games SET num_moves = num_moves + 1 WHERE game_id = :g"),
                     {"g": gid})  # fmt: skip
    bad = runner.invoke(app, ["check", "--json"])
    assert bad.exit_code == 1
    body = json.loads(bad.output)
    assert body["passed"] is False
    games = next(c for c in body["checks"] if c["name"] == "games")
    assert games["passed"] is False and gid in games["problems"][0]
