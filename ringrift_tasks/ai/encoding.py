"""Board encoder: a position as feature planes on a square grid plus a global feature vector.

Everything is seen from the player to move ("me"): seats are rotated so that plane group 0
is always the player to move, group 1 the next seat in turn order, and so on. Groups of
seats that are not in the game (2-3 player games) stay zero, so one layout serves 2, 3 and
4 players (``MAX_SEATS`` = 4 groups).

The grid. Square boards use their own grid (square8: 8x8, square19: 19x19), grid cell
``(row, col) = (y, x)``. Hex boards (cube coordinates ``x + y + z = 0``, radius R) are
embedded in a ``(2R+1) x (2R+1)`` grid with axial coordinates ``q = x``, ``r = y``:
``(row, col) = (y + R, x + R)`` (hex8: 9x9, hexagonal: 25x25); grid cells that are not on
the board are zero in every plane and 0 in the validity plane. With this embedding the six
hex directions are the grid steps (0,+1), (+1,0), (+1,-1), (0,-1), (-1,0), (-1,+1), so a
3x3 convolution sees every hex neighbour. ``board_grid(board_type)`` gives the mapping.

Planes (``ENCODER_VERSION`` 1; C = 28 + 8 * HISTORY_STEPS = 44 channels), for seat group
``g`` in 0..3 (seat = the g-th seat after the player to move, in turn order):

====================  =========================================================================
plane                 value at a board cell
====================  =========================================================================
6g + 0                1 if a stack controlled by seat g (its top ring) stands here
6g + 1                cap height of that stack / 5 (clipped to 2)
6g + 2                height of that stack / 10 (clipped to 2)
6g + 3                rings of seat g below the cap of the stack here / 5 (clipped to 2): under
                      an opponent's cap, or below an opponent band in seat g's own stack
6g + 4                1 if a marker of seat g is here
6g + 5                1 if the cell is collapsed territory owned by seat g
24                    1 on every board cell (validity mask; 0 off-board on hex grids)
25                    1 on board cells with no stack, marker or collapsed space
26                    1 on the stack that must move this turn (``must_move_from``)
27                    1 on the chain-capture position (``chain_capture_pos``)
28 + 8h + 2g + 0      history step h (h = 0: the position before the last move, h = 1 the
                      one before that): 1 where seat g (rotated as now) controlled a stack
28 + 8h + 2g + 1      history step h: 1 where seat g had a marker
====================  =========================================================================

History steps that are not given (game start, or a caller without history) are zero.

Global features (``N_GLOBALS`` = 41), per seat group g where marked [g] (zero for absent seats):

======  =============================================================================
index   feature
======  =============================================================================
0+g     [g] rings in hand / rings per player at the start
4+g     [g] rings eliminated (credited) / victory threshold
8+g     [g] territory spaces / territory victory threshold
12+g    [g] rings of that colour on the board / rings per player
16+g    [g] 1 if the seat is in the game
20+g    [g] last-player-standing: exclusive rounds / rounds required, if seat g is the
        seat currently holding the exclusive streak, else 0
24..31  phase one-hot, in ``rules.state.PHASES`` order
32..34  seat count one-hot (2, 3, 4 players)
35      1 if a line reward (an elimination) is pending
36      1 if the pie rule (swap_sides) is still open in this game
37      1 if a stack must move (``must_move_from`` set)
38      moves played / the reference move cap of the config
39      1 if the line length is 3 (small boards with 3-4 players), 0 if it is 4
40      1 (constant: lets the network learn a bias through the global path)
======  =============================================================================

The encoder is pure numpy; the per-state work is a loop over the stacks and markers
(dict items), and one scatter per batch writes all values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ringrift_tasks.rules.board import BOARD_SPECS, geometry
from ringrift_tasks.rules.state import PHASES, GameState, move_cap

ENCODER_VERSION = 1
MAX_SEATS = 4
HISTORY_STEPS = 2
SEAT_PLANES = 6
PLANE_VALID = SEAT_PLANES * MAX_SEATS  # 24
PLANE_EMPTY = PLANE_VALID + 1
PLANE_MUST_MOVE = PLANE_VALID + 2
PLANE_CHAIN = PLANE_VALID + 3
PLANE_HISTORY = PLANE_VALID + 4  # 28
HISTORY_PLANES_PER_STEP = 2 * MAX_SEATS
N_PLANES = PLANE_HISTORY + HISTORY_PLANES_PER_STEP * HISTORY_STEPS  # 44
N_GLOBALS = 41

CAP_SCALE = 5.0
HEIGHT_SCALE = 10.0
BURIED_SCALE = 5.0
CLIP = 2.0

_PHASE_INDEX = {p: i for i, p in enumerate(PHASES)}


@dataclass(frozen=True, slots=True)
class BoardGrid:
    """Where the cells of one board type sit on the square grid.

    ``cell_to_grid[c]``: flat grid index (``row * width + col``) of board cell ``c``;
    ``valid``: float32 ``(height, width)`` mask, 1 on board cells.
    """

    board_type: str
    height: int
    width: int
    cell_to_grid: np.ndarray
    valid: np.ndarray

    @property
    def size(self) -> int:
        """Number of grid cells (``height * width``)."""
        return self.height * self.width


@cache
def board_grid(board_type: str) -> BoardGrid:
    """The grid embedding of ``board_type`` (see the module docstring); cached."""
    geo = geometry(board_type)
    spec = BOARD_SPECS[board_type]
    if geo.is_hex:
        r = spec.radius
        side = 2 * r + 1
        grid = [(c[1] + r) * side + (c[0] + r) for c in geo.coords]
    else:
        side = spec.size
        grid = [c[1] * side + c[0] for c in geo.coords]
    cell_to_grid = np.asarray(grid, dtype=np.int64)
    cell_to_grid.setflags(write=False)
    valid = np.zeros(side * side, dtype=np.float32)
    valid[cell_to_grid] = 1.0
    valid = valid.reshape(side, side)
    valid.setflags(write=False)
    return BoardGrid(board_type, side, side, cell_to_grid, valid)


def seat_order(state: GameState) -> list[int]:
    """Absolute seat numbers in plane-group order: the player to move first."""
    n = state.num_players
    cur = state.current_player
    return [(cur - 1 + g) % n + 1 for g in range(n)]


def encode_globals(state: GameState) -> np.ndarray:
    """The ``N_GLOBALS`` global features of one state (float32), seats rotated."""
    out = np.zeros(N_GLOBALS, dtype=np.float32)
    _fill_globals(out, state)
    return out


def _fill_globals(out: np.ndarray, s: GameState) -> None:
    spec = s.geo.spec
    supply = float(spec.rings_per_player)
    n = s.num_players
    on_board = [0] * (n + 1)
    for st in s.stacks.values():
        for owner in st:
            on_board[owner] += 1
    lps = s.lps
    streak_player = lps.consecutive_exclusive_player
    streak = lps.consecutive_exclusive_rounds / max(1, s.lps_rounds_required)
    for g, seat in enumerate(seat_order(s)):
        out[g] = s.rings_in_hand[seat] / supply
        out[4 + g] = s.eliminated[seat] / max(1, s.victory_threshold)
        out[8 + g] = s.territory[seat] / max(1, s.territory_victory_threshold)
        out[12 + g] = on_board[seat] / supply
        out[16 + g] = 1.0
        if streak_player == seat:
            out[20 + g] = streak
    out[24 + _PHASE_INDEX[s.phase]] = 1.0
    out[32 + n - 2] = 1.0
    out[35] = float(s.pending_line_reward)
    out[36] = float(s.swap_rule_enabled and not s.swap_applied and not s.p2_has_moved)
    out[37] = float(s.must_move_from is not None)
    out[38] = s.moves_played / move_cap(s.config)
    out[39] = float(s.line_length == 3)
    out[40] = 1.0


def encode_batch(
    states: Sequence[GameState],
    histories: Sequence[Sequence[GameState]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode positions of one board type.

    ``histories[i]``: the states before ``states[i]``, most recent first (only the first
    ``HISTORY_STEPS`` are used; fewer or none leave those planes zero).
    Returns ``(planes, globals)``: float32 arrays of shape ``(B, N_PLANES, H, W)`` and
    ``(B, N_GLOBALS)``. Raises ``ValueError`` for an empty batch or mixed board types.
    """
    if not states:
        raise ValueError("encode_batch needs at least one state")
    board_type = states[0].geo.board_type
    for i, s in enumerate(states):
        if s.geo.board_type != board_type:
            raise ValueError(f"states[{i}] is a {s.geo.board_type} position; batch is {board_type}")
    if histories is not None and len(histories) != len(states):
        raise ValueError(f"histories has {len(histories)} entries for {len(states)} states")
    grid = board_grid(board_type)
    hw = grid.size
    c2g = grid.cell_to_grid.tolist()
    b = len(states)
    planes = np.zeros((b, N_PLANES, hw), dtype=np.float32)
    planes[:, PLANE_VALID] = grid.valid.reshape(-1)
    planes[:, PLANE_EMPTY] = grid.valid.reshape(-1)
    glob = np.zeros((b, N_GLOBALS), dtype=np.float32)
    # Flat indices into ``planes`` and their values; written with one scatter at the end.
    idx: list[int] = []
    val: list[float] = []
    for i, s in enumerate(states):
        _fill_globals(glob[i], s)
        n = s.num_players
        cur = s.current_player
        # group[seat]: the plane group of an absolute seat number (index 0 unused).
        group = [0] + [(seat - cur) % n for seat in range(1, n + 1)]
        base = i * N_PLANES * hw
        empty = base + PLANE_EMPTY * hw
        for cell, st in s.stacks.items():
            g = c2g[cell]
            top = st[0]
            cap = 1
            for owner in st[1:]:
                if owner != top:
                    break
                cap += 1
            o = base + SEAT_PLANES * group[top] * hw + g
            idx += (o, o + hw, o + 2 * hw, empty + g)
            val += (1.0, min(cap / CAP_SCALE, CLIP), min(len(st) / HEIGHT_SCALE, CLIP), 0.0)
            if cap < len(st):
                # Below the cap: every colour's rings there are buried, the controller's too.
                buried = [0] * (n + 1)
                for owner in st[cap:]:
                    buried[owner] += 1
                for seat in range(1, n + 1):
                    if buried[seat]:
                        idx.append(base + (SEAT_PLANES * group[seat] + 3) * hw + g)
                        val.append(min(buried[seat] / BURIED_SCALE, CLIP))
        for cell, owner in s.markers.items():
            g = c2g[cell]
            idx += (base + (SEAT_PLANES * group[owner] + 4) * hw + g, empty + g)
            val += (1.0, 0.0)
        for cell, owner in s.collapsed.items():
            g = c2g[cell]
            idx += (base + (SEAT_PLANES * group[owner] + 5) * hw + g, empty + g)
            val += (1.0, 0.0)
        if s.must_move_from is not None:
            idx.append(base + PLANE_MUST_MOVE * hw + c2g[s.must_move_from])
            val.append(1.0)
        if s.chain_capture_pos is not None:
            idx.append(base + PLANE_CHAIN * hw + c2g[s.chain_capture_pos])
            val.append(1.0)
        if histories is not None:
            for h, past in enumerate(histories[i][:HISTORY_STEPS]):
                hb = base + (PLANE_HISTORY + HISTORY_PLANES_PER_STEP * h) * hw
                for cell, st in past.stacks.items():
                    idx.append(hb + 2 * group[st[0]] * hw + c2g[cell])
                for cell, owner in past.markers.items():
                    idx.append(hb + (2 * group[owner] + 1) * hw + c2g[cell])
                val += [1.0] * (len(idx) - len(val))
    if idx:
        planes.reshape(-1)[np.asarray(idx, dtype=np.int64)] = np.asarray(val, dtype=np.float32)
    return planes.reshape(b, N_PLANES, grid.height, grid.width), glob


def encode_state(
    state: GameState, history: Sequence[GameState] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """One position: ``(planes (N_PLANES, H, W), globals (N_GLOBALS,))``."""
    planes, glob = encode_batch([state], [history])
    return planes[0], glob[0]
