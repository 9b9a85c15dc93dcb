"""Recovery slides (RR-CANON-R110..R115): the comeback move of a player without stacks.

A player is *recovery-eligible* when they control no stack, own at least one marker and
have at least one ring buried in some stack (rings in hand do not matter). In the movement
phase such a player is offered ``skip_recovery`` plus ``recovery_slide`` moves: slide one
of their markers to an adjacent cell.

Modes, as the reference offers them:
  * ``line``: the slide lands on an empty cell and makes a line of at least the required
    length through the landing cell. If any such slide exists, only line slides are
    offered (plus ``skip_recovery``). An exact-length line gives one move (``option`` 1);
    an overlength line gives two: ``option`` 2 (collapse ``collapsePositions``, the first
    required-length cells of the line, free) and ``option`` 1 (collapse all, pay one
    buried ring).
  * otherwise ``fallback`` (slide to any adjacent empty cell) and ``stack_strike`` (slide
    onto an adjacent stack: the marker is removed and the stack loses its top ring,
    credited to the recovering player); both pay one buried ring.
Every offered move carries ``extractionStacks: []``; when applied, an empty list is filled
with the first stack (dict order = the reference's Map order) holding a buried ring of the
player. Paying a buried ring removes the player's *bottom-most* ring of that stack and
increments only ``eliminated[player]`` (players[].eliminatedRings) -- NOT
``board_eliminated`` nor ``total_rings_eliminated`` (a quirk of the reference).

Reference quirk reproduced on apply: the line is re-detected with the *board's base* line
length (square8 3, others 4) taking the first line direction that reaches it; if that line
is shorter than the required length (or none is found) the reference raises
"Recovery slide did not form a valid line" although it offered the move (parity README
§3.6). That happens e.g. for any exact-length-3 recovery line on hex8 with 3-4 players.
"""

from __future__ import annotations

from typing import Any

from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.elimination import eliminate_from_stack
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState

# Line directions the recovery code scans (forward vectors), in the reference's order.
_SQUARE_LINE_DIRS = ((1, 0), (0, 1), (1, 1), (1, -1))
_HEX_LINE_DIRS = ((1, 0, -1), (1, -1, 0), (0, -1, 1))
# Board base line length (BOARD_CONFIGS.lineLength), used by the apply-time re-detection.
_BASE_LINE_LENGTH = {"square8": 3, "square19": 4, "hex8": 4, "hexagonal": 4}

_line_dir_cache: dict[str, tuple[tuple[int, int], ...]] = {}


def _line_dirs(geo: Geometry) -> tuple[tuple[int, int], ...]:
    """(forward, backward) direction-index pairs of the recovery line directions."""
    dirs = _line_dir_cache.get(geo.board_type)
    if dirs is None:
        vecs = _HEX_LINE_DIRS if geo.is_hex else _SQUARE_LINE_DIRS
        all_dirs = list(geo.directions)
        dirs = tuple((all_dirs.index(v), all_dirs.index(tuple(-a for a in v))) for v in vecs)
        _line_dir_cache[geo.board_type] = dirs
    return dirs


def is_recovery_eligible(s: GameState, player: int) -> bool:
    """True if ``player`` controls no stack, owns a marker and has a buried ring."""
    buried = False
    for st in s.stacks.values():
        if st[0] == player:
            return False
        if not buried and player in st:
            buried = True  # not the top ring, so it is buried
    return buried and player in s.markers.values()


def _first_extraction_stack(s: GameState, player: int) -> int | None:
    """First stack (dict order) holding a ring of ``player`` below its top."""
    for cell, st in s.stacks.items():
        if player in st[1:]:
            return cell
    return None


