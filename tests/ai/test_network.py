"""The network: output shapes on every board and player count, masking, value head math."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ringrift_tasks.ai.actions import POLICY_SIZES
from ringrift_tasks.ai.encoding import MAX_SEATS, PLANE_VALID, encode_batch
from ringrift_tasks.ai.network import (
    DEFAULT_SIZES,
    ModelConfig,
    ModelConfigError,
    build_model,
    default_model_config,
    rank_scores,
    rank_targets,
    seat_values,
)
from ringrift_tasks.rules import ALL_CONFIGS, new_game


def tiny(board_type: str) -> ModelConfig:
    return default_model_config(board_type, blocks=1, channels=16, value_hidden=16)


@pytest.mark.parametrize("config", [c.name for c in ALL_CONFIGS])
def test_forward_shapes_on_every_board_and_player_count(config: str) -> None:
    s = new_game(config)
    board = s.geo.board_type
    model = build_model(tiny(board), seed=0).eval()
    planes, glob = encode_batch([s, s, s])
    with torch.inference_mode():
        out = model(torch.from_numpy(planes), torch.from_numpy(glob))
    assert out.policy.shape == (3, POLICY_SIZES[board])
    assert out.rank.shape == (3, MAX_SEATS, MAX_SEATS)
    values = seat_values(out.rank, s.num_players)
    assert values.shape == (3, s.num_players)
    assert bool(((values >= -1) & (values <= 1)).all())


def test_default_sizes_build_for_every_board() -> None:
    for board, (blocks, channels) in DEFAULT_SIZES.items():
        cfg = default_model_config(board)
        assert (cfg.blocks, cfg.channels) == (blocks, channels)
        assert cfg.policy_size == POLICY_SIZES[board]
        assert cfg.name == f"ringrift-resnet-se-v1-{board}-{blocks}x{channels}"


def test_off_board_grid_cells_do_not_change_the_output() -> None:
    s = new_game("hex8_2p")
    model = build_model(tiny("hex8"), seed=1).eval()
    planes, glob = encode_batch([s])
    noisy = planes.copy()
    off = planes[0, PLANE_VALID] == 0
    noisy[0, :PLANE_VALID, off] = 3.0  # garbage where there is no board cell
    with torch.inference_mode():
        a = model(torch.from_numpy(planes), torch.from_numpy(glob))
        b = model(torch.from_numpy(noisy), torch.from_numpy(glob))
    assert torch.allclose(a.rank, b.rank, atol=1e-5)
    assert torch.allclose(a.policy, b.policy, atol=1e-5)


def test_seat_values_are_expected_rank_scores() -> None:
    assert rank_scores(2).tolist() == [1.0, -1.0]
    assert rank_scores(3).tolist() == [1.0, 0.0, -1.0]
    logits = torch.full((1, MAX_SEATS, MAX_SEATS), -1e9)
    logits[0, 0, 0] = 0.0  # seat group 0 surely wins
    logits[0, 1, 1] = logits[0, 1, 2] = 0.0  # group 1: second or third, evenly
    logits[0, 2, 2] = 0.0
    logits[0, :, 3] = 50.0  # rank 3 does not exist with 3 players: ignored
    values = seat_values(logits, 3)
    assert values[0].tolist() == pytest.approx([1.0, -0.5, -1.0])


def test_temperature_softens_the_value() -> None:
    logits = torch.zeros((1, MAX_SEATS, MAX_SEATS))
    logits[0, 0, 0] = 2.0
    sharp = seat_values(logits, 2)[0, 0]
    soft = seat_values(logits, 2, temperature=2.0)[0, 0]
    assert 0 < soft < sharp


def test_rank_targets_are_rotated_like_the_planes() -> None:
    # Seat 3 won, seat 1 second, seat 2 last; seat 2 to move.
    assert rank_targets([3, 1, 2], current_player=2, num_players=3).tolist() == [2, 0, 1, -1]
    with pytest.raises(ValueError, match="permutation"):
        rank_targets([1, 1], 1, 2)


def test_config_round_trips_and_names_a_bad_field() -> None:
    cfg = default_model_config("square8")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    bad = cfg.to_dict() | {"encoder_version": 99, "name": None}
    bad.pop("name")
    with pytest.raises(ModelConfigError, match=r"encoder_version: 99"):
        ModelConfig.from_dict(bad)
    with pytest.raises(ModelConfigError, match=r"unknown field\(s\) \['colour'\]"):
        ModelConfig.from_dict(cfg.to_dict() | {"colour": "blue"})
    with pytest.raises(ModelConfigError, match="blocks"):
        default_model_config("square8", blocks=0)


def test_build_with_a_seed_is_deterministic() -> None:
    a = build_model(tiny("square8"), seed=5).state_dict()
    b = build_model(tiny("square8"), seed=5).state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
