"""NeuralEvaluator: the Evaluator seam over a real (CPU) network."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ringrift_tasks.ai.actions import encode_moves
from ringrift_tasks.ai.evaluator import Evaluator
from ringrift_tasks.ai.model_file import ModelCard, save_model
from ringrift_tasks.ai.network import build_model, default_model_config, seat_values
from ringrift_tasks.ai.neural_evaluator import NeuralEvaluator
from ringrift_tasks.rules import GameState, apply_move, auto_move, legal_moves, new_game
from ringrift_tasks.rules.moves import Move


def positions(config: str, count: int, seed: int = 3) -> tuple[list[GameState], list[list[Move]]]:
    """Positions with legal moves along random games of ``config``."""
    rng = random.Random(seed)
    states: list[GameState] = []
    legal: list[list[Move]] = []
    s = new_game(config)
    while len(states) < count:
        if s.status != "active":
            s = new_game(config)
        moves = legal_moves(s)
        if moves and rng.random() < 0.3:
            states.append(s.copy())
            legal.append(moves)
        apply_move(s, rng.choice(moves) if moves else auto_move(s))
    return states, legal


def evaluator(board: str, **kwargs: object) -> NeuralEvaluator:
    cfg = default_model_config(board, blocks=2, channels=16)
    return NeuralEvaluator(build_model(cfg, seed=0), device="cpu", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("config", ["square8_2p", "hex8_3p", "square8_4p"])
def test_priors_sum_to_one_over_legal_and_values_are_per_seat(config: str) -> None:
    states, legal = positions(config, 24)
    ev = evaluator(states[0].geo.board_type)
    assert isinstance(ev, Evaluator)
    results = ev.evaluate(states, legal)
    assert len(results) == len(states)
    for s, moves, r in zip(states, legal, results, strict=True):
        assert r.priors.dtype == np.float32 and r.priors.shape == (len(moves),)
        assert (r.priors >= 0).all() and r.priors.sum() == pytest.approx(1.0, abs=1e-5)
        assert r.values.dtype == np.float32 and r.values.shape == (s.num_players,)
        assert ((r.values >= -1) & (r.values <= 1)).all()


def test_priors_follow_the_legal_logits_and_values_come_back_in_seat_order() -> None:
    states, legal = positions("square8_3p", 6)
    ev = evaluator("square8")
    results = ev.evaluate(states, legal)
    policy, rank = ev.forward(states)
    for i, (s, moves) in enumerate(zip(states, legal, strict=True)):
        logits = policy[i, torch.from_numpy(encode_moves(moves, s))].double()
        assert np.allclose(results[i].priors, torch.softmax(logits, 0).numpy(), atol=1e-6)
        by_group = seat_values(rank[i : i + 1], 3)[0].numpy()
        for g in range(3):
            seat = (s.current_player - 1 + g) % 3 + 1
            assert results[i].values[seat - 1] == pytest.approx(by_group[g], abs=1e-6)


def test_evaluate_does_not_mutate_the_states() -> None:
    states, legal = positions("square8_2p", 4)
    before = [(dict(s.stacks), dict(s.markers), s.phase, s.current_player) for s in states]
    evaluator("square8").evaluate(states, legal)
    assert before == [(dict(s.stacks), dict(s.markers), s.phase, s.current_player) for s in states]


def test_a_position_of_another_board_is_refused() -> None:
    s = new_game("hex8_2p")
    with pytest.raises(ValueError, match="this model plays square8"):
        evaluator("square8").evaluate([s], [legal_moves(s)])


def test_from_file_uses_the_model_id_and_calibration(tmp_path: Path) -> None:
    model = build_model(default_model_config("square8", blocks=1, channels=16), seed=0)
    card = ModelCard(config="square8_2p", model_config=model.config, calibration_temperature=1.5)
    path, sha = save_model(model, card, tmp_path)
    ev = NeuralEvaluator.from_file(path, device="cpu")
    assert ev.name == sha and ev.temperature == 1.5


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_auto_device_logs_the_cpu_fallback(caplog: pytest.LogCaptureFixture) -> None:
    cfg = default_model_config("square8", blocks=1, channels=16)
    with caplog.at_level(logging.INFO, logger="ringrift_tasks.ai.neural_evaluator"):
        ev = NeuralEvaluator(build_model(cfg), device="auto")
    assert ev.device.type == "cpu" and not ev.amp
    assert "falls back to the CPU" in caplog.text
