"""Ring placement (``place_ring``, ``skip_placement``, ``no_placement_action``).

Rules as the reference engine implements them (PlacementAggregate + ``getValidMoves``):

* One ring per ``place_ring`` (no trace carries ``placementCount``), on any cell that is
  not collapsed and holds no marker: an empty cell or the top of any stack (own or not).
* Own-colour supply: at most ``ringsPerPlayer`` rings of a colour on the board
  (``min(ringsPerPlayer - ringsOnBoard, ringsInHand) > 0``).
* No dead placement: the stack that the placement would create (height +1; cap +1 on an
  own-controlled stack, else cap 1) must have a legal move or capture afterwards.
* ``skip_placement`` needs rings in hand and either a controlled stack that can move or
  capture, or (controlling no stack) recovery eligibility.
* With no rings in hand, or when neither a placement nor a skip exists, the engine offers
  ``no_placement_action`` as the only move.
"""

from __future__ import annotations

from functools import cache

from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.movement import (
    has_any_movement_or_capture,
    interned_moves,
    stack_can_act,
)
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.recovery import is_recovery_eligible
from ringrift_tasks.rules.state import GameState, cap_height


@cache
def _scan_order(geo: Geometry) -> tuple[int, ...]:
    """Cells in the reference placement scan order: square boards column-major (x outer,
    y inner); hex boards q outer, r inner (already the geometry's order)."""
    if geo.is_hex:
        return tuple(range(geo.n_cells))
    return tuple(sorted(range(geo.n_cells), key=lambda c: geo.coords[c]))


def _supply(s: GameState, player: int) -> int:
    """Rings ``player`` may still place: ``min(ringsPerPlayer - ringsOnBoard, ringsInHand)``."""
    in_hand = s.rings_in_hand[player]
    if in_hand <= 0:
        return 0
    return min(s.geo.spec.rings_per_player - s.rings_on_board(player), in_hand)


def _placement_ok(s: GameState, cell: int, player: int) -> bool:
    """Can ``player`` place one ring on ``cell`` (supply already checked)?"""
    if cell in s.collapsed or cell in s.markers:
        return False
    existing = s.stacks.get(cell)
    if existing is None:
        return stack_can_act(s, cell, player, 1, 1)
    cap = cap_height(existing) + 1 if existing[0] == player else 1
    return stack_can_act(s, cell, player, len(existing) + 1, cap)


@cache
def _neighbour_cells(geo: Geometry) -> tuple[tuple[int, ...], ...]:
    """Per cell, its on-board movement neighbours."""
    return tuple(tuple(n for n in nbs if n >= 0) for nbs in geo.neighbors)


def placement_positions(s: GameState, player: int) -> list[int]:
    """Cells where ``player`` may place a ring, in the reference scan order."""
    if _supply(s, player) <= 0:
        return []
    stacks = s.stacks
    collapsed = s.collapsed
    markers = s.markers
    neighbours = _neighbour_cells(s.geo)
    out: list[int] = []
    for c in _scan_order(s.geo):
        if c in collapsed or c in markers:
            continue
        existing = stacks.get(c)
        if existing is None:
            # Fast path: a single new ring can step onto any free adjacent cell.
            for n in neighbours[c]:
                if n not in stacks and n not in collapsed:
                    out.append(c)
                    break
            else:
                if stack_can_act(s, c, player, 1, 1):
                    out.append(c)
            continue
        cap = cap_height(existing) + 1 if existing[0] == player else 1
        if stack_can_act(s, c, player, len(existing) + 1, cap):
            out.append(c)
    return out


def has_any_legal_placement(s: GameState, player: int) -> bool:
    """True if ``player`` has at least one legal ``place_ring`` (the reference
    ``hasGlobalPlacementAction``; phase-agnostic). Stops at the first hit."""
    if _supply(s, player) <= 0:
        return False
    return any(_placement_ok(s, c, player) for c in range(s.geo.n_cells))


def can_skip_placement(s: GameState, player: int) -> bool:
    """The reference ``evaluateSkipPlacementEligibility`` (phase/turn checks left to the
    caller): rings in hand, and a controlled stack with a move or capture (ignoring
    ``must_move_from``), or -- controlling no stack -- recovery eligibility."""
    if s.rings_in_hand[player] <= 0:
        return False
    controls = False
    for cell, st in s.stacks.items():
        if st[0] != player:
            continue
        controls = True
        if stack_can_act(s, cell, player, len(st), cap_height(st)):
            return True
    if controls:
        return False
    return is_recovery_eligible(s, player)


def placement_moves(s: GameState, player: int) -> list[Move]:
    """The reference's full legal list in the ``ring_placement`` phase (before the host
    adds ``swap_sides``): ``place_ring`` moves then ``skip_placement`` when eligible; or
    ``[no_placement_action]`` when the player has no ring in hand or the list would be
    empty. The ``place_ring`` Move objects are interned (shared): never mutate them."""
    if s.rings_in_hand[player] <= 0:
        return [Move("no_placement_action", player)]
    table = interned_moves(s.geo, "place_ring")
    base = player * s.geo.n_cells
    moves: list[Move] = []
    for c in placement_positions(s, player):
        m = table.get(base + c)
        if m is None:
            m = table[base + c] = Move("place_ring", player, c)
        moves.append(m)
    if can_skip_placement(s, player):
        moves.append(Move("skip_placement", player))
    if not moves:
        return [Move("no_placement_action", player)]
    return moves


def apply_place_ring(s: GameState, move: Move) -> None:
    """Board/hand effects of a ``place_ring`` move (the reference ``mutatePlacement``,
    count 1) for ``move.player`` on ``move.to``.

    Mutates ``s``: ``rings_in_hand[player]`` -1; any marker on ``to`` deleted; the ring
    goes on TOP of the stack at ``to`` (an existing stack keeps its dict position) or starts
    a new stack (appended). ``total_rings_in_play`` is NOT changed (the reference never
    increments it). With no ring in hand nothing changes. Phase and ``must_move_from``
    are untouched: see ``apply_place_ring_move``. No legality check.
    """
    player = move.player
    to = move.to
    if to is None:
        raise IllegalMoveError(f"phase {s.phase}, player {player}: place_ring needs a 'to' cell")
    if s.rings_in_hand[player] <= 0:
        return
    s.rings_in_hand[player] -= 1
    s.markers.pop(to, None)
    existing = s.stacks.get(to)
    s.stacks[to] = (player,) if existing is None else (player,) + existing


def apply_place_ring_move(s: GameState, move: Move) -> str:
    """``place_ring`` as the orchestrator's ``applyMoveWithChainInfo`` does it.

    Applies ``apply_place_ring``, sets ``must_move_from = move.to``, then: if the player
    has a move or capture (from that stack only) the phase becomes ``movement``;
    otherwise ``must_move_from`` is cleared and the phase becomes ``line_processing``.
    Returns the new phase. Raises ``IllegalMoveError`` for a cell that can never take a
    ring (collapsed or marker) or a player without rings in hand.
    """
    to = move.to
    player = move.player
    if to is None or to in s.collapsed or to in s.markers or s.rings_in_hand[player] <= 0:
        where = "no cell" if to is None else s.geo.keys[to]
        raise IllegalMoveError(
            f"phase {s.phase}, player {player}: cannot place a ring on {where} "
            f"(collapsed, marker or no rings in hand)"
        )
    apply_place_ring(s, move)
    s.must_move_from = to
    if has_any_movement_or_capture(s, player):
        s.phase = "movement"
    else:
        s.must_move_from = None
        s.phase = "line_processing"
    return s.phase