def _line_through(
    s: GameState, to: int, player: int, vacated: int | None, fwd: int, back: int
) -> list[int]:
    """Cells of ``player``'s marker line through ``to`` along one axis, backward end first.

    ``to`` counts as a marker of ``player``; ``vacated`` (the slide's origin) counts as
    empty. A cell stops the walk unless it holds a marker of ``player`` and no stack and
    is not collapsed.
    """
    markers, stacks, collapsed = s.markers, s.stacks, s.collapsed
    rays = s.geo.rays[to]
    forward: list[int] = []
    for c in rays[fwd]:
        if c == vacated or markers.get(c) != player or c in collapsed or c in stacks:
            break
        forward.append(c)
    backward: list[int] = []
    for c in rays[back]:
        if c == vacated or markers.get(c) != player or c in collapsed or c in stacks:
            break
        backward.append(c)
    backward.reverse()
    backward.append(to)
    backward.extend(forward)
    return backward


def formed_line(s: GameState, frm: int, to: int, player: int) -> list[int]:
    """The longest line a slide ``frm -> to`` would make (first direction on ties).

    Mirrors the reference's ``getFormedLineInfo``: cells in line order, backward end first.
    """
    best: list[int] = []
    for fwd, back in _line_dirs(s.geo):
        line = _line_through(s, to, player, frm, fwd, back)
        if len(line) > len(best):
            best = line
    return best


def _slide_move(s: GameState, player: int, frm: int, to: int, extra: dict[str, Any]) -> Move:
    extra["extractionStacks"] = []
    return Move("recovery_slide", player, to=to, frm=frm, extra=extra)


def _line_targets(s: GameState, player: int) -> list[tuple[int, int, list[int]]]:
    """(from, to, line) of every line-forming slide (reference enumeration order)."""
    need = s.line_length
    geo = s.geo
    markers, stacks, collapsed = s.markers, s.stacks, s.collapsed
    out = []
    for frm, owner in markers.items():
        if owner != player:
            continue
        for to in geo.neighbors[frm]:
            if to < 0 or to in stacks or to in markers or to in collapsed:
                continue
            line = formed_line(s, frm, to, player)
            if len(line) >= need:
                out.append((frm, to, line))
    return out


def skip_recovery_available(s: GameState, player: int) -> bool:
    """``skip_recovery`` is offered exactly when ``player`` is recovery-eligible.

    (Before the ``must_move_from`` filter, which drops it because it has no origin.)
    """
    return is_recovery_eligible(s, player)


def recovery_moves(s: GameState, player: int) -> list[Move]:
    """The ``recovery_slide`` moves the movement phase offers ``player`` (no ``skip_recovery``).

    Empty if the player is not recovery-eligible. The caller adds ``skip_recovery`` and
    applies the reference's ``mustMoveFromStackKey`` filter to both (keep only moves whose
    ``frm`` equals ``s.must_move_from`` when it is set; that drops ``skip_recovery``).
    """
    if not is_recovery_eligible(s, player):
        return []
    moves: list[Move] = []
    geo = s.geo
    need = s.line_length
    targets = _line_targets(s, player)
    if targets:
        for frm, to, line in targets:
            if len(line) > need:
                moves.append(
                    _slide_move(
                        s,
                        player,
                        frm,
                        to,
                        {
                            "option": 2,
                            "recoveryMode": "line",
                            "collapsePositions": [geo.pos[c] for c in line[:need]],
                        },
                    )
                )
            moves.append(_slide_move(s, player, frm, to, {"option": 1, "recoveryMode": "line"}))
        return moves
    markers, stacks, collapsed = s.markers, s.stacks, s.collapsed
    for frm, owner in markers.items():
        if owner != player:
            continue
        for to in geo.neighbors[frm]:
            if to < 0 or to in markers or to in collapsed:
                continue
            mode = "stack_strike" if to in stacks else "fallback"
            moves.append(_slide_move(s, player, frm, to, {"recoveryMode": mode}))
    return moves


