"""Curriculum weights from real Elo ratings in a SQLite store, and their logged changes."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.store import Store, open_store
from ringrift_tasks.training.curriculum import (
    CurriculumConfig,
    CurriculumTrainer,
    curriculum_weights,
)


def test_weights_follow_the_clamped_distance_to_the_median() -> None:
    cfg = CurriculumConfig(scale=200, min_weight=0.7, max_weight=1.5)
    w = curriculum_weights({"a": 1000.0, "b": 1100.0, "c": 1200.0, "d": None}, cfg)
    # median 1100: a -> 1 + 100/200 = 1.5, b -> 1.0, c -> 0.5 clamped to 0.7, d unrated -> 1.0
    assert w == {"a": 1.5, "b": 1.0, "c": 0.7, "d": 1.0}
    assert curriculum_weights({"a": 1040.0, "b": 1100.0}, cfg) == pytest.approx(
        {"a": 1.15, "b": 0.85}
    )
    assert curriculum_weights({"a": None}, cfg) == {"a": 1.0}


def test_the_config_comes_from_the_loop_settings() -> None:
    loop = load_config(env={"RINGRIFT__CURRICULUM__SCALE": "100"})
    assert CurriculumConfig.from_settings(loop.curriculum) == CurriculumConfig(
        scale=100.0, min_weight=0.7, max_weight=1.5, refresh_s=3600.0
    )
    with pytest.raises(ValueError, match="min_weight=2"):
        CurriculumConfig(min_weight=2, max_weight=1.5)


def _best_with_elo(store: Store, config: str, tag: str, beats_random: int, loses: int) -> str:
    model_id = hashlib.sha256(f"{config}{tag}".encode()).hexdigest()
    store.registry.register(model_id, config, path=f"/models/{model_id}", bytes=1)
    assert store.registry.promote(config, model_id, {}, cooldown_s=0, max_per_day=9).promoted
    name = f"model:{model_id[:12]}"
    for i in range(beats_random + loses):
        ranking = [name, "random"] if i < beats_random else ["random", name]
        store.elo.record_match(f"{config}-{i}", config, [name, "random"], ranking)
    return model_id


def test_the_trainer_weights_the_weaker_config_up_and_logs_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    with open_store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        _best_with_elo(store, "square8_2p", "strong", beats_random=18, loses=2)
        _best_with_elo(store, "hex8_2p", "weak", beats_random=11, loses=9)
        trainer = CurriculumTrainer(
            store, ["square8_2p", "hex8_2p", "square8_3p"], clock=lambda: now[0]
        )
        with caplog.at_level(logging.INFO, logger="ringrift_tasks.training.curriculum"):
            weights = trainer.refresh()
        strong, weak = trainer.elos["square8_2p"], trainer.elos["hex8_2p"]
        assert strong is not None and weak is not None and strong > weak
        median = (strong + weak) / 2
        assert weights["hex8_2p"] == pytest.approx(min(1.5, 1 + (median - weak) / 200))
        assert weights["square8_2p"] == pytest.approx(max(0.7, 1 + (median - strong) / 200))
        assert weights["square8_3p"] == 1.0  # no best model yet
        assert len(trainer.changes) == 3
        assert "curriculum weight hex8_2p: unset ->" in caplog.text

        # Within refresh_s nothing is recomputed; after it, unchanged weights log nothing.
        for i in range(20):
            store.elo.record_match(
                f"x{i}", "hex8_2p", ["model:" + "0" * 12, "random"], ["random", "model:" + "0" * 12]
            )
        assert trainer.refresh() == weights
        now[0] += 4000
        trainer.refresh()
        assert len(trainer.changes) == 3 or all(c.config == "hex8_2p" for c in trainer.changes[3:])
        plan = trainer.plan("hex8_2p", 1000, window=400)
        assert plan.steps == round(1000 * plan.weight) and plan.window == round(400 * plan.weight)
        with pytest.raises(ValueError, match="not one of"):
            trainer.weight("hexagonal_4p")
