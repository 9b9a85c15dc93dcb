"""Overtaking captures (``overtaking_capture``) and capture chains (``continue_capture_segment``).

Rules as the reference engine implements them (CaptureAggregate / core):

* From a controlled stack, walk each direction: markers are jumped, a collapsed space or
  the board edge ends the ray, and the first stack met is the only possible target. It
  can be captured (own stacks too) when the attacker's cap height is at least the
  target's cap height. Every cell beyond the target up to the next stack / collapsed
  space / edge is a landing, provided the total distance from the origin is at least the
  attacker's height. Landings may hold markers of any colour.
* Applying a segment: the attacker leaves a marker on its origin, markers jumped on both
  legs collapse (own) or flip (opponent), the target's top ring goes to the BOTTOM of the
  attacking stack, and landing on a marker removes it and eliminates the (new) top ring.
* A chain must continue while the landed stack has any capture (from the landing cell,
  for the same player, with no restriction on revisiting targets).
"""

from __future__ import annotations

from collections.abc import Iterator

from ringrift_tasks.rules.movement import interned_moves, movement_moves, path_between
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, cap_height


def capture_segments_from(s: GameState, frm: int, player: int) -> list[tuple[int, int]]:
    """``(target, landing)`` pairs of the legal capture segments of ``player``'s stack at
    ``frm``, in the reference order (direction by direction, nearest landing first).

    Empty when ``player`` does not control a stack at ``frm``.
    """
    return list(_segments(s, frm, player))


def _segments(s: GameState, frm: int, player: int) -> Iterator[tuple[int, int]]:
    """Capture segments (target, landing) from ``frm``, lazily, in ray order."""
    st = s.stacks.get(frm)
    if st is None or st[0] != player:
        return
    height = len(st)
    cap = cap_height(st)
    stacks = s.stacks
    collapsed = s.collapsed
    for ray in s.geo.rays[frm]:
        dist = 0
        for c in ray:
            dist += 1
            if c in collapsed:
                break
            target = stacks.get(c)
            if target is None:
                continue
            if cap >= cap_height(target):
                for land in ray[dist:]:
                    dist += 1
                    if land in collapsed or land in stacks:
                        break
                    if dist >= height:
                        yield (c, land)
            break


def has_capture_from(s: GameState, frm: int, player: int) -> bool:
    """True if ``player``'s stack at ``frm`` has at least one capture segment."""
    return next(_segments(s, frm, player), None) is not None


def _append_captures(s: GameState, frm: int, player: int, mtype: str, out: list[Move]) -> None:
    """Append the (interned) capture moves of type ``mtype`` from ``frm`` to ``out``."""
    geo = s.geo
    n = geo.n_cells
    table = interned_moves(geo, mtype)
    base = (player * n + frm) * n
    for tgt, land in capture_segments_from(s, frm, player):
        k = (base + tgt) * n + land
        m = table.get(k)
        if m is None:
            m = table[k] = Move(mtype, player, land, frm, tgt)
        out.append(m)


def capture_moves(s: GameState, player: int, from_cell: int | None = None) -> list[Move]:
    """``overtaking_capture`` moves of ``player`` (interned Move objects: never mutate).

    ``from_cell=None``: from every controlled stack in board (insertion) order, as
    ``enumerateAllCaptureMoves`` does. With ``from_cell``: only from that stack.

    This does NOT apply ``s.must_move_from``; the callers pick the origin:
      * movement phase: ``capture_moves(s, p, s.must_move_from)`` (i.e. all stacks when it
        is None) -- see ``movement_phase_moves``;
      * capture phase: ``capture_moves(s, p, landing of the last move_stack)`` (the
        reference uses ``moveHistory[-1].to``, not ``mustMoveFromStackKey``).
    """
    out: list[Move] = []
    if from_cell is not None:
        _append_captures(s, from_cell, player, "overtaking_capture", out)
        return out
    for cell, st in s.stacks.items():
        if st[0] == player:
            _append_captures(s, cell, player, "overtaking_capture", out)
    return out