def has_any_recovery_move(s: GameState, player: int) -> bool:
    """True if ``player`` has at least one ``recovery_slide`` (reference ``hasAnyRecoveryMove``).

    Ignores ``must_move_from``, as the reference does (used for LPS "real action" checks).
    """
    if not is_recovery_eligible(s, player):
        return False
    geo = s.geo
    markers, collapsed = s.markers, s.collapsed
    for frm, owner in markers.items():
        if owner != player:
            continue
        for to in geo.neighbors[frm]:
            # Any on-board, non-collapsed neighbour gives a fallback or a stack strike.
            if to >= 0 and to not in collapsed and to not in markers:
                return True
    return False


def _fail(s: GameState, move: Move, reason: str) -> IllegalMoveError:
    return IllegalMoveError(
        f"phase {s.phase}, player {move.player}: Invalid recovery slide: {reason}"
    )


def _extract_buried(s: GameState, cell: int, player: int) -> None:
    """Pay one buried ring: remove ``player``'s bottom-most ring of the stack at ``cell``.

    Reference quirk: only ``eliminated[player]`` is credited (not the board counter nor
    the total). Uses the last occurrence of ``player`` in the stack, whatever its index.
    """
    st = s.stacks.get(cell)
    if st is None or player not in st:
        return
    i = len(st) - 1 - st[::-1].index(player)
    rest = st[:i] + st[i + 1 :]
    if rest:
        s.stacks[cell] = rest
    else:
        del s.stacks[cell]
    s.eliminated[player] += 1


def _validate(
    s: GameState, move: Move, option: int, extraction: list[int], collapse: list[int] | None
) -> None:
    """Raise unless ``move`` passes the reference's ``validateRecoverySlide``."""
    player, frm, to = move.player, move.frm, move.to
    assert frm is not None and to is not None
    if not is_recovery_eligible(s, player):
        raise _fail(s, move, "Player is not eligible for recovery action")
    if s.markers.get(frm) != player:
        raise _fail(s, move, "No marker at source position")
    if to not in s.geo.neighbors[frm]:
        raise _fail(s, move, "Destination is not adjacent to source")
    mode = (move.extra or {}).get("recoveryMode")
    if mode == "stack_strike":
        if to not in s.stacks:
            raise _fail(s, move, "Stack-strike recovery requires a destination stack")
        if to in s.markers:
            raise _fail(s, move, "Destination has a marker")
        if to in s.collapsed:
            raise _fail(s, move, "Destination is collapsed space")
    else:
        if to in s.stacks:
            raise _fail(s, move, "Destination has a stack")
        if to in s.markers:
            raise _fail(s, move, "Destination has a marker")
        if to in s.collapsed:
            raise _fail(s, move, "Destination is collapsed space")
    if mode in ("fallback", "stack_strike"):
        if _line_targets(s, player):
            raise _fail(
                s,
                move,
                "Fallback recovery is only allowed when no line-forming recovery slide exists",
            )
        if len(extraction) != 1:
            raise _fail(
                s,
                move,
                f"Fallback recovery requires exactly 1 extraction stack, got {len(extraction)}",
            )
        st = s.stacks.get(extraction[0])
        if st is None or player not in st[1:]:
            raise _fail(s, move, "No buried ring for player in extraction stack")
        return
    need = s.line_length
    line = formed_line(s, frm, to, player)
    if len(line) < need:
        raise _fail(s, move, f"Slide does not form a line of at least {need} markers")
    effective = option if len(line) > need else 1
    if effective == 2:
        if collapse is None:
            raise _fail(s, move, "Option 2 requires collapsePositions to be specified")
        if len(collapse) != need:
            raise _fail(s, move, f"Option 2 requires exactly {need} collapse positions")
        on_line = set(line)
        if any(c not in on_line for c in collapse):
            raise _fail(s, move, "Collapse position is not part of the formed line")
        if to not in collapse:
            raise _fail(s, move, "Collapse positions must include the destination position")
        # Consecutive along the line (the reference sorts by distance from the line start).
        idx = sorted(line.index(c) for c in collapse)
        if idx != list(range(idx[0], idx[0] + need)):
            raise _fail(s, move, "Collapse positions must be consecutive")
    cost = 1 if effective == 1 else 0
    if len(extraction) != cost:
        raise _fail(
            s, move, f"Option {effective} requires {cost} extractions, got {len(extraction)}"
        )
    for cell in extraction:
        st = s.stacks.get(cell)
        if st is None or player not in st[1:]:
            raise _fail(s, move, "Extraction stack has no buried ring of player")


