"""The board encoder: shapes, plane values on hand-built positions, seat rotation, hex grid."""

from __future__ import annotations

import numpy as np
import pytest

from ringrift_tasks.ai.encoding import (
    HISTORY_PLANES_PER_STEP,
    N_GLOBALS,
    N_PLANES,
    PLANE_CHAIN,
    PLANE_EMPTY,
    PLANE_HISTORY,
    PLANE_MUST_MOVE,
    PLANE_VALID,
    SEAT_PLANES,
    board_grid,
    encode_batch,
    encode_globals,
    encode_state,
    seat_order,
)
from ringrift_tasks.rules import ALL_CONFIGS, new_game
from ringrift_tasks.rules.state import PHASES
from tests.rules.positions import build_position

GRIDS = {"square8": 8, "hex8": 9, "square19": 19, "hexagonal": 25}
CELLS = {"square8": 64, "hex8": 61, "square19": 361, "hexagonal": 469}


def at(planes: np.ndarray, plane: int, x: int, y: int) -> float:
    """Value of a square-board plane at column ``x``, row ``y``."""
    return float(planes[plane, y, x])


@pytest.mark.parametrize("config", [c.name for c in ALL_CONFIGS])
def test_every_config_encodes_to_the_documented_shapes(config: str) -> None:
    s = new_game(config)
    planes, glob = encode_batch([s, s])
    side = GRIDS[s.geo.board_type]
    assert planes.shape == (2, N_PLANES, side, side) and planes.dtype == np.float32
    assert glob.shape == (2, N_GLOBALS) and glob.dtype == np.float32
    assert planes[0, PLANE_VALID].sum() == CELLS[s.geo.board_type]
    # The start position is empty: only the validity and empty planes are set.
    assert np.array_equal(planes[0, PLANE_EMPTY], planes[0, PLANE_VALID])
    others = [p for p in range(N_PLANES) if p not in (PLANE_VALID, PLANE_EMPTY)]
    assert not planes[0, others].any()


def test_stack_marker_and_territory_planes_of_a_hand_built_position() -> None:
    s = build_position(
        "square8_2p",
        stacks={(2, 3): (1, 1, 2), (5, 5): (2, 1, 2, 1)},
        markers={(0, 0): 2},
        collapsed={(7, 7): 1},
        player=1,
    )
    planes, _ = encode_state(s)
    me, them = 0, SEAT_PLANES
    assert at(planes, me + 0, 2, 3) == 1.0
    assert at(planes, me + 1, 2, 3) == pytest.approx(2 / 5)  # cap height 2
    assert at(planes, me + 2, 2, 3) == pytest.approx(3 / 10)  # height 3
    assert at(planes, them + 3, 2, 3) == pytest.approx(1 / 5)  # one ring of seat 2 buried
    assert at(planes, them + 0, 5, 5) == 1.0
    assert at(planes, them + 1, 5, 5) == pytest.approx(1 / 5)
    assert at(planes, me + 3, 5, 5) == pytest.approx(2 / 5)  # two of mine below its cap
    assert at(planes, them + 3, 5, 5) == pytest.approx(1 / 5)  # and one of its own
    assert at(planes, them + 4, 0, 0) == 1.0  # marker of seat 2
    assert at(planes, me + 5, 7, 7) == 1.0  # my collapsed space
    for x, y in ((2, 3), (5, 5), (0, 0), (7, 7)):
        assert at(planes, PLANE_EMPTY, x, y) == 0.0
    assert at(planes, PLANE_EMPTY, 4, 4) == 1.0
    assert planes[[me + 4, them + 5]].sum() == 0.0


def test_must_move_and_chain_capture_planes() -> None:
    s = build_position("square8_2p", stacks={(1, 1): (1,), (6, 2): (1, 1)})
    s.must_move_from = s.geo.index[(1, 1)]
    s.chain_capture_pos = s.geo.index[(6, 2)]
    planes, glob = encode_state(s)
    assert at(planes, PLANE_MUST_MOVE, 1, 1) == 1.0 and planes[PLANE_MUST_MOVE].sum() == 1.0
    assert at(planes, PLANE_CHAIN, 6, 2) == 1.0 and planes[PLANE_CHAIN].sum() == 1.0
    assert glob[37] == 1.0


