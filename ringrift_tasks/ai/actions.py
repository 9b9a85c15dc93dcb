"""Action encoding: every legal move is one index of a spatial policy, and back.

The policy of a board is a stack of *action planes* over the encoder's grid
(``encoding.board_grid``): index ``= plane * (H * W) + grid cell``, i.e. the flattened
``(planes, H, W)`` output of a convolution. A move's grid cell is where it starts (its
``from`` cell, or the cell it acts on); its plane says what it does there. With D movement
directions (8 square, 6 hex; ``Geometry.directions`` order), L = the longest ray of the
board (square8 7, hex8 8, square19 18, hexagonal 24) and A line axes (4 square, 3 hex;
a direction and its opposite share an axis, numbered in order of first appearance):

=========================  ============================  ===================================
plane                      moves                         cell
=========================  ============================  ===================================
0                          place_ring                    ``to``
1  (special)               skip_placement,               board cell k (``SPECIAL_TYPES``
                           no_placement_action,          order): the type is the cell, so
                           swap_sides, skip_capture,     this plane is NOT spatial (keep
                           skip_recovery,                it fixed under symmetries)
                           no_movement_action,
                           no_line_action,
                           skip_territory_processing,
                           no_territory_action
2  (eliminate)             eliminate_rings_from_stack    the stack (``to``)
                           (line, territory and
                           recovery contexts),
                           forced_elimination
3 + 2g + v (territory)     choose_territory_option of a  the region's first cell (``to``)
                           region whose controllingPlayer
                           is seat group g (rotated as in
                           the encoder: 0 = the mover);
                           v = 1 if the region holds a
                           marker of that player, else 0
T + 3a + 0                 process_line, axis a          the line's first cell
T + 3a + 1                 choose_line_option that       the line's first cell
                           collapses the whole line
T + 3a + 2                 choose_line_option that       the window's first cell
                           collapses a window
R + 2d + 0                 recovery_slide in direction   ``from`` (the marker)
                           d: option 1 / fallback /
                           stack_strike
R + 2d + 1                 recovery_slide option 2       ``from``
                           (collapse ``need`` markers)
M + L*d + (k - 1)          move_stack, overtaking_       ``from``
                           capture,
                           continue_capture_segment
                           landing k steps away in
                           direction d
=========================  ============================  ===================================

with T = 11, R = T + 3A and M = R + 2D: 95 planes on square8 (policy size 6,080), 80 on
hex8 (6,480), 183 on square19 (66,063), 176 on hexagonal (110,000); ``POLICY_SIZES``.

Why each index is unique within a legal list (``tests/ai/test_actions.py`` checks it on
every step of every public trace):

* Moves and captures share the ray planes: a ``move_stack`` needs every cell up to its
  landing free of stacks, a capture landing at the same distance has a stack before it,
  so both can never be legal at once; a capture's target is the first stack on the ray
  and needs no index of its own. ``overtaking_capture`` and ``continue_capture_segment``
  are legal in different phases.
* Only one elimination per stack is offered in any phase (line reward, territory or
  recovery self-elimination and forced elimination are phase/turn-exclusive).
* Territory regions come from one detection pass per marker colour c (bordered by
  collapsed cells and c's markers, controllingPlayer c) plus one collapsed-only pass
  (controllingPlayer = the one stack controller inside). Inside one pass regions are
  disjoint, so their first cells differ. Two passes with the same controllingPlayer c can
  report different regions with the same first cell only when the collapsed-only one
  holds a marker of c (a c-marker-free collapsed-only region is also a colour-c component
  with the same cells and order, i.e. the same move); the marker bit ``v`` separates them.
* Lines are maximal runs, so two lines on one axis never share a cell; windows of one
  line start at different cells.
* Recovery: a (from, direction) pair has either line options (1, and 2 when the line is
  longer than needed) or one fallback/stack-strike move, never both.

Symmetry augmentation cannot just permute indices: line, window and region anchors are
"first cells" in the rules' enumeration order, which a reflection does not preserve.
Transform the position and its moves, then re-encode against the transformed position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ringrift_tasks.ai.encoding import board_grid
from ringrift_tasks.rules.board import BOARD_TYPES, Geometry, geometry
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.rules.turn import auto_move, legal_moves

ACTION_ENCODING_VERSION = 1

SPECIAL_TYPES: tuple[str, ...] = (
    "skip_placement",
    "no_placement_action",
    "swap_sides",
    "skip_capture",
    "skip_recovery",
    "no_movement_action",
    "no_line_action",
    "skip_territory_processing",
    "no_territory_action",
)
_SPECIAL_INDEX = {t: k for k, t in enumerate(SPECIAL_TYPES)}

PLANE_PLACE = 0
PLANE_SPECIAL = 1
PLANE_ELIMINATE = 2
PLANE_TERRITORY = 3  # + 2 * controller group + marker bit
PLANE_LINE = 11

_RAY_TYPES = frozenset({"move_stack", "overtaking_capture", "continue_capture_segment"})
_ELIMINATE_TYPES = frozenset({"eliminate_rings_from_stack", "forced_elimination"})


class ActionEncodingError(ValueError):
    """A move that has no index, or an index that names no (or more than one) legal move."""


@dataclass(frozen=True, slots=True)
class ActionLayout:
    """The action planes of one board type (see the module docstring)."""

    board_type: str
    height: int
    width: int
    n_dirs: int
    max_distance: int
    n_axes: int
    recovery_plane: int  # R
    ray_plane: int  # M
    n_planes: int

    @property
    def grid_size(self) -> int:
        return self.height * self.width

    @property
    def policy_size(self) -> int:
        """Number of policy logits: ``n_planes * height * width``."""
        return self.n_planes * self.height * self.width


class _Tables:
    """Per-board lookups: grid cell of each board cell, ray code of each (from, to) pair,
    line axis of each direction."""

    def __init__(self, geo: Geometry, layout: ActionLayout) -> None:
        n = geo.n_cells
        self.c2g: list[int] = board_grid(geo.board_type).cell_to_grid.tolist()
        # ray[frm * n + to] = d * L + (k - 1) when ``to`` is k steps from ``frm`` along d.
        ray = [-1] * (n * n)
        for c in range(n):
            for d, cells in enumerate(geo.rays[c]):
                for k, t in enumerate(cells):
                    ray[c * n + t] = d * layout.max_distance + k
        self.ray = ray
        axis_of_dir: list[int] = []
        seen: dict[tuple[int, ...], int] = {}
        for d in geo.directions:
            neg = tuple(-v for v in d)
            a = seen.get(neg)
            if a is None:
                a = seen[d] = len(seen)
            axis_of_dir.append(a)
        self.axis_of_dir = axis_of_dir


@cache
def action_layout(board_type: str) -> ActionLayout:
    """The action layout of ``board_type``; raises ``ValueError`` for an unknown board."""
    geo = geometry(board_type)
    grid = board_grid(board_type)
    n_dirs = geo.n_dirs
    max_distance = max(len(r) for rays in geo.rays for r in rays)
    n_axes = n_dirs // 2
    recovery_plane = PLANE_LINE + 3 * n_axes
    ray_plane = recovery_plane + 2 * n_dirs
    n_planes = ray_plane + n_dirs * max_distance
    return ActionLayout(
        board_type,
        grid.height,
        grid.width,
        n_dirs,
        max_distance,
        n_axes,
        recovery_plane,
        ray_plane,
        n_planes,
    )


@cache
def _tables(board_type: str) -> _Tables:
    return _Tables(geometry(board_type), action_layout(board_type))


def policy_size(board_type: str) -> int:
    """Number of policy logits of ``board_type`` (all planes times the grid)."""
    return action_layout(board_type).policy_size


POLICY_SIZES: dict[str, int] = {b: policy_size(b) for b in BOARD_TYPES}


def encode_move(move: Move, state: GameState) -> int:
    """The policy index of ``move``, a move offered in ``state``.

    Only territory moves read the position itself (the seat rotation and the region's
    markers); every other move needs just the board.

    Raises ``ActionEncodingError`` naming the move when it has no index (an unknown type,
    or a missing cell / option field).
    """
    geo = state.geo
    layout = action_layout(geo.board_type)
    t = _tables(geo.board_type)
    hw = layout.grid_size
    mtype = move.type
    try:
        if mtype in _RAY_TYPES:
            code = t.ray[move.frm * geo.n_cells + move.to]  # type: ignore[operator]
            if code < 0:
                raise ActionEncodingError(f"{move!r}: from and to are not on one ray")
            return (layout.ray_plane + code) * hw + t.c2g[move.frm]  # type: ignore[index]
        if mtype == "place_ring":
            return PLANE_PLACE * hw + t.c2g[move.to]  # type: ignore[index]
        special = _SPECIAL_INDEX.get(mtype)
        if special is not None:
            return PLANE_SPECIAL * hw + t.c2g[special]
        if mtype in _ELIMINATE_TYPES:
            return PLANE_ELIMINATE * hw + t.c2g[move.to]  # type: ignore[index]
        if mtype == "choose_territory_option":
            return _encode_territory(move, state, hw, t)
        if mtype == "recovery_slide":
            code = t.ray[move.frm * geo.n_cells + move.to]  # type: ignore[operator]
            if code < 0 or code % layout.max_distance != 0:
                raise ActionEncodingError(f"{move!r}: a recovery slide moves one step")
            d = code // layout.max_distance
            variant = 1 if (move.extra or {}).get("option") == 2 else 0
            return (layout.recovery_plane + 2 * d + variant) * hw + t.c2g[move.frm]  # type: ignore[index]
        if mtype in ("process_line", "choose_line_option"):
            return _encode_line(move, geo, layout, t)
    except (TypeError, KeyError, IndexError) as exc:
        raise ActionEncodingError(f"{move!r}: malformed for its type ({exc!r})") from None
    raise ActionEncodingError(f"{move!r}: move type {mtype!r} has no action plane")


def _encode_territory(move: Move, state: GameState, hw: int, t: _Tables) -> int:
    regions = (move.extra or {}).get("disconnectedRegions")
    if not regions:
        raise ActionEncodingError(f"{move!r}: choose_territory_option without disconnectedRegions")
    region = regions[0]
    owner = region["controllingPlayer"]
    n = state.num_players
    if not isinstance(owner, int) or not 1 <= owner <= n:
        raise ActionEncodingError(f"{move!r}: controllingPlayer {owner!r} is not a seat 1..{n}")
    geo = state.geo
    cells = [geo.cell_of(p) for p in region["spaces"]]
    if not cells:
        raise ActionEncodingError(f"{move!r}: a region needs at least one space")
    markers = state.markers
    marked = any(markers.get(c) == owner for c in cells)
    group = (owner - state.current_player) % n
    return (PLANE_TERRITORY + 2 * group + int(marked)) * hw + t.c2g[cells[0]]


def _encode_line(move: Move, geo: Geometry, layout: ActionLayout, t: _Tables) -> int:
    extra = move.extra or {}
    lines = extra.get("formedLines")
    if not lines:
        raise ActionEncodingError(f"{move!r}: {move.type} without formedLines")
    positions = lines[0]["positions"]
    if len(positions) < 2:
        raise ActionEncodingError(f"{move!r}: a line needs two or more positions")
    first = geo.cell_of(positions[0])
    code = t.ray[first * geo.n_cells + geo.cell_of(positions[1])]
    if code < 0 or code % layout.max_distance != 0:
        raise ActionEncodingError(f"{move!r}: line positions are not adjacent")
    axis = t.axis_of_dir[code // layout.max_distance]
    hw = layout.grid_size
    if move.type == "process_line":
        return (PLANE_LINE + 3 * axis) * hw + t.c2g[first]
    collapsed = extra.get("collapsedMarkers")
    if not collapsed:
        raise ActionEncodingError(f"{move!r}: choose_line_option without collapsedMarkers")
    if len(collapsed) >= len(positions):
        return (PLANE_LINE + 3 * axis + 1) * hw + t.c2g[first]
    return (PLANE_LINE + 3 * axis + 2) * hw + t.c2g[geo.cell_of(collapsed[0])]


def encode_moves(moves: Sequence[Move], state: GameState) -> np.ndarray:
    """Policy indices of ``moves`` offered in ``state`` (int64 array, same order): the
    training-target and prior-gathering form of a legal list."""
    return np.fromiter((encode_move(m, state) for m in moves), dtype=np.int64, count=len(moves))


def offered_moves(state: GameState) -> list[Move]:
    """The moves a policy index can name now: ``legal_moves(state)``, or the host's single
    bookkeeping move when that list is empty (as the traces record it)."""
    legal = legal_moves(state)
    return legal if legal else [auto_move(state)]


def decode_move(index: int, state: GameState, legal: Sequence[Move] | None = None) -> Move:
    """The unique move of ``legal`` (default ``offered_moves(state)``) with policy ``index``.

    Raises ``ActionEncodingError`` when no move, or more than one, has that index.
    """
    moves = offered_moves(state) if legal is None else legal
    idx = encode_moves(moves, state)
    hits = np.flatnonzero(idx == index)
    if len(hits) != 1:
        raise ActionEncodingError(
            f"policy index {index} names {len(hits)} of the {len(moves)} moves offered "
            f"({state.phase}, player {state.current_player}); expected exactly one"
        )
    return moves[int(hits[0])]


def describe_index(index: int, board_type: str) -> str:
    """A human-readable name of a policy index, e.g. ``ray d=2 k=3 @ (4,5)`` (debugging)."""
    layout = action_layout(board_type)
    plane, cell = divmod(index, layout.grid_size)
    row, col = divmod(cell, layout.width)
    at = f"@ (row {row}, col {col})"
    if plane >= layout.ray_plane:
        d, k = divmod(plane - layout.ray_plane, layout.max_distance)
        return f"ray d={d} k={k + 1} {at}"
    if plane >= layout.recovery_plane:
        d, v = divmod(plane - layout.recovery_plane, 2)
        return f"recovery d={d} {'option2' if v else 'option1/fallback/strike'} {at}"
    if plane >= PLANE_LINE:
        a, v = divmod(plane - PLANE_LINE, 3)
        return f"line axis={a} {('process', 'choose_all', 'choose_window')[v]} {at}"
    if plane >= PLANE_TERRITORY:
        g, v = divmod(plane - PLANE_TERRITORY, 2)
        return f"territory controller group={g} marked={v} {at}"
    return f"{('place', 'special', 'eliminate')[plane]} {at}"
