"""Forced elimination: a player with stacks but nothing else to do must remove a cap.

The phase is entered at the end of a turn in which the player made no real move and still
controls a stack (see turn.py); its legal moves remove the whole cap of one controlled
stack, credited to the player (``elimination.eliminate_from_stack``).
"""

from __future__ import annotations

from ringrift_tasks.rules.elimination import eliminate_from_stack
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.movement import has_any_movement_or_capture
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.placement import has_any_legal_placement
from ringrift_tasks.rules.state import GameState, cap_height


def needs_forced_elimination(s: GameState, player: int) -> bool:
    """Reference ``hasForcedEliminationAction``.

    True when the game is active, ``player`` controls at least one stack, and has neither a
    placement nor a movement/capture (which honours ``must_move_from``). Recovery slides
    are not considered.
    """
    if s.status != "active" or not s.controls_stack(player):
        return False
    return not (
        s.rings_in_hand[player] > 0 and has_any_legal_placement(s, player)
    ) and not has_any_movement_or_capture(s, player)


def _forced_move(s: GameState, player: int, cell: int, st: tuple[int, ...]) -> Move:
    cap = cap_height(st)
    pos = s.geo.pos[cell]
    return Move(
        "forced_elimination",
        player,
        to=cell,
        extra={
            "eliminatedRings": [{"player": player, "count": max(1, cap)}],
            "eliminationFromStack": {"position": pos, "capHeight": cap, "totalHeight": len(st)},
        },
    )


def forced_elimination_options(s: GameState, player: int) -> list[Move]:
    """One ``forced_elimination`` move per stack ``player`` controls (dict order), unconditionally.

    This is the reference's ``createForcedEliminationDecision`` (the options the engine
    reports when it enters the phase); the legal list is ``forced_elimination_moves``.
    """
    return [_forced_move(s, player, c, st) for c, st in s.stacks.items() if st[0] == player]


def forced_elimination_moves(s: GameState, player: int) -> list[Move]:
    """Legal moves of the ``forced_elimination`` phase (reference ``getValidMoves``).

    Empty unless ``needs_forced_elimination``; otherwise one move per controlled stack,
    removing its whole cap.
    """
    if not needs_forced_elimination(s, player):
        return []
    return forced_elimination_options(s, player)


def apply_forced_elimination(s: GameState, move: Move) -> int:
    """Apply a ``forced_elimination`` move in place: remove the whole cap of the target stack.

    Credits ``move.player`` (board_eliminated, eliminated, total). Returns the number of
    rings removed. Phase and player are untouched (the reference then checks victory and
    passes the turn to the next non-eliminated player in ``ring_placement``, clearing
    ``must_move_from`` and ``chain_capture_pos``). Raises ``IllegalMoveError`` when the
    target is not a stack of ``move.player`` (the reference silently ignores such a move).
    """
    cell = move.to
    st = s.stacks.get(cell) if cell is not None else None
    if st is None or st[0] != move.player:
        raise IllegalMoveError(
            f"phase {s.phase}, player {move.player}: forced_elimination target is not a "
            f"stack controlled by the player"
        )
    return eliminate_from_stack(s, cell, cap_height(st), move.player)


def auto_forced_elimination(s: GameState, player: int) -> bool:
    """The engine's own forced elimination for a stuck player (``applyForcedEliminationForPlayer``).

    Used when resolving an "active, no moves" state. Does nothing and returns False unless
    ``needs_forced_elimination``. Otherwise picks the controlled stack with the smallest
    positive cap (the first in dict order on ties), removes its whole cap credited to
    ``player`` and returns True. Phase and player are untouched.
    """
    if not needs_forced_elimination(s, player):
        return False
    chosen: int | None = None
    best = 1 << 30
    for cell, st in s.stacks.items():
        if st[0] != player:
            continue
        cap = cap_height(st)
        if cap < best:
            best = cap
            chosen = cell
    if chosen is None:
        return False
    eliminate_from_stack(s, chosen, best, player)
    return True
