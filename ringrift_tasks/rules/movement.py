"""Non-capturing movement (``move_stack``) and the "can this stack act?" reachability test.

Rules as the reference engine implements them (MovementAggregate / movementLogic / core):

* A stack moves in a straight line along one of the board's directions (8 on square
  boards, 6 on hex boards) a distance of at least its height. Every cell strictly between
  origin and landing must be free of stacks and collapsed spaces; markers (any colour)
  may be jumped. The landing cell must hold no stack and not be collapsed; it may hold a
  marker of any colour. A stack or collapsed space ends the ray.
* Applying a move leaves a marker of the mover on the origin, collapses the mover's own
  markers jumped on the way (each one becomes collapsed territory of the mover and adds
  one to the mover's ``territory``) and flips opponent markers jumped on the way to the
  mover's colour. Landing on a marker (any colour) removes the marker and eliminates the
  moving stack's top ring (credited to that ring's owner, i.e. the mover).

``stack_can_act`` is the reference's ``hasAnyLegalMoveOrCaptureFromOnBoard``: it is the
basis of no-dead-placement, skip-placement eligibility and the global "has any movement
or capture" test.
"""

from __future__ import annotations

from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, cap_height

# Per board type: (a * n_cells + b) -> cells strictly between a and b on their common line.
_PATH_CACHE: dict[str, dict[int, tuple[int, ...]]] = {}


# Interned move objects, per board type and move type, keyed by a packed integer of
# (player, from, [target,] to). Moves are immutable by convention; sharing them lets the
# canonical key (``Move.key``) be computed once per distinct move instead of once per
# enumeration. Callers must never mutate a returned Move.
_INTERNED: dict[tuple[str, str], dict[int, Move]] = {}


def interned_moves(geo: Geometry, move_type: str) -> dict[int, Move]:
    """The intern table of ``move_type`` moves on ``geo``'s board type."""
    key = (geo.board_type, move_type)
    table = _INTERNED.get(key)
    if table is None:
        table = _INTERNED[key] = {}
    return table


def path_between(geo: Geometry, a: int, b: int) -> tuple[int, ...]:
    """Cells strictly between ``a`` and ``b`` on their common straight line (cached).

    Raises ``ValueError`` when ``a`` and ``b`` are not on a common movement line.
    """
    cache = _PATH_CACHE.get(geo.board_type)
    if cache is None:
        cache = _PATH_CACHE[geo.board_type] = {}
    key = a * geo.n_cells + b
    path = cache.get(key)
    if path is None:
        for ray in geo.rays[a]:
            if b in ray:
                path = ray[: ray.index(b)]
                break
        else:
            raise ValueError(
                f"{geo.keys[a]} and {geo.keys[b]} are not on a common line of a "
                f"{geo.board_type} board"
            )
        cache[key] = path
    return path


def stack_can_act(s: GameState, cell: int, player: int, height: int, cap: int) -> bool:
    """True if a stack of ``player`` at ``cell`` with the given height and cap height has
    at least one legal non-capturing move or overtaking capture.

    The stack itself is described by ``height``/``cap`` (not read from the board) so that
    placement can ask about the hypothetical stack a placement would create; every other
    cell is read from ``s``. Mirrors the reference ``hasAnyLegalMoveOrCaptureFromOnBoard``.
    """
    stacks = s.stacks
    collapsed = s.collapsed
    for ray in s.geo.rays[cell]:
        dist = 0
        for c in ray:
            dist += 1
            if c in collapsed:
                break
            target = stacks.get(c)
            if target is None:
                if dist >= height:
                    return True  # empty or marker cell far enough: a simple move
                continue
            # First stack on the ray: a capture target if our cap is high enough.
            if cap >= cap_height(target):
                # Look for a landing beyond it at total distance >= height.
                for land in ray[dist:]:
                    dist += 1
                    if land in collapsed or land in stacks:
                        break
                    if dist >= height:
                        return True
            break
    return False


def stack_at_can_act(s: GameState, cell: int, player: int) -> bool:
    """``stack_can_act`` for the stack on the board at ``cell`` (False if ``player`` does
    not control a stack there)."""
    st = s.stacks.get(cell)
    if st is None or st[0] != player:
        return False
    return stack_can_act(s, cell, player, len(st), cap_height(st))


def has_any_movement_or_capture(s: GameState, player: int, honour_must_move: bool = True) -> bool:
    """True if ``player`` has any simple move or overtaking capture from a controlled stack.

    Mirrors the reference ``hasAnyGlobalMovementOrCapture``: when ``honour_must_move`` (the
    reference always does) and ``s.must_move_from`` is set, only that stack is considered.
    """
    must = s.must_move_from if honour_must_move else None
    if must is not None:
        st = s.stacks.get(must)
        if st is None or st[0] != player:
            return False
        return stack_can_act(s, must, player, len(st), cap_height(st))
    for cell, st in s.stacks.items():
        if st[0] == player and stack_can_act(s, cell, player, len(st), cap_height(st)):
            return True
    return False