def apply_recovery_slide(s: GameState, move: Move) -> None:
    """Apply a ``recovery_slide`` in place, as the reference's ``applyMoveWithChainInfo`` does.

    Fills an empty ``extractionStacks`` with the first stack holding a buried ring of the
    player, validates (raising ``IllegalMoveError``), then slides / strikes, collapses the
    line (line mode: markers become collapsed spaces of the player, territory grows) and
    pays the buried ring. Phase, player and ``must_move_from`` are left untouched (the
    orchestrator moves on to line processing, as after any movement).
    """
    if move.type != "recovery_slide" or move.frm is None or move.to is None:
        raise IllegalMoveError(
            f"phase {s.phase}, player {move.player}: recovery_slide needs from and to"
        )
    geo = s.geo
    player, frm, to = move.player, move.frm, move.to
    extra = move.extra or {}
    mode = extra.get("recoveryMode")
    option = extra.get("option") or 1
    try:
        extraction = [geo.cell_of_key(k) for k in extra.get("extractionStacks") or []]
        collapse = (
            [geo.cell_of(p) for p in extra["collapsePositions"]]
            if extra.get("collapsePositions")
            else None
        )
    except ValueError as exc:
        raise _fail(s, move, str(exc)) from None
    if not extraction and (option == 1 or mode in ("fallback", "stack_strike")):
        first = _first_extraction_stack(s, player)
        if first is not None:
            extraction = [first]
    _validate(s, move, option, extraction, collapse)

    markers = s.markers
    if mode == "stack_strike":
        del markers[frm]
        # The struck ring is credited to the recovering player in all three counters.
        eliminate_from_stack(s, to, 1, player)
        for cell in extraction:
            _extract_buried(s, cell, player)
        return

    # Keep the marker map as it was (its order is observable) in case the reference's
    # line re-check below refuses the move: a refused move must leave no trace.
    saved_markers = dict(markers) if mode != "fallback" else None
    del markers[frm]
    markers[to] = player
    if mode == "fallback":
        for cell in extraction:
            _extract_buried(s, cell, player)
        return

    # Line mode: the reference re-detects the line with the board's base line length,
    # taking the first direction that reaches it (not the longest line).
    base = _BASE_LINE_LENGTH[geo.board_type]
    line: list[int] | None = None
    for fwd, back in _line_dirs(geo):
        cand = _line_through(s, to, player, None, fwd, back)
        if len(cand) >= base:
            line = cand
            break
    need = s.line_length
    if line is None or len(line) < need:
        assert saved_markers is not None
        s.markers = saved_markers
        raise IllegalMoveError(
            f"phase {s.phase}, player {player}: Recovery slide did not form a valid line"
        )
    if len(line) > need and option == 2:
        if collapse is None or len(collapse) != need:
            assert saved_markers is not None
            s.markers = saved_markers
            raise IllegalMoveError(
                f"phase {s.phase}, player {player}: Option 2 requires exactly {need} "
                f"collapse positions"
            )
        to_collapse = collapse
        effective = 2
    else:
        to_collapse = line
        effective = 1
    collapsed = s.collapsed
    for c in to_collapse:
        markers.pop(c, None)
        collapsed[c] = player
    s.territory[player] += len(to_collapse)
    if effective == 1:
        for cell in extraction:
            _extract_buried(s, cell, player)


def apply_skip_recovery(s: GameState, move: Move) -> None:
    """``skip_recovery``: no board change; the reference sets ``currentPlayer = move.player``."""
    s.current_player = move.player