def test_the_player_to_move_is_always_plane_group_zero() -> None:
    stacks = {(1, 1): (1,), (2, 2): (2,), (3, 3): (3,)}
    markers = {(4, 4): 1, (5, 5): 2, (6, 6): 3}
    by_player = {
        p: encode_state(build_position("square8_3p", stacks, markers, player=p)) for p in (1, 2, 3)
    }
    for p, (planes, _) in by_player.items():
        order = [(p - 1 + g) % 3 + 1 for g in range(3)]
        for g, seat in enumerate(order):
            assert at(planes, SEAT_PLANES * g, seat, seat) == 1.0
            assert at(planes, SEAT_PLANES * g + 4, seat + 3, seat + 3) == 1.0
        assert not planes[SEAT_PLANES * 3 : SEAT_PLANES * 4].any()  # no fourth seat
    # Player 2 to move sees exactly player 1's view with the groups rolled by one.
    p1, p2 = by_player[1][0], by_player[2][0]
    for g in range(3):
        mine = slice(SEAT_PLANES * g, SEAT_PLANES * (g + 1))
        theirs = slice(SEAT_PLANES * ((g + 1) % 3), SEAT_PLANES * ((g + 1) % 3 + 1))
        assert np.array_equal(p2[mine], p1[theirs])


def test_global_features_are_rotated_and_scaled() -> None:
    s = new_game("square8_2p")
    s.rings_in_hand[1] = 9
    s.eliminated[2] = s.victory_threshold // 2
    s.territory[2] = 3
    s.current_player = 2
    s.phase = "movement"
    glob = encode_globals(s)
    assert seat_order(s) == [2, 1]
    assert glob[0] == 1.0 and glob[1] == pytest.approx(9 / 18)  # me (2) full, seat 1 half
    assert glob[4] == pytest.approx((s.victory_threshold // 2) / s.victory_threshold)
    assert glob[8] == pytest.approx(3 / s.territory_victory_threshold)
    assert list(glob[16:20]) == [1.0, 1.0, 0.0, 0.0]
    assert glob[24 + PHASES.index("movement")] == 1.0 and glob[24:32].sum() == 1.0
    assert list(glob[32:35]) == [1.0, 0.0, 0.0]
    assert glob[36] == 1.0  # the pie rule is still open
    assert glob[40] == 1.0


def test_history_planes_hold_earlier_positions_rotated_to_the_mover() -> None:
    before2 = build_position("square8_2p", stacks={(0, 0): (1,)}, player=1)
    before1 = build_position("square8_2p", stacks={(0, 0): (1,)}, markers={(3, 0): 2})
    now = build_position("square8_2p", stacks={(0, 0): (1,), (1, 1): (2,)}, player=2)
    planes, _ = encode_state(now, [before1, before2])
    h0, h1 = PLANE_HISTORY, PLANE_HISTORY + HISTORY_PLANES_PER_STEP
    assert at(planes, h0 + 2, 0, 0) == 1.0  # seat 1 is group 1 for player 2
    assert at(planes, h0 + 1, 3, 0) == 1.0  # seat 2's marker: group 0 marker plane
    assert at(planes, h1 + 2, 0, 0) == 1.0
    assert planes[h1:].sum() == 1.0
    no_history, _ = encode_state(now)
    assert not no_history[PLANE_HISTORY:].any()


@pytest.mark.parametrize("board_type", ["hex8", "hexagonal"])
def test_hex_cells_sit_at_axial_coordinates_and_neighbours_are_grid_steps(
    board_type: str,
) -> None:
    s = new_game(f"{board_type}_2p")
    geo = s.geo
    grid = board_grid(board_type)
    r = geo.spec.radius
    for cell, (x, y, _z) in enumerate(geo.coords):
        assert grid.cell_to_grid[cell] == (y + r) * grid.width + (x + r)
    steps = set()
    for cell in range(geo.n_cells):
        for nb in geo.neighbors[cell]:
            if nb >= 0:
                a, b = divmod(int(grid.cell_to_grid[cell]), grid.width)
                c, d = divmod(int(grid.cell_to_grid[nb]), grid.width)
                steps.add((c - a, d - b))
    assert steps == {(0, 1), (1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1)}


def test_a_batch_must_be_one_board_type() -> None:
    with pytest.raises(ValueError, match="hex8"):
        encode_batch([new_game("square8_2p"), new_game("hex8_2p")])
    with pytest.raises(ValueError, match="at least one"):
        encode_batch([])
