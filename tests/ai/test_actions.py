"""Action encoding: total and exact on every move of the parity traces; layout facts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ringrift_tasks.ai.actions import (
    PLANE_PLACE,
    PLANE_SPECIAL,
    POLICY_SIZES,
    SPECIAL_TYPES,
    ActionEncodingError,
    action_layout,
    decode_move,
    describe_index,
    encode_move,
    encode_moves,
    offered_moves,
)
from ringrift_tasks.ai.encoding import board_grid
from ringrift_tasks.rules import apply_move, legal_moves, move_from_json, new_game
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.traces import iter_trace_games
from tests.rules.positions import build_position

REPO = Path(__file__).resolve().parents[2]
VENDORED = sorted((REPO / "tests" / "data" / "parity").glob("*.jsonl.gz"))
SHARED = REPO.parent / "shared" / "parity" / "traces"
PUBLIC = sorted(SHARED.glob("*.jsonl.gz")) if SHARED.is_dir() else []


def check_trace_file(path: Path) -> Counter[str]:
    """Replay every game of ``path``; at every step the offered list (legal moves, or the
    host's bookkeeping move) must encode to distinct in-range indices, the trace's own legal
    list (debug games) must be ours, and the recorded move must decode back from its index.
    Returns counts; raises AssertionError naming the first failing step."""
    counts: Counter[str] = Counter()
    for game in iter_trace_games(path):
        s = new_game(game["config"])
        geo = s.geo
        size = POLICY_SIZES[geo.board_type]
        for k, step in enumerate(game["steps"]):
            where = f"{path.name} game {game.get('game_index')} step {k} ({s.phase})"
            offered = offered_moves(s)
            idx = encode_moves(offered, s)
            assert idx.min() >= 0 and idx.max() < size, where
            if len(set(idx.tolist())) != len(idx):
                dup = [i for i, n in Counter(idx.tolist()).items() if n > 1][0]
                same = [m for m, i in zip(offered, idx, strict=True) if i == dup]
                raise AssertionError(f"{where}: {describe_index(dup, geo.board_type)} {same}")
            if "legal" in step:
                ref = [move_from_json(m, geo).key(geo) for m in step["legal"]]
                assert ref == [m.key(geo) for m in legal_moves(s)], where
                counts["debug_lists"] += 1
            move = move_from_json(step["move"], geo)
            back = decode_move(encode_move(move, s), s, offered)
            assert back.key(geo) == move.key(geo), where
            counts["lists"] += 1
            counts["moves"] += len(offered)
            apply_move(s, move, validate=False)
    return counts


@pytest.mark.parametrize("path", VENDORED, ids=[p.name.split(".")[0] for p in VENDORED])
def test_every_vendored_trace_move_has_a_unique_index_that_decodes_back(path: Path) -> None:
    counts = check_trace_file(path)
    assert counts["lists"] > 0 and counts["debug_lists"] == counts["lists"]


@pytest.mark.slow
@pytest.mark.skipif(not PUBLIC, reason="../shared/parity/traces not present in this checkout")
@pytest.mark.parametrize("path", PUBLIC, ids=[p.name.split(".")[0] for p in PUBLIC])
def test_every_public_trace_move_has_a_unique_index_that_decodes_back(path: Path) -> None:
    counts = check_trace_file(path)
    assert counts["lists"] > 0 and counts["debug_lists"] > 0


def test_policy_sizes_are_planes_times_grid() -> None:
    assert POLICY_SIZES == {
        "square8": 95 * 64,
        "hex8": 80 * 81,
        "square19": 183 * 361,
        "hexagonal": 176 * 625,
    }
    for board, size in POLICY_SIZES.items():
        layout = action_layout(board)
        assert layout.policy_size == size
        assert layout.ray_plane + layout.n_dirs * layout.max_distance == layout.n_planes


def test_spatial_moves_sit_on_their_cell() -> None:
    s = build_position("square8_2p", stacks={(2, 5): (1, 1)}, phase="movement")
    hw = 64
    place = Move("place_ring", 1, to=s.geo.index[(6, 1)])
    assert encode_move(place, s) == PLANE_PLACE * hw + 1 * 8 + 6
    # Two steps east (direction 0) from (2, 5): ray plane d=0, k=2, at the origin.
    slide = Move("move_stack", 1, to=s.geo.index[(4, 5)], frm=s.geo.index[(2, 5)])
    layout = action_layout("square8")
    assert encode_move(slide, s) == (layout.ray_plane + 1) * hw + 5 * 8 + 2
    assert describe_index(encode_move(slide, s), "square8") == "ray d=0 k=2 @ (row 5, col 2)"


def test_special_moves_use_one_plane_with_the_type_as_cell() -> None:
    for board in ("square8", "hexagonal"):
        s = new_game(f"{board}_2p")
        grid = board_grid(board)
        hw = grid.size
        got = [encode_move(Move(t, 1), s) for t in SPECIAL_TYPES]
        assert got == [PLANE_SPECIAL * hw + int(grid.cell_to_grid[k]) for k in range(9)]


def test_a_capture_and_a_move_to_the_same_cell_are_never_both_legal() -> None:
    # The shared ray planes rely on it: here the stack at (3, 3) blocks the slide east.
    s = build_position(
        "square8_2p", stacks={(1, 3): (1, 1), (3, 3): (2,)}, phase="movement", in_hand=0
    )
    legal = legal_moves(s)
    idx = encode_moves(legal, s)
    assert len(set(idx.tolist())) == len(legal)
    kinds = {m.type for m in legal}
    assert {"move_stack", "overtaking_capture"} <= kinds


def test_decode_rejects_an_index_no_offered_move_has() -> None:
    s = new_game("square8_2p")
    legal = legal_moves(s)
    used = set(encode_moves(legal, s).tolist())
    free = next(i for i in range(POLICY_SIZES["square8"]) if i not in used)
    with pytest.raises(ActionEncodingError, match=f"policy index {free} names 0"):
        decode_move(free, s)


def test_a_malformed_move_is_named_in_the_error() -> None:
    s = new_game("square8_2p")
    with pytest.raises(ActionEncodingError, match="move_stack"):
        encode_move(Move("move_stack", 1, to=5, frm=None), s)
    with pytest.raises(ActionEncodingError, match="not on one ray"):
        encode_move(Move("move_stack", 1, to=s.geo.index[(2, 1)], frm=0), s)
    with pytest.raises(ActionEncodingError, match="choose_line_option without formedLines"):
        encode_move(Move("choose_line_option", 1, to=0), s)


def test_encode_moves_is_the_elementwise_encoding() -> None:
    s = new_game("hex8_3p")
    legal = legal_moves(s)
    idx = encode_moves(legal, s)
    assert idx.dtype == np.int64 and idx.shape == (len(legal),)
    assert idx.tolist() == [encode_move(m, s) for m in legal]
