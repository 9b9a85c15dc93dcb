"""Territory: disconnected-region detection and the territory_processing decisions.

Reference behaviour reproduced here (facts, not code, of the TS engine):

Detection (``find_disconnected_regions``)
  * ``active`` = every player owning any ring on the board (buried rings count). No ring
    on the board -> no region.
  * One pass per marker colour, colours in first-seen order of the marker map, then one
    collapsed-only pass. Each pass scans the cells in the reference order (square: column
    ``x`` outer, row ``y`` inner; hex: ``x`` outer, ``y`` inner) and flood-fills (BFS,
    territory adjacency in the reference neighbour order) each not-yet-visited non-border
    cell. Borders: collapsed cells, plus in a colour pass the markers of that colour.
  * A component is a region when the number of distinct stack *controllers* inside it is
    smaller than the number of active players (a size comparison, not a subset test).
    Colour pass: ``controllingPlayer`` = the border colour. Collapsed-only pass: kept
    only when exactly one controller is inside; that player is ``controllingPlayer``.
  * The same cells may be reported more than once (by several passes).

Processability (Q23)
  A region is offered to ``player`` (whoever its ``controllingPlayer`` is) iff ``player``
  can pay the self-elimination outside it: normally, ``player`` controls a stack outside
  the region; in a turn that contained a ``recovery_slide`` by ``player``, some stack
  outside the region holds a buried (non-top) ring of ``player``.

Processing a region (``apply_choose_territory_option``)
  Border = markers (any colour) territory-adjacent to the region, then, except on the
  ``hexagonal`` board, grown through markers by "Moore" steps (the 8 square offsets in
  (x, y); on hex8 that includes the two distance-2 offsets (+1,+1) and (-1,-1)), never
  entering the region; sorted (square: y then x; hex: x, y, z). Every stack inside the
  region is removed and its whole height credited to the *moving* player (board
  eliminated, player eliminated, total); region cells lose their markers and become
  collapsed for the mover, then the border markers do too. Territory +=
  len(region) + len(border). A self-elimination outside the region becomes pending.

Self-elimination (``apply_territory_elimination``)
  ``eliminationContext`` "territory": the whole cap of a stack the player controls;
  "recovery": the bottom-most buried ring of the player from any stack. Credited to the
  moving player.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, cap_height

__all__ = [
    "Region",
    "TerritoryTables",
    "apply_choose_territory_option",
    "apply_territory_elimination",
    "border_markers",
    "find_disconnected_regions",
    "has_processable_region",
    "pending_territory_region",
    "processable_regions",
    "region_cells_of_move",
    "region_json",
    "territory_elimination_moves",
    "territory_phase_moves",
    "turn_includes_recovery",
]

# Reference neighbour orders for territory flood fill (differ from board.py's orders).
_SQUARE_TERRITORY_DIRS = ((0, 1), (1, 0), (0, -1), (-1, 0))
_HEX_TERRITORY_DIRS = ((1, 0, -1), (1, -1, 0), (0, -1, 1), (-1, 0, 1), (-1, 1, 0), (0, 1, -1))
# Border expansion offsets in (x, y) (the square Moore directions, also applied on hex8).
_MOORE_XY = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))


class Region(NamedTuple):
    """A disconnected region: its cells in the engine's order and its controlling player."""

    cells: tuple[int, ...]
    controlling_player: int