def simple_move_targets(s: GameState, frm: int) -> list[int]:
    """Landing cells of the legal simple moves of the stack at ``frm`` (any controller),
    in the reference order (direction by direction, nearest first)."""
    st = s.stacks.get(frm)
    if st is None:
        return []
    height = len(st)
    stacks = s.stacks
    collapsed = s.collapsed
    out: list[int] = []
    for ray in s.geo.rays[frm]:
        if len(ray) < height:
            continue
        # The first height-1 cells must be passable (no stack, not collapsed).
        blocked = False
        for c in ray[: height - 1]:
            if c in collapsed or c in stacks:
                blocked = True
                break
        if blocked:
            continue
        for c in ray[height - 1 :]:
            if c in collapsed or c in stacks:
                break
            out.append(c)
    return out


def _append_moves_from(s: GameState, frm: int, player: int, out: list[Move]) -> None:
    """Append the (interned) ``move_stack`` moves of the stack at ``frm`` to ``out``."""
    geo = s.geo
    table = interned_moves(geo, "move_stack")
    base = (player * geo.n_cells + frm) * geo.n_cells
    for to in simple_move_targets(s, frm):
        m = table.get(base + to)
        if m is None:
            m = table[base + to] = Move("move_stack", player, to, frm)
        out.append(m)


def movement_moves_from(s: GameState, frm: int, player: int) -> list[Move]:
    """``move_stack`` moves of ``player``'s stack at ``frm`` (empty if not controlled)."""
    st = s.stacks.get(frm)
    out: list[Move] = []
    if st is not None and st[0] == player:
        _append_moves_from(s, frm, player, out)
    return out


def movement_moves(s: GameState, player: int) -> list[Move]:
    """All ``move_stack`` moves of ``player`` in the movement phase (interned Move objects:
    never mutate them).

    Stacks are visited in board (insertion) order, as ``enumerateSimpleMovesForPlayer``
    does; when ``s.must_move_from`` is set only that stack's moves are returned (the
    ``getValidMoves`` filter after a placement).
    """
    must = s.must_move_from
    if must is not None:
        return movement_moves_from(s, must, player)
    out: list[Move] = []
    for cell, st in s.stacks.items():
        if st[0] == player:
            _append_moves_from(s, cell, player, out)
    return out


def apply_simple_movement(s: GameState, frm: int, to: int, player: int) -> None:
    """Apply a ``move_stack`` from ``frm`` to ``to`` for ``player`` (mutates ``s``).

    Side effects, in the reference order (``applySimpleMovement`` + the orchestrator's
    ``move_stack`` case):

    1. the stack leaves ``frm`` (dict entry deleted);
    2. a marker of ``player`` is set on ``frm`` unless ``frm`` is collapsed or already
       holds a marker (new dict entry, appended);
    3. for each cell strictly between: skipped if collapsed; the mover's own marker is
       deleted and the cell becomes collapsed territory of ``player`` (appended to
       ``s.collapsed``); an opponent marker is flipped to ``player`` in place;
    4. landing: if ``to`` held a marker (of anyone) before step 3, the marker is deleted,
       the stack's top ring is eliminated (``s.total_rings_eliminated``,
       ``s.board_eliminated[top]`` and ``s.eliminated[top]`` each +1, ``top`` = the top
       ring's owner = the mover) and the rest of the stack, if any, is placed on ``to``;
       otherwise the stack is placed on ``to`` (merged under an existing stack there, which
       legal moves never do);
    5. ``s.territory[player]`` grows by the number of spaces collapsed in step 3;
    6. ``s.must_move_from`` follows the stack (``to``) when it was ``frm``.

    Phase, current player and ``chain_capture_pos`` are not touched. No legality check:
    callers validate first (``frm`` must hold a stack, else ``KeyError``).
    """
    stacks = s.stacks
    markers = s.markers
    collapsed = s.collapsed
    stack = stacks.pop(frm)
    landing_marker = markers.get(to)

    if frm not in collapsed and frm not in markers:
        markers[frm] = player
    n_collapsed = 0
    for c in path_between(s.geo, frm, to):
        if c in collapsed:
            continue
        owner = markers.get(c)
        if owner is None:
            continue
        if owner == player:
            del markers[c]
            collapsed[c] = player
            n_collapsed += 1
        else:
            markers[c] = player
    if markers.get(to) == player:
        del markers[to]

    if landing_marker is not None:
        markers.pop(to, None)
        top = stack[0]
        s.total_rings_eliminated += 1
        s.board_eliminated[top] += 1
        s.eliminated[top] += 1
        if len(stack) > 1:
            stacks[to] = stack[1:]
    else:
        existing = stacks.get(to)
        stacks[to] = stack if existing is None else existing + stack

    if n_collapsed:
        s.territory[player] += n_collapsed
    if s.must_move_from is not None and s.must_move_from == frm:
        s.must_move_from = to
