"""Board geometry: cells as integer indices with precomputed neighbour and ray tables.

Every rule works on integer cell indices; positions (``{"x":..,"y":..[,"z":..]}``) and
position keys (``"x,y"`` / ``"x,y,z"``) exist only at the JSON edge. A geometry is
immutable and shared by every state of its board type (``geometry(board_type)``).

Square boards use column ``x`` and row ``y``; hex boards use cube coordinates
``(x, y, z)`` with ``x + y + z == 0`` centred on the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

BoardType = Literal["square8", "square19", "hex8", "hexagonal"]
BOARD_TYPES: tuple[BoardType, ...] = ("square8", "hex8", "square19", "hexagonal")

Coord = tuple[int, ...]

# Movement directions in the reference engine's order (the order matters wherever an
# enumeration's order is observable, e.g. the positions inside a detected line).
SQUARE_DIRECTIONS: tuple[Coord, ...] = (
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
)
HEX_DIRECTIONS: tuple[Coord, ...] = (
    (1, 0, -1),
    (0, 1, -1),
    (-1, 1, 0),
    (-1, 0, 1),
    (0, -1, 1),
    (1, -1, 0),
)
# Territory connectivity: von Neumann on squares, the six neighbours on hexes.
SQUARE_ORTHOGONAL: tuple[Coord, ...] = ((0, -1), (1, 0), (0, 1), (-1, 0))


class UnknownPositionError(ValueError):
    """A position that is not a cell of the board."""


@dataclass(frozen=True, slots=True)
class BoardSpec:
    """Constants of one board type (ring supply, size as the reference reports it)."""

    board_type: BoardType
    size: int
    total_spaces: int
    rings_per_player: int
    is_hex: bool
    radius: int  # hex radius; 0 for square boards


BOARD_SPECS: dict[str, BoardSpec] = {
    "square8": BoardSpec("square8", 8, 64, 18, False, 0),
    "square19": BoardSpec("square19", 19, 361, 72, False, 0),
    "hex8": BoardSpec("hex8", 9, 61, 18, True, 4),
    "hexagonal": BoardSpec("hexagonal", 25, 469, 96, True, 12),
}


class Geometry:
    """Cells, keys and adjacency tables of one board type.

    Attributes (all indexed by cell):
      ``coords``: coordinate tuple; ``keys``: position key string; ``pos``: JSON position dict
      (shared; never mutate); ``rays[c][d]``: cells walked from ``c`` in direction ``d``
      (excluding ``c``) until the edge; ``neighbors[c]``: movement-adjacent cells, by direction
      (``-1`` where off-board); ``territory_neighbors[c]``: territory-adjacent cells.
    """

    def __init__(self, spec: BoardSpec) -> None:
        self.spec = spec
        self.board_type: str = spec.board_type
        self.is_hex = spec.is_hex
        coords: list[Coord]
        if spec.is_hex:
            r = spec.radius
            coords = [
                (x, y, -x - y)
                for x in range(-r, r + 1)
                for y in range(-r, r + 1)
                if abs(-x - y) <= r
            ]
            self.directions = HEX_DIRECTIONS
            tdirs = HEX_DIRECTIONS
        else:
            coords = [(x, y) for y in range(spec.size) for x in range(spec.size)]
            self.directions = SQUARE_DIRECTIONS
            tdirs = SQUARE_ORTHOGONAL
        assert len(coords) == spec.total_spaces
        self.n_cells = len(coords)
        self.coords: tuple[Coord, ...] = tuple(coords)
        self.index: dict[Coord, int] = {c: i for i, c in enumerate(coords)}
        self.keys: tuple[str, ...] = tuple(",".join(str(v) for v in c) for c in coords)
        self.key_index: dict[str, int] = {k: i for i, k in enumerate(self.keys)}
        self.pos: tuple[dict[str, int], ...] = tuple(
            dict(zip(("x", "y", "z"), c, strict=False)) for c in coords
        )
        n_dirs = len(self.directions)
        self.n_dirs = n_dirs
        rays: list[tuple[tuple[int, ...], ...]] = []
        neighbors: list[tuple[int, ...]] = []
        for c in coords:
            per_dir = []
            nb = []
            for d in self.directions:
                ray = []
                cur = tuple(a + b for a, b in zip(c, d, strict=True))
                while cur in self.index:
                    ray.append(self.index[cur])
                    cur = tuple(a + b for a, b in zip(cur, d, strict=True))
                per_dir.append(tuple(ray))
                nb.append(ray[0] if ray else -1)
            rays.append(tuple(per_dir))
            neighbors.append(tuple(nb))
        self.rays: tuple[tuple[tuple[int, ...], ...], ...] = tuple(rays)
        self.neighbors: tuple[tuple[int, ...], ...] = tuple(neighbors)
        tn: list[tuple[int, ...]] = []
        for c in coords:
            out = []
            for d in tdirs:
                cur = tuple(a + b for a, b in zip(c, d, strict=True))
                if cur in self.index:
                    out.append(self.index[cur])
            tn.append(tuple(out))
        self.territory_neighbors: tuple[tuple[int, ...], ...] = tuple(tn)

    # --- JSON edge -------------------------------------------------------------------
    def cell_of(self, pos: object) -> int:
        """Cell index of a JSON position; raises ``UnknownPositionError`` naming it."""
        if not isinstance(pos, dict):
            raise UnknownPositionError(f"position must be an object, got {pos!r}")
        try:
            if self.is_hex:
                x, y = int(pos["x"]), int(pos["y"])
                z = int(pos["z"]) if "z" in pos else -x - y
                key: Coord = (x, y, z)
            else:
                key = (int(pos["x"]), int(pos["y"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UnknownPositionError(f"malformed position {pos!r}: {exc}") from None
        cell = self.index.get(key)
        if cell is None:
            raise UnknownPositionError(f"position {pos!r} is not on a {self.board_type} board")
        return cell

    def cell_of_key(self, key: str) -> int:
        """Cell index of a position key such as ``"3,4"`` or ``"1,-2,1"``."""
        cell = self.key_index.get(key)
        if cell is None:
            raise UnknownPositionError(f"position key {key!r} is not on a {self.board_type} board")
        return cell

    def direction_between(self, a: int, b: int) -> int:
        """Index of the straight-line direction from ``a`` to ``b``, or -1 if none."""
        for d, ray in enumerate(self.rays[a]):
            if b in ray:
                return d
        return -1

    def distance(self, a: int, b: int) -> int:
        """Movement distance (Chebyshev on squares, cube distance on hexes)."""
        ca, cb = self.coords[a], self.coords[b]
        if self.is_hex:
            return max(abs(ca[0] - cb[0]), abs(ca[1] - cb[1]), abs(ca[2] - cb[2]))
        return max(abs(ca[0] - cb[0]), abs(ca[1] - cb[1]))


@cache
def geometry(board_type: str) -> Geometry:
    """The shared geometry of ``board_type``; raises ``ValueError`` for an unknown type."""
    spec = BOARD_SPECS.get(board_type)
    if spec is None:
        raise ValueError(f"unknown board type {board_type!r}; expected one of {list(BOARD_SPECS)}")
    return Geometry(spec)