class TerritoryTables:
    """Per-board-type lookup tables in the reference engine's orders.

    Flood fills run on bitboards: cell ``c`` is bit ``bit[c] = xi * W + yi`` with
    ``xi``/``yi`` the zero-based column/row (hex: ``x + r`` / ``y + r``) and ``W`` one
    more than the board width, so the spare column stops row wrap-around. The lowest
    set bit of a set of cells is then its first cell in the reference scan order
    (column ``x`` outer, row ``y`` inner, on both board families).
    """

    __slots__ = ("scan", "nbrs", "moore", "sort_key", "bit", "cell_at", "shifts", "all_bits")

    def __init__(self, geo: Geometry) -> None:
        index = geo.index
        coords = geo.coords
        tdirs: tuple[tuple[int, ...], ...]
        if geo.is_hex:
            off = geo.spec.radius
            width = 2 * off + 1
            tdirs = _HEX_TERRITORY_DIRS
        else:
            off = 0
            width = geo.spec.size
            tdirs = _SQUARE_TERRITORY_DIRS
        w = width + 1
        self.bit: tuple[int, ...] = tuple((co[0] + off) * w + (co[1] + off) for co in coords)
        cell_at: dict[int, int] = {b: c for c, b in enumerate(self.bit)}
        self.cell_at = cell_at
        self.all_bits = sum(1 << b for b in self.bit)
        # (dx, dy) -> bit offset dx * W + dy; hex adds the (1,-1)/(-1,1) diagonals.
        self.shifts: tuple[int, ...] = (1, w, w - 1) if geo.is_hex else (1, w)
        self.scan: tuple[int, ...] = tuple(sorted(range(geo.n_cells), key=self.bit.__getitem__))
        nbrs = []
        for co in coords:
            out = []
            for d in tdirs:
                n = index.get(tuple(a + b for a, b in zip(co, d, strict=True)))
                if n is not None:
                    out.append(n)
            nbrs.append(tuple(out))
        self.nbrs: tuple[tuple[int, ...], ...] = tuple(nbrs)
        moore: list[tuple[int, ...]] = []
        for co in coords:
            out = []
            if geo.board_type != "hexagonal":
                for dx, dy in _MOORE_XY:
                    nx, ny = co[0] + dx, co[1] + dy
                    key = (nx, ny, -nx - ny) if geo.is_hex else (nx, ny)
                    n = index.get(key)
                    if n is not None:
                        out.append(n)
            moore.append(tuple(out))
        self.moore: tuple[tuple[int, ...], ...] = tuple(moore)
        # Stable border order: square row-major (y, x); hex cube-lexicographic (x, y, z).
        if geo.is_hex:
            self.sort_key: tuple[tuple[int, ...], ...] = coords
        else:
            self.sort_key = tuple((co[1], co[0]) for co in coords)


_TABLES: dict[str, TerritoryTables] = {}


def _tables(geo: Geometry) -> TerritoryTables:
    t = _TABLES.get(geo.board_type)
    if t is None:
        t = _TABLES[geo.board_type] = TerritoryTables(geo)
    return t


# --------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------


def _bfs_order(t: TerritoryTables, start: int, open_bits: int) -> tuple[int, ...]:
    """The reference flood-fill order of the component of ``start``.

    The reference BFS marks on dequeue and may enqueue duplicates; its order of first
    visits equals this mark-on-enqueue BFS (neighbours in the reference order).
    """
    bit = t.bit
    nbrs = t.nbrs
    seen = {start}
    comp = [start]
    i = 0
    while i < len(comp):
        for n in nbrs[comp[i]]:
            if n not in seen:
                seen.add(n)
                if (open_bits >> bit[n]) & 1:
                    comp.append(n)
        i += 1
    return tuple(comp)


def _scan_pass(
    t: TerritoryTables,
    open_bits: int,
    ctrl_masks: list[int],
    n_active: int,
    need_one: bool,
    colour: int,
    out: list[Region],
) -> None:
    """One detection pass: append the qualifying components of ``open_bits``, scan order.

    ``ctrl_masks``: one bitmask per stack controller. ``need_one``: collapsed-only pass
    (exactly one controller inside; it becomes ``controllingPlayer``).
    """
    sw = t.shifts[1]
    sd = t.shifts[2] if len(t.shifts) > 2 else 0
    remaining = open_bits
    while remaining:
        seed = remaining & -remaining
        comp = seed
        if sd:
            while True:
                grow = (
                    comp
                    | (comp << 1)
                    | (comp >> 1)
                    | (comp << sw)
                    | (comp >> sw)
                    | (comp << sd)
                    | (comp >> sd)
                ) & open_bits
                if grow == comp:
                    break
                comp = grow
        else:
            while True:
                grow = (comp | (comp << 1) | (comp >> 1) | (comp << sw) | (comp >> sw)) & open_bits
                if grow == comp:
                    break
                comp = grow
        remaining &= ~comp
        inside = 0
        sole = 0
        for p, m in enumerate(ctrl_masks):
            if m & comp:
                inside += 1
                sole = p
        if inside < n_active and (not need_one or inside == 1):
            start = t.cell_at[seed.bit_length() - 1]
            out.append(Region(_bfs_order(t, start, open_bits), sole if need_one else colour))


