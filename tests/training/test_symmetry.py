"""Board symmetries are exact: on positions of real games, for every symmetry, the
transformed position's legal moves are the permuted policy indices, its planes are the
permuted planes, and corresponding moves lead to corresponding positions."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ringrift_tasks.ai.actions import encode_moves
from ringrift_tasks.ai.encoding import encode_state
from ringrift_tasks.rules.moves import move_from_json
from ringrift_tasks.rules.state import GameState, new_game
from ringrift_tasks.rules.turn import apply_move, legal_moves
from ringrift_tasks.rules.view import full_digest
from ringrift_tasks.training.symmetry import (
    board_symmetries,
    symmetry_count,
    transform_move,
    transform_state,
)
from tests.training.games import heuristic_games


def _decision_positions(config: str, games: int, seed: int) -> list[GameState]:
    out = []
    for rec in heuristic_games(games, seed, config):
        s = new_game(config)
        for mj in rec.moves:
            if legal_moves(s):
                out.append(s.copy())
            apply_move(s, move_from_json(mj, s.geo))
    return out


def test_square_boards_have_eight_symmetries_and_hex_boards_twelve() -> None:
    assert symmetry_count("square8") == 8
    assert symmetry_count("hex8") == 12
    for board in ("square8", "hex8"):
        syms = board_symmetries(board)
        assert syms.symmetries[0].is_identity
        assert syms.symmetries[0].cells == tuple(range(len(syms.symmetries[0].cells)))
        # Distinct permutations of the cells, each a bijection.
        assert len({s.cells for s in syms.symmetries}) == len(syms)
        for s in syms.symmetries:
            assert sorted(s.cells) == list(range(len(s.cells)))


@pytest.mark.parametrize("config", ["square8_2p", "hex8_3p"])
def test_symmetries_preserve_legality_planes_and_successors(config: str) -> None:
    positions = _decision_positions(config, 1, seed=11)
    syms = board_symmetries(config.split("_")[0])
    rng = random.Random(5)
    checked = 0
    for s in positions:
        legal = legal_moves(s)
        idx = encode_moves(legal, s)
        planes, glob = encode_state(s)
        for k in range(1, len(syms)):
            sym = syms.symmetries[k]
            t = transform_state(s, sym)
            t_planes, t_glob = encode_state(t)
            assert np.array_equal(t_planes, syms.apply_planes(planes, k))
            assert np.array_equal(t_glob, glob)
            if not syms.applicable(idx):
                continue  # line/territory choices: identity only, by design
            t_legal = legal_moves(t)
            assert sorted(encode_moves(t_legal, t).tolist()) == sorted(
                syms.apply_policy(idx, k).tolist()
            )
            move = rng.choice(legal)
            after, t_after = s.copy(), t.copy()
            apply_move(after, move)
            apply_move(t_after, transform_move(move, s.geo, sym))  # validated: must be legal
            assert full_digest(transform_state(after, sym)) == full_digest(t_after)
            checked += 1
    assert checked > 50 * (len(syms) - 1)


def test_line_and_territory_choices_have_no_index_image() -> None:
    syms = board_symmetries("square8")
    positions = _decision_positions("square8_2p", 3, seed=0)
    anchored = [
        s
        for s in positions
        if any(
            m.type in ("process_line", "choose_line_option", "choose_territory_option")
            for m in legal_moves(s)
        )
    ]
    assert anchored, "expected line or territory decisions in three games"
    for s in anchored:
        assert not syms.applicable(encode_moves(legal_moves(s), s))
    with pytest.raises(ValueError, match="no exact image"):
        s = anchored[0]
        syms.apply_policy(encode_moves(legal_moves(s), s), 1)
