"""The whole loop under real Airflow, on square8_2p with real SQLite stores, twice round.

Cycle 1: ``ringrift_selfplay`` plays a round of heuristic games -> ``ringrift_data_sync``
merges them (games Asset) -> ``ringrift_training`` passes its gate on the figures (not
forced), trains a tiny network on the CPU and registers it (candidates Asset) ->
``ringrift_shadow_tournament`` plays it against the baselines into the Elo log ->
``ringrift_promotion`` takes it as the config's first best (bootstrap), writes the best
manifest and emits the best Asset.

Cycle 2: a second round of games, played by the best model with search (the loop feeds on
its own best), trains a second candidate (from the first best), which
the shadow tournament plays against the best and the promotion gate plays head to head
against the best; four games can never clear the Wilson bound, so the gate rejects it
and the best stays as it was, with the gate's games in the match log.

Kept cheap by configuration, the way an operator would: few games per shard, the gate's
thresholds at what one round plays, a 1x8 tower (``training.model_size``), few search
simulations for the models (``tournament.model_sims``), random as the only baseline.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from ringrift_tasks.config import load_config
from ringrift_tasks.evaluation.match import model_agent_name
from ringrift_tasks.evaluation.promotion import gate_id
from ringrift_tasks.store.db import open_store
from tests.airflow.conftest import asset_events, task_states, xcom_value

pytestmark = pytest.mark.slow

CONFIG = "square8_2p"
GAMES = 8  # per self-play round; also the training gate's threshold
GATE_GAMES = 4  # promotion.max_games: below what the Wilson bound can ever accept
TRAIN = {"steps": 30, "batch_size": 32}
CPU_FALLBACK = "CUDA not available: training falls back to the CPU"

TINY_LOOP = {
    "RINGRIFT__TRAINING__MIN_NEW_GAMES": str(GAMES),
    "RINGRIFT__TRAINING__MIN_INTERVAL_S": "0",
    "RINGRIFT__TRAINING__MODEL_SIZE": "1x8",
    "RINGRIFT__SELFPLAY__GAMES_PER_SHARD": "4",
    "RINGRIFT__SELFPLAY__MAX_WORKERS": "1",
    "RINGRIFT__SELFPLAY__MODEL_SIMS": "4",
    "RINGRIFT__SHADOW__GAMES_PER_CONFIG": "2",
    "RINGRIFT__TOURNAMENT__BASELINES": "random",
    "RINGRIFT__TOURNAMENT__MODEL_SIMS": "8",
    "RINGRIFT__PROMOTION__MAX_GAMES": str(GATE_GAMES),
    "RINGRIFT__PROMOTION__COOLDOWN_S": "0",
}


@pytest.fixture
def tiny_loop(loop_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in TINY_LOOP.items():
        monkeypatch.setenv(key, value)
    return loop_home


def _run(dagbag: Any, dag_id: str, **kwargs: Any) -> Any:
    dag_run = dagbag.get_dag(dag_id).test(**kwargs)
    assert dag_run is not None
    assert str(dag_run.state) == "success", (dag_id, task_states(dag_run))
    return dag_run


def _play_and_sync(dagbag: Any, player: str) -> None:
    """A self-play round by ``player`` (the task: ``play``, the heuristic, or
    ``play_neural``, the best model with search), then the data sync."""
    played = _run(dagbag, "ringrift_selfplay", run_conf={"games": GAMES, "config": CONFIG})
    idle = "play" if player == "play_neural" else "play_neural"
    assert task_states(played)[idle] == ["skipped"], task_states(played)
    assert xcom_value(played, player, map_index=0)["games"] == GAMES
    synced = _run(dagbag, "ringrift_data_sync")
    assert asset_events(synced) == [(f"ringrift://games/{CONFIG}", {"games": GAMES})]


def _train(dagbag: Any) -> tuple[Any, str]:
    """Run the training DAG; returns the run and the candidate it published."""
    trained = _run(dagbag, "ringrift_training", run_conf=TRAIN)
    with open_store(load_config().store_url) as store:
        gate = store.decisions.latest(CONFIG, "training")
    assert task_states(trained)["train"] == ["success"], gate
    [candidate] = xcom_value(trained, "publish_candidates")
    assert asset_events(trained) == [
        (f"ringrift://candidates/{CONFIG}", {"model_id": candidate, "status": "candidate"})
    ]
    return trained, candidate


def test_two_loop_cycles_promote_a_bootstrap_best_then_gate_a_challenger(
    dagbag: Any,
    tiny_loop: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = load_config()
    caplog.set_level(logging.INFO, logger="ringrift_tasks")

    # --- cycle 1: games -> first candidate -> shadow games -> bootstrap best -------------
    _play_and_sync(dagbag, "play")
    trained, first = _train(dagbag)
    with open_store(cfg.store_url) as store:
        decision = store.decisions.latest(CONFIG, "training")
        model = store.registry.get(first)
        assert store.registry.best(CONFIG) is None
    assert decision is not None and decision.passed and decision.run_id == trained.run_id
    assert decision.reason.startswith(f"{GAMES} new games >= {GAMES}, never trained, ")
    assert "resources ok" in decision.reason and "forced" not in decision.reason
    assert model is not None and model.status == "candidate" and model.parent_id is None
    assert model.metrics["init"] == "fresh"
    assert Path(model.path).is_file()
    card = json.loads(Path(model.path).with_suffix(".json").read_text(encoding="utf-8"))
    assert card["model_config"]["name"].endswith("-square8-1x8")
    if not torch.cuda.is_available():
        assert model.metrics["device"] == "cpu"
        logged = caplog.text + capsys.readouterr().out
        assert CPU_FALLBACK in logged

    shadow = _run(dagbag, "ringrift_shadow_tournament")
    [summary] = xcom_value(shadow, "shadow")
    assert summary["config"] == CONFIG and summary["skipped"] in ("", None)
    assert summary["played"] == summary["scheduled"] >= 2
    me = model_agent_name(first)
    with open_store(cfg.store_url) as store:
        shadow_matches = [
            m for m in store.elo.matches(CONFIG) if m.match_id.startswith(summary["tournament_id"])
        ]
    assert len(shadow_matches) == summary["played"]
    assert all(set(m.participants) == {me, "random"} for m in shadow_matches)

    promoted = _run(dagbag, "ringrift_promotion")
    gated = xcom_value(promoted, "promotion_gate", map_index=0)
    assert gated["candidate_id"] == first and gated["promoted"] is True
    assert gated["reason"] == "bootstrap"
    assert asset_events(promoted) == [(f"ringrift://best/{CONFIG}", {"model_id": first})]
    manifest = json.loads((cfg.paths.models / "best.json").read_text(encoding="utf-8"))
    assert manifest["configs"][CONFIG]["model_id"] == first
    with open_store(cfg.store_url) as store:
        best = store.registry.best(CONFIG)
        [change] = store.registry.history(CONFIG)
        verdict = store.decisions.latest(CONFIG, "promotion")
    assert best is not None and best.model_id == first and best.status == "best"
    assert change["evidence"]["method"] == "bootstrap"
    assert verdict is not None and verdict.passed

    # --- cycle 2: a challenger, trained from the best, gated head to head against it -----
    # The loop feeds on its own best: this round is the best model's search self-play.
    _play_and_sync(dagbag, "play_neural")
    _, second = _train(dagbag)
    assert second != first
    with open_store(cfg.store_url) as store:
        challenger = store.registry.get(second)
    assert challenger is not None and challenger.parent_id == first
    assert challenger.metrics["init"] == f"parent {first[:12]}"

    shadow = _run(dagbag, "ringrift_shadow_tournament")
    [summary] = xcom_value(shadow, "shadow")
    assert summary["tournament_id"].startswith(f"shadow-{CONFIG}-{second[:12]}-")
    assert summary["played"] == summary["scheduled"] >= 4  # vs random and vs the best

    gate = _run(dagbag, "ringrift_promotion")
    gated = xcom_value(gate, "promotion_gate", map_index=0)
    assert gated["candidate_id"] == second and gated["promoted"] is False
    assert gated["reason"] == "rejected (wilson)"
    assert asset_events(gate) == []  # the best did not change: nothing to announce
    assert xcom_value(gate, "publish_best") is None
    gid = gate_id(CONFIG, second, first)
    with open_store(cfg.store_url) as store:
        gate_matches = [m for m in store.elo.matches(CONFIG) if m.match_id.startswith(gid + "/")]
        assert store.registry.best(CONFIG).model_id == first  # type: ignore[union-attr]
        verdict = store.decisions.latest(CONFIG, "promotion")
    assert len(gate_matches) == GATE_GAMES
    assert all(set(m.participants) == {model_agent_name(second), me} for m in gate_matches)
    assert verdict is not None and not verdict.passed
    assert verdict.evidence["gate_id"] == gid and verdict.evidence["games"] == GATE_GAMES