def find_disconnected_regions(s: GameState) -> list[Region]:
    """Every disconnected region of the board, in the reference engine's order.

    Not filtered by player or processability (see ``processable_regions``).
    """
    stacks = s.stacks
    if not stacks:
        return []
    t = _tables(s.geo)
    bit = t.bit
    n = s.num_players
    ctrl = [0] * (n + 1)
    active = 0
    for c, st in stacks.items():
        ctrl[st[0]] |= 1 << bit[c]
        for p in st:
            active |= 1 << p
    n_active = bin(active).count("1")
    collapsed_bits = 0
    for c in s.collapsed:
        collapsed_bits |= 1 << bit[c]
    open_base = t.all_bits & ~collapsed_bits
    # Marker colours in first-seen order of the marker map (JS Set over Map values).
    by_colour: dict[int, int] = {}
    for c, p in s.markers.items():
        by_colour[p] = by_colour.get(p, 0) | (1 << bit[c])
    regions: list[Region] = []
    for colour, mbits in by_colour.items():
        _scan_pass(t, open_base & ~mbits, ctrl, n_active, False, colour, regions)
    # Collapsed-only pass: every component is bounded by collapsed cells and edges only.
    _scan_pass(t, open_base, ctrl, n_active, True, 0, regions)
    return regions


def _can_pay_outside(s: GameState, cells: Iterable[int], player: int, recovery: bool) -> bool:
    """Q23: can ``player`` pay the self-elimination from a stack outside ``cells``?"""
    inside = cells if isinstance(cells, (set, frozenset)) else set(cells)
    if recovery:
        for c, st in s.stacks.items():
            if c not in inside and player in st[1:]:
                return True
        return False
    for c, st in s.stacks.items():
        if st[0] == player and c not in inside:
            return True
    return False


def processable_regions(s: GameState, player: int, recovery: bool | str = False) -> list[Region]:
    """Disconnected regions that ``player`` may process now (Q23 filter), engine order.

    ``recovery``: True (or the context string ``"recovery"``) when the current turn of
    ``player`` contained a ``recovery_slide`` (see ``turn_includes_recovery``);
    ``"territory"`` / False otherwise.
    """
    recovery = _is_recovery(recovery)
    # Cheap exit: without any possible payment anywhere no region is processable.
    stacks = s.stacks
    if recovery:
        if not any(player in st[1:] for st in stacks.values()):
            return []
    elif not any(st[0] == player for st in stacks.values()):
        return []
    regions = find_disconnected_regions(s)
    if not regions:
        return regions
    return [r for r in regions if _can_pay_outside(s, r.cells, player, recovery)]


def has_processable_region(s: GameState, player: int, recovery: bool | str = False) -> bool:
    """True iff ``processable_regions(s, player, recovery)`` is non-empty."""
    return bool(processable_regions(s, player, recovery))


# --------------------------------------------------------------------------------------
# Turn facts the reference reads from the move history
# --------------------------------------------------------------------------------------


def turn_includes_recovery(moves: Sequence[Move], player: int) -> bool:
    """Reference ``didCurrentTurnIncludeRecoverySlide`` over a move history.

    Walks back from the last move while the mover is ``player``. Pass the state's
    ``turn_moves`` (or the full history; only the trailing run of ``player`` matters).
    """
    for m in reversed(moves):
        if m.player != player:
            return False
        if m.type == "recovery_slide":
            return True
    return False


def _is_recovery(ctx: bool | str | None) -> bool:
    if isinstance(ctx, str):
        if ctx not in ("recovery", "territory"):
            raise ValueError(f"territory context must be recovery or territory, got {ctx!r}")
        return ctx == "recovery"
    return bool(ctx)


def _turn_tail(s: GameState, player: int) -> Sequence[Move]:
    """The trailing run of ``player``'s moves in the state's turn log (``turn_moves``)."""
    tm = s.turn_moves
    return tm if tm and tm[-1].player == player else ()


def region_cells_of_move(geo: Geometry, move: Move) -> tuple[int, ...] | None:
    """Cells of ``disconnectedRegions[0]`` of a ``choose_territory_option`` move, or None."""
    regions = (move.extra or {}).get("disconnectedRegions")
    if not regions:
        return None
    spaces = regions[0].get("spaces") or []
    return tuple(geo.cell_of(p) for p in spaces)


def pending_territory_region(
    geo: Geometry, moves: Sequence[Move], player: int
) -> tuple[int, ...] | None:
    """Reference ``getPendingTerritorySelfEliminationRegion``: the region whose
    self-elimination is outstanding, i.e. the region of the LAST move in the history
    when that move is a ``choose_territory_option`` by ``player``; else None.
    """
    if not moves:
        return None
    last = moves[-1]
    if last.player != player or last.type != "choose_territory_option":
        return None
    return region_cells_of_move(geo, last)


