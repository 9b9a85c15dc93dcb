"""Ring elimination: the one elimination primitive, and forced elimination.

SEMANTICS OF THE PRIMITIVES (other rule modules import these; keep them stable)
---------------------------------------------------------------------------------
``eliminate_from_stack(s, cell, count, credited_player) -> int``
    Removes the top ``min(count, height)`` rings of the stack at ``cell``. The stack
    keeps its dict position when rings remain (JS ``Map.set`` on an existing key) and is
    deleted when it becomes empty. It then adds the number removed to
    ``s.board_eliminated[credited_player]``, ``s.eliminated[credited_player]`` and
    ``s.total_rings_eliminated``, and returns that number. Markers, collapsed spaces,
    rings in hand and ``total_rings_in_play`` are untouched. It does not check control.

    Who is credited, by caller, in the reference:
      * line reward / territory / forced elimination (``eliminateFromStack``): the moving
        player (``move.player``), who always controls the stack there (control is
        required; a target the player does not control is silently ignored and the state
        stays unchanged, see ``apply_forced_elimination``);
      * movement / capture landing on a marker: the owner of the removed top ring, which
        is the mover (count 1);
      * territory region internal eliminations: the territory's processing player, not
        the owners of the rings inside the region (credit them to that player).
    Counts per context: line 1; territory and forced the whole cap; landing 1.

``extract_buried_ring(s, cell, player) -> bool``
    The reference's ``eliminateFromStack`` in its ``'recovery'`` context, i.e. what an
    ``eliminate_rings_from_stack`` move with ``eliminationContext: "recovery"`` does (the
    territory self-elimination of a turn that contained a recovery slide): removes the
    bottom-most ring of ``player`` lying below the top of the stack at ``cell`` (never the
    top ring), keeps the stack's dict position, and credits ``player`` with 1 in all three
    counters. Returns False (state unchanged) when the stack is missing or holds no buried
    ring of ``player`` (the reference leaves the state unchanged then too).

    NOT the same as the cost a ``recovery_slide`` itself pays: that one (in recovery.py)
    credits only ``eliminated[player]`` -- a quirk of the reference's RecoveryAggregate.
"""

from __future__ import annotations

from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, cap_height


def eliminate_from_stack(s: GameState, cell: int, count: int, credited_player: int) -> int:
    """Remove ``count`` rings from the top of the stack at ``cell``; credit ``credited_player``.

    Returns the number of rings actually removed (0 if there is no stack there).
    """
    stack = s.stacks.get(cell)
    if stack is None or count <= 0:
        return 0
    if count >= len(stack):
        count = len(stack)
        del s.stacks[cell]
    else:
        s.stacks[cell] = stack[count:]
    s.board_eliminated[credited_player] += count
    s.eliminated[credited_player] += count
    s.total_rings_eliminated += count
    return count


def extract_buried_ring(s: GameState, cell: int, player: int) -> bool:
    """Remove the bottom-most buried ring of ``player`` from the stack at ``cell``.

    Recovery's cost (RR-CANON-R113): credits ``player`` with one eliminated ring.
    """
    stack = s.stacks.get(cell)
    if stack is None:
        return False
    # Scan from the bottom; index 0 (the top ring) is never extractable.
    for i in range(len(stack) - 1, 0, -1):
        if stack[i] == player:
            s.stacks[cell] = stack[:i] + stack[i + 1 :]
            s.board_eliminated[player] += 1
            s.eliminated[player] += 1
            s.total_rings_eliminated += 1
            return True
    return False


# --- action availability (reference globalActions.ts) --------------------------------


def stack_can_act(s: GameState, cell: int, height: int, cap: int) -> bool:
    """True if a stack of ``height``/``cap`` at ``cell`` has a move or an overtaking capture.

    Mirrors the reference's ``hasAnyLegalMoveOrCaptureFromOnBoard`` (the availability check
    behind forced elimination and the no-dead-placement rule). The stack at ``cell`` itself
    is taken from the arguments, so a hypothetical stack can be tested; the rest of the
    board comes from ``s``. Markers never block; stacks and collapsed spaces do.
    """
    stacks, collapsed = s.stacks, s.collapsed
    rays = s.geo.rays[cell]
    # Non-capture move: the cell at distance ``height`` is reachable (nothing blocks on the
    # way) and holds no stack; further cells on that ray can only be worse.
    for ray in rays:
        if len(ray) < height:
            continue
        for c in ray[: height - 1]:
            if c in stacks or c in collapsed:
                break
        else:
            land = ray[height - 1]
            if land not in stacks and land not in collapsed:
                return True
    # Capture: the first stack on a ray (before any collapsed space) with cap <= ours,
    # then a clear landing at total distance >= height beyond it.
    for ray in rays:
        for i, c in enumerate(ray):
            if c in collapsed:
                break
            target = stacks.get(c)
            if target is None:
                continue
            if _cap(target) <= cap:
                # Landing steps beyond the target: 1 .. height+5 (all need a clear path).
                need = max(i + 2, height)  # 1-based total distance of the first valid landing
                for j in range(i + 1, min(len(ray), i + 1 + height + 5)):
                    lc = ray[j]
                    if lc in collapsed or lc in stacks:
                        break
                    if j + 1 >= need:
                        return True
            break
    return False


def _cap(stack: tuple[int, ...]) -> int:
    return cap_height(stack)


def has_any_movement_or_capture(s: GameState, player: int) -> bool:
    """Reference ``hasAnyGlobalMovementOrCapture``: any controlled stack can move or capture.

    Honours ``s.must_move_from`` (only that stack counts when it is set).
    """
    must = s.must_move_from
    for cell, st in s.stacks.items():
        if st[0] != player:
            continue
        if must is not None and cell != must:
            continue
        if stack_can_act(s, cell, len(st), cap_height(st)):
            return True
    return False


def has_any_placement(s: GameState, player: int) -> bool:
    """Reference ``hasGlobalPlacementAction``: some cell accepts a 1-ring placement.

    Needs rings in hand, room under the per-player ring cap (rings of the player's colour on
    the board < rings per player), and a cell that is not collapsed, holds no marker and
    would leave the resulting stack able to move or capture (no-dead-placement).
    """
    in_hand = s.rings_in_hand[player]
    if in_hand <= 0:
        return False
    on_board = 0
    for st in s.stacks.values():
        on_board += st.count(player)
    if min(s.geo.spec.rings_per_player - on_board, in_hand) <= 0:
        return False
    stacks, markers, collapsed = s.stacks, s.markers, s.collapsed
    for cell in range(s.geo.n_cells):
        if cell in collapsed or cell in markers:
            continue
        st = stacks.get(cell)
        if st is None:
            height, cap = 1, 1
        else:
            height = len(st) + 1
            cap = cap_height(st) + 1 if st[0] == player else 1
        if stack_can_act(s, cell, height, cap):
            return True
    return False


def needs_forced_elimination(s: GameState, player: int) -> bool:
    """Reference ``hasForcedEliminationAction``.

    True when the game is active, ``player`` controls at least one stack, and has neither a
    placement (``has_any_placement``) nor a movement/capture (``has_any_movement_or_capture``,
    which honours ``must_move_from``). Recovery slides are not considered.
    """
    if s.status != "active":
        return False
    if not any(st[0] == player for st in s.stacks.values()):
        return False
    return not has_any_placement(s, player) and not has_any_movement_or_capture(s, player)


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