def chain_capture_moves(s: GameState, player: int, from_cell: int) -> list[Move]:
    """``continue_capture_segment`` moves from ``from_cell`` (the chain position).

    The reference takes ``chainCapturePosition`` (falling back to the last move's landing
    when absent) and enumerates every capture from there; no target-revisit filter.
    """
    out: list[Move] = []
    _append_captures(s, from_cell, player, "continue_capture_segment", out)
    return out


def capture_phase_moves(s: GameState, player: int, attacker: int | None) -> list[Move]:
    """The reference's whole legal list in the ``capture`` phase: captures from
    ``attacker`` (the ``to`` of the last move in history) followed by ``skip_capture``.

    With ``attacker=None`` (no history) the reference returns an empty list.
    """
    if attacker is None:
        return []
    moves = capture_moves(s, player, attacker)
    moves.append(Move("skip_capture", player))
    return moves


def apply_capture_segment(s: GameState, frm: int, target: int, landing: int, player: int) -> bool:
    """Apply one capture segment (``overtaking_capture`` or ``continue_capture_segment``).

    Mutates ``s`` exactly as the reference ``mutateCapture`` + the orchestrator's capture
    case, in this order:

    1. the attacker leaves ``frm`` (dict entry deleted) and a marker of ``player`` is set on
       ``frm`` (unconditionally);
    2. every cell strictly between ``frm`` and ``target`` and strictly between ``target``
       and ``landing`` (in that order): an own marker is deleted and the cell becomes
       collapsed territory of ``player`` (appended to ``s.collapsed``); an opponent marker
       is flipped in place. ``s.territory[player]`` grows by the number collapsed;
    3. the target stack is deleted; the attacker plus the target's top ring (added at the
       BOTTOM) is set on ``landing`` (appended); if the target had more rings, the rest is
       set back on ``target`` (re-appended AFTER the landing stack in dict order);
    4. if ``landing`` holds a marker (any colour): the marker is deleted and the landing
       stack's top ring is eliminated (``s.total_rings_eliminated``,
       ``s.board_eliminated[top]``, ``s.eliminated[top]`` each +1; ``top`` is the mover);
       the reduced stack keeps its dict position;
    5. ``s.must_move_from`` follows the stack (``landing``) when it was ``frm``.

    Returns ``chainContinuationRequired``: whether ``player`` has any capture from
    ``landing`` afterwards (False too when the landing stack lost control to another
    colour after the marker elimination). Phase and ``chain_capture_pos`` are left to the
    caller. No legality check (``KeyError`` if ``frm`` or ``target`` holds no stack).
    """
    stacks = s.stacks
    markers = s.markers
    collapsed = s.collapsed
    geo = s.geo
    attacker = stacks.pop(frm)
    tgt = stacks[target]
    markers[frm] = player

    n_collapsed = 0
    for leg in (path_between(geo, frm, target), path_between(geo, target, landing)):
        for c in leg:
            owner = markers.get(c)
            if owner is None:
                continue
            if owner != player:
                markers[c] = player
            else:
                del markers[c]
                collapsed[c] = player
                n_collapsed += 1
    if n_collapsed:
        s.territory[player] += n_collapsed

    del stacks[target]
    new_stack = attacker + (tgt[0],)
    stacks[landing] = new_stack
    if len(tgt) > 1:
        stacks[target] = tgt[1:]

    if landing in markers:
        del markers[landing]
        top = new_stack[0]
        s.total_rings_eliminated += 1
        s.board_eliminated[top] += 1
        s.eliminated[top] += 1
        # The landing stack holds at least two rings, so it never empties here.
        stacks[landing] = new_stack[1:]

    if s.must_move_from is not None and s.must_move_from == frm:
        s.must_move_from = landing
    return has_capture_from(s, landing, player)


def movement_phase_moves(s: GameState, player: int) -> list[Move]:
    """``move_stack`` then ``overtaking_capture`` moves of the movement phase, both limited
    to ``s.must_move_from`` when it is set (the reference ``getValidMoves`` order).

    Not included (other modules / the orchestrator): recovery moves (``skip_recovery``,
    ``recovery_slide``, also filtered by ``must_move_from``), and the
    ``no_movement_action`` the reference returns alone when the whole list is empty.
    """
    moves = movement_moves(s, player)
    moves.extend(capture_moves(s, player, s.must_move_from))
    return moves