# --------------------------------------------------------------------------------------
# Move generation
# --------------------------------------------------------------------------------------


def region_json(geo: Geometry, region: Region) -> dict[str, Any]:
    """The JSON ``disconnectedRegions`` entry of a region (positions shared from geo)."""
    pos = geo.pos
    return {
        "spaces": [pos[c] for c in region.cells],
        "controllingPlayer": region.controlling_player,
        "isDisconnected": True,
    }


def territory_elimination_moves(
    s: GameState,
    player: int,
    region_cells: Iterable[int] | None = None,
    recovery: bool | str = False,
    *,
    processed_region: dict[str, Any] | None = None,
    context: str | None = None,
) -> list[Move]:
    """The self-elimination moves after processing a region (stack-map order).

    The region is ``region_cells`` or, alternatively, ``processed_region`` (a JSON
    ``disconnectedRegions`` entry); none excludes nothing. ``recovery`` / ``context``:
    "territory" (default) gives one move per stack controlled by ``player`` outside the
    region (the whole cap); "recovery" one move per stack outside the region holding a
    buried ring of ``player`` (one ring), whoever controls it.
    """
    if context is not None:
        recovery = context
    recovery = _is_recovery(recovery)
    if region_cells is None and processed_region is not None:
        geo = s.geo
        region_cells = [geo.cell_of(p) for p in processed_region.get("spaces") or ()]
    inside = set(region_cells or ())
    pos = s.geo.pos
    ctx = "recovery" if recovery else "territory"
    moves: list[Move] = []
    for c, st in s.stacks.items():
        if c in inside:
            continue
        if recovery:
            if player not in st[1:]:
                continue
        elif st[0] != player:
            continue
        cap = cap_height(st)
        count = 1 if recovery else cap
        p = pos[c]
        moves.append(
            Move(
                "eliminate_rings_from_stack",
                player,
                to=c,
                extra={
                    "eliminatedRings": [{"player": player, "count": count}],
                    "eliminationFromStack": {
                        "position": p,
                        "capHeight": cap,
                        "totalHeight": len(st),
                    },
                    "eliminationContext": ctx,
                },
            )
        )
    return moves


_FROM_STATE: Any = object()


def territory_phase_moves(
    s: GameState,
    player: int,
    pending_region: Sequence[int] | None = _FROM_STATE,
    recovery: bool | str | None = None,
) -> list[Move]:
    """The engine's ``getValidMoves`` list in territory_processing (before host dedupe/sort).

    ``pending_region``: cells of the region processed by ``player``'s last move when
    that move was a ``choose_territory_option`` (see ``pending_territory_region``), else
    None; then only the self-elimination moves are legal. Otherwise one
    ``choose_territory_option`` per processable region, plus
    ``skip_territory_processing`` when there is at least one. ``recovery``: see
    ``turn_includes_recovery``. Both default to what ``s.turn_moves`` says. An empty
    list means the host inserts ``no_territory_action``.
    """
    if pending_region is _FROM_STATE or recovery is None:
        tail = _turn_tail(s, player)
        if pending_region is _FROM_STATE:
            pending_region = pending_territory_region(s.geo, tail, player)
        if recovery is None:
            recovery = turn_includes_recovery(tail, player)
    recovery = _is_recovery(recovery)
    if pending_region is not None:
        return territory_elimination_moves(s, player, pending_region, recovery)
    geo = s.geo
    moves: list[Move] = []
    # The reference reports a region once per marker-colour scan that bounds it, so the
    # same (cells, controller) can come back several times: offer each choice once.
    seen: set[tuple[tuple[int, ...], int]] = set()
    for region in processable_regions(s, player, recovery):
        ident = (tuple(region.cells), region.controlling_player)
        if ident in seen:
            continue
        seen.add(ident)
        moves.append(
            Move(
                "choose_territory_option",
                player,
                to=region.cells[0],
                extra={"disconnectedRegions": [region_json(geo, region)]},
            )
        )
    if moves:
        moves.append(Move("skip_territory_processing", player))
    return moves


# --------------------------------------------------------------------------------------
# Application
# --------------------------------------------------------------------------------------


