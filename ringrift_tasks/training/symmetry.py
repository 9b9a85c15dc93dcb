"""Board symmetries for data augmentation: 8 on square boards, 12 on hex boards.

A symmetry is a permutation of the board cells that maps every movement direction to a
movement direction (rotations and reflections: the dihedral group D4 of the square, D6 of
the hexagon). The rules only look at cells through directions, rays, lines and territory
adjacency, all of which such a permutation preserves, so the transformed position is a
legal position whose legal moves are the transformed legal moves.

What a sample needs is the transformed *encoding*, and two shortcuts make that cheap:

* Input planes are cell-local features, so the planes of the transformed position are
  the original planes with their grid cells permuted (``grid_permutation``).
* Most policy indices are (cell, direction) pairs (``ai.actions``): placements,
  eliminations, ray moves and captures, recovery slides -- permuting the cell and the
  direction gives the transformed move's index (``policy_permutation``). The special
  plane is not spatial (its "cell" is the move type) and stays as it is.

Line and territory moves are anchored at the "first cell" of the line or region in the
rules' enumeration order, which a symmetry does not preserve (``ai.actions`` docstring).
Their indices map to ``-1``: a sample whose legal list holds one is augmented with the
identity only (``Symmetries.applicable``). ``tests/training/test_symmetry.py`` checks, on
positions of real games and for every symmetry, that the transformed state's legal moves
are exactly the permuted indices, that its planes are the permuted planes, and that
playing corresponding moves leads to corresponding positions (same digest).

``transform_state`` / ``transform_move`` build the transformed position itself; the
training path never needs them, the tests use them as the definition of "exact".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ringrift_tasks.ai.actions import (
    PLANE_ELIMINATE,
    PLANE_PLACE,
    PLANE_SPECIAL,
    action_layout,
)
from ringrift_tasks.ai.encoding import board_grid
from ringrift_tasks.rules.board import Geometry, geometry
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState

Coord = tuple[int, ...]


def _square_maps(size: int) -> list[tuple[Any, Any]]:
    """(cell map, direction map) pairs of D4 on a ``size`` x ``size`` board; identity first."""
    n = size - 1
    out = []
    for swap in (False, True):
        for fx in (False, True):
            for fy in (False, True):

                def cell(c: Coord, swap: bool = swap, fx: bool = fx, fy: bool = fy) -> Coord:
                    x, y = (c[1], c[0]) if swap else (c[0], c[1])
                    return (n - x if fx else x, n - y if fy else y)

                def direction(d: Coord, swap: bool = swap, fx: bool = fx, fy: bool = fy) -> Coord:
                    x, y = (d[1], d[0]) if swap else (d[0], d[1])
                    return (-x if fx else x, -y if fy else y)

                out.append((cell, direction))
    return out


def _hex_maps() -> list[tuple[Any, Any]]:
    """(cell map, direction map) pairs of D6 in cube coordinates; identity first.

    Both maps are the same linear map: rotation by 60 degrees ``(x, y, z) -> (-z, -x, -y)``
    applied ``r`` times, after the reflection ``(x, y, z) -> (x, z, y)`` when ``m``.
    """
    out = []
    for m in (False, True):
        for r in range(6):

            def lin(c: Coord, m: bool = m, r: int = r) -> Coord:
                x, y, z = (c[0], c[2], c[1]) if m else c
                for _ in range(r):
                    x, y, z = -z, -x, -y
                return (x, y, z)

            out.append((lin, lin))
    return out


@dataclass(frozen=True, slots=True)
class Symmetry:
    """One symmetry of a board: ``cells[c]`` is the image of board cell ``c``,
    ``directions[d]`` the image of direction ``d`` (``Geometry.directions`` order)."""

    board_type: str
    index: int
    cells: tuple[int, ...]
    directions: tuple[int, ...]

    @property
    def is_identity(self) -> bool:
        return self.index == 0


@dataclass(frozen=True, slots=True)
class Symmetries:
    """Every symmetry of one board type with the index tables that apply them to samples.

    ``grid[k]``: int64 array over grid cells, the source grid cell of each target cell
    (``planes[..., grid[k]]`` is the transformed plane, flattened). ``policy[k]``: int64
    array over policy indices, the image of each index, -1 where the move type has no
    exact image (lines, territory) or the cell is off the board.
    """

    board_type: str
    symmetries: tuple[Symmetry, ...]
    grid: tuple[np.ndarray, ...]
    policy: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.symmetries)

    def applicable(self, legal_indices: np.ndarray) -> bool:
        """True when every index of a legal list has an exact image (then all do)."""
        return bool(len(legal_indices) == 0 or (self.policy[1][legal_indices] >= 0).all())

    def apply_planes(self, planes: np.ndarray, k: int) -> np.ndarray:
        """Planes ``(..., H, W)`` of a position -> the planes of its image under ``k``."""
        if k == 0:
            return planes
        shape = planes.shape
        flat = planes.reshape(*shape[:-2], shape[-2] * shape[-1])
        return flat[..., self.grid[k]].reshape(shape)

    def apply_policy(self, indices: np.ndarray, k: int) -> np.ndarray:
        """Policy indices -> their images under ``k``; ``ValueError`` if one has none."""
        if k == 0:
            return indices
        out = self.policy[k][indices]
        if (out < 0).any():
            bad = int(indices[np.flatnonzero(out < 0)[0]])
            raise ValueError(f"policy index {bad} has no exact image under symmetry {k}")
        return out


def _symmetry_list(geo: Geometry) -> list[Symmetry]:
    maps = _hex_maps() if geo.is_hex else _square_maps(geo.spec.size)
    dir_index = {d: i for i, d in enumerate(geo.directions)}
    out = []
    for k, (cell_map, dir_map) in enumerate(maps):
        cells = tuple(geo.index[cell_map(c)] for c in geo.coords)
        dirs = tuple(dir_index[dir_map(d)] for d in geo.directions)
        out.append(Symmetry(geo.board_type, k, cells, dirs))
    return out


@cache
def board_symmetries(board_type: str) -> Symmetries:
    """The symmetries of ``board_type`` (8 square, 12 hex) and their index tables; cached."""
    geo = geometry(board_type)
    grid = board_grid(board_type)
    layout = action_layout(board_type)
    hw = grid.size
    c2g = grid.cell_to_grid
    syms = _symmetry_list(geo)
    grids: list[np.ndarray] = []
    policies: list[np.ndarray] = []
    for sym in syms:
        cells = np.asarray(sym.cells, dtype=np.int64)
        # Off-board grid cells (hex embedding) are zero in every plane: they map to themselves.
        src = np.arange(hw, dtype=np.int64)
        src[c2g[cells]] = c2g
        grids.append(src)
        cell_img = np.full(hw, -1, dtype=np.int64)
        cell_img[c2g] = c2g[cells]
        pol = np.full(layout.policy_size, -1, dtype=np.int64)
        for plane in range(layout.n_planes):
            base = plane * hw
            if plane == PLANE_SPECIAL:
                pol[base : base + hw] = np.arange(base, base + hw)
                continue
            if plane in (PLANE_PLACE, PLANE_ELIMINATE):
                target = plane
            elif plane >= layout.ray_plane:
                d, k = divmod(plane - layout.ray_plane, layout.max_distance)
                target = layout.ray_plane + sym.directions[d] * layout.max_distance + k
            elif plane >= layout.recovery_plane:
                d, v = divmod(plane - layout.recovery_plane, 2)
                target = layout.recovery_plane + 2 * sym.directions[d] + v
            else:
                # Territory planes and line planes (PLANE_LINE..): anchored at a first cell.
                continue
            on = cell_img >= 0
            pol[base + np.flatnonzero(on)] = target * hw + cell_img[on]
        policies.append(pol)
    for arr in (*grids, *policies):
        arr.setflags(write=False)
    return Symmetries(board_type, tuple(syms), tuple(grids), tuple(policies))


# --- the transformed position itself (the definition the tests check the tables against) --
def _map_positions(obj: Any, geo: Geometry, sym: Symmetry) -> Any:
    """Every JSON position inside ``obj`` (dicts with x, y[, z]) replaced by its image."""
    if isinstance(obj, dict):
        if "x" in obj and "y" in obj and set(obj) <= {"x", "y", "z"}:
            return geo.pos[sym.cells[geo.cell_of(obj)]]
        return {k: _map_positions(v, geo, sym) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_positions(v, geo, sym) for v in obj]
    return obj


def transform_move(move: Move, geo: Geometry, sym: Symmetry) -> Move:
    """The image of ``move`` under ``sym`` (cells and every position in its annotations)."""

    def cell(c: int | None) -> int | None:
        return None if c is None else sym.cells[c]

    extra = None if move.extra is None else _map_positions(move.extra, geo, sym)
    return Move(move.type, move.player, cell(move.to), cell(move.frm), cell(move.target), extra)


def transform_state(state: GameState, sym: Symmetry) -> GameState:
    """The image of ``state`` under ``sym``: a new state, ``state`` is left as it is."""
    geo = state.geo
    if geo.board_type != sym.board_type:
        raise ValueError(f"a {sym.board_type} symmetry applied to a {geo.board_type} position")
    c = sym.cells
    s = state.copy()
    s.stacks = {c[k]: v for k, v in state.stacks.items()}
    s.markers = {c[k]: v for k, v in state.markers.items()}
    s.collapsed = {c[k]: v for k, v in state.collapsed.items()}
    s.must_move_from = None if state.must_move_from is None else c[state.must_move_from]
    s.chain_capture_pos = None if state.chain_capture_pos is None else c[state.chain_capture_pos]
    s.turn_moves = [transform_move(m, geo, sym) for m in state.turn_moves]
    return s


def symmetry_count(board_type: str) -> int:
    """8 for square boards, 12 for hex boards."""
    return len(board_symmetries(board_type))


def augment_indices(
    syms: Symmetries, legal_indices: Sequence[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """A symmetry drawn uniformly per sample; 0 (identity) where the legal list has a move
    without an exact image."""
    out = rng.integers(0, len(syms), size=len(legal_indices))
    for i, idx in enumerate(legal_indices):
        if out[i] and not syms.applicable(idx):
            out[i] = 0
    return out