def border_markers(s: GameState, region_cells: Sequence[int]) -> list[int]:
    """Marker cells collapsed with a region, in the reference's stable order."""
    t = _tables(s.geo)
    markers = s.markers
    inside = set(region_cells)
    found: dict[int, None] = {}
    for c in region_cells:
        for n in t.nbrs[c]:
            if n not in inside and n in markers:
                found[n] = None
    if not found:
        return []
    moore = t.moore
    queue = list(found)
    i = 0
    while i < len(queue):
        for n in moore[queue[i]]:
            if n not in found and n not in inside and n in markers:
                found[n] = None
                queue.append(n)
        i += 1
    key = t.sort_key
    return sorted(found, key=key.__getitem__)


def apply_choose_territory_option(
    s: GameState, move: Move, recovery: bool | str | None = None
) -> tuple[int, ...]:
    """Process the region of a ``choose_territory_option`` move for ``move.player``.

    ``recovery`` (Q23 context; defaults to what ``s.turn_moves`` says, the move itself
    not yet recorded there) only decides whether the move is allowed. Mutates ``s``
    (board, ``territory``, ``eliminated``, ``board_eliminated``,
    ``total_rings_eliminated``); does not touch phase or player. Returns the region's
    cells: the caller records them as the pending self-elimination region.
    Raises ``IllegalMoveError`` when the move names no region or the player cannot pay
    the self-elimination outside it (the reference would leave the state unchanged).
    """
    player = move.player
    geo = s.geo
    if recovery is None:
        recovery = turn_includes_recovery(_turn_tail(s, player), player)
    recovery = _is_recovery(recovery)
    try:
        cells = region_cells_of_move(geo, move)
    except ValueError as exc:
        raise IllegalMoveError(
            f"{s.phase}: player {player}: choose_territory_option has a bad region: {exc}"
        ) from None
    if not cells:
        raise IllegalMoveError(
            f"{s.phase}: player {player}: choose_territory_option without disconnectedRegions"
        )
    if not _can_pay_outside(s, cells, player, recovery):
        raise IllegalMoveError(
            f"{s.phase}: player {player}: cannot process region at {geo.keys[cells[0]]}: "
            "no self-elimination target outside it"
        )
    border = border_markers(s, cells)
    stacks = s.stacks
    markers = s.markers
    collapsed = s.collapsed
    internal = 0
    for c in cells:
        st = stacks.pop(c, None)
        if st is not None:
            internal += len(st)
    for c in cells:
        markers.pop(c, None)
        collapsed[c] = player
    region_set = set(cells)
    for c in border:
        if c in region_set:
            continue
        markers.pop(c, None)
        stacks.pop(c, None)
        collapsed[c] = player
    s.territory[player] += len(cells) + len(border)
    if internal:
        s.board_eliminated[player] += internal
        s.eliminated[player] += internal
        s.total_rings_eliminated += internal
    return cells


def apply_territory_elimination(s: GameState, move: Move) -> int:
    """Apply a territory-phase ``eliminate_rings_from_stack`` move; returns rings removed.

    Context from ``move.extra["eliminationContext"]`` (default "territory"):
    "territory" removes the whole cap of a stack ``move.player`` controls; "recovery"
    extracts the bottom-most buried ring of ``move.player``. Credits ``move.player``.
    Raises ``IllegalMoveError`` when the target is missing or not eligible (the
    reference would leave the state unchanged).
    """
    player = move.player
    ctx = (move.extra or {}).get("eliminationContext", "territory")
    cell = move.to
    st = s.stacks.get(cell) if cell is not None else None
    where = s.geo.keys[cell] if cell is not None else "?"
    if st is None:
        raise IllegalMoveError(f"{s.phase}: player {player}: no stack at {where} to eliminate from")
    if ctx == "recovery":
        for i in range(len(st) - 1, 0, -1):
            if st[i] == player:
                s.stacks[cell] = st[:i] + st[i + 1 :]
                s.board_eliminated[player] += 1
                s.eliminated[player] += 1
                s.total_rings_eliminated += 1
                return 1
        raise IllegalMoveError(
            f"{s.phase}: player {player}: stack at {where} holds no buried ring of the player"
        )
    if ctx not in ("territory", "forced"):
        raise IllegalMoveError(
            f"{s.phase}: player {player}: eliminationContext {ctx!r} is not a territory context"
        )
    if st[0] != player:
        raise IllegalMoveError(
            f"{s.phase}: player {player}: stack at {where} is controlled by player {st[0]}"
        )
    n = cap_height(st)
    if n >= len(st):
        del s.stacks[cell]
    else:
        s.stacks[cell] = st[n:]
    s.board_eliminated[player] += n
    s.eliminated[player] += n
    s.total_rings_eliminated += n
    return n
