"""Turn orchestration: which moves are legal now, and what applying one does to the turn.

This is the one place that knows the order of phases inside a turn
(placement -> movement/capture -> chain capture -> lines -> territory -> forced
elimination -> next player) and the host rules the parity traces were made with
(parity README §3: the line-option enumeration, the pie rule, the auto-inserted
bookkeeping moves and the round-based last-player-standing rule). The per-area rules
(placement, movement, capture, lines, territory, recovery, elimination, victory) live in
their own modules; this module sequences them.

Public API: ``legal_moves``, ``apply_move``, ``auto_move``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringrift_tasks.rules import (
    capture,
    forced_elimination,
    lines,
    movement,
    placement,
    recovery,
    territory,
    victory,
)
from ringrift_tasks.rules.errors import IllegalMoveError
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.rules.view import engine_hash

# Moves that do not count as "an action this turn" (reference: isNoActionBookkeepingMove).
BOOKKEEPING_TYPES = frozenset(
    {
        "no_placement_action",
        "no_movement_action",
        "no_line_action",
        "no_territory_action",
        "skip_placement",
        "skip_territory_processing",
        "skip_capture",
        "skip_recovery",
    }
)
PLACEMENT_TYPES = frozenset({"place_ring", "skip_placement", "no_placement_action", "swap_sides"})
_AUTO_BY_PHASE = {
    "line_processing": "no_line_action",
    "territory_processing": "no_territory_action",
    "movement": "no_movement_action",
    "ring_placement": "no_placement_action",
}


# --------------------------------------------------------------------------------------
# Small facts about the current turn
# --------------------------------------------------------------------------------------
def last_move(s: GameState) -> Move | None:
    """The most recently applied move, if any."""
    return s.turn_moves[-1] if s.turn_moves else None


def _tail_for(s: GameState, player: int) -> list[Move]:
    """Moves at the end of the history made by ``player`` without interruption."""
    if s.turn_moves and s.turn_moves[-1].player == player:
        return s.turn_moves
    return []


def had_any_action_this_turn(s: GameState, current: Move | None) -> bool:
    """True if the player to move made a real (non-bookkeeping) move in this turn."""
    p = s.current_player
    if current is not None and current.player == p and current.type not in BOOKKEEPING_TYPES:
        return True
    return any(m.type not in BOOKKEEPING_TYPES for m in _tail_for(s, p))


def turn_included_recovery_slide(s: GameState, player: int) -> bool:
    """True if ``player``'s current turn contains a recovery slide."""
    return any(m.type == "recovery_slide" for m in _tail_for(s, player))


def has_turn_material(s: GameState, player: int) -> bool:
    """Rings in hand or at least one controlled stack."""
    return s.rings_in_hand[player] > 0 or s.controls_stack(player)


def has_global_placement(s: GameState, player: int) -> bool:
    return s.rings_in_hand[player] > 0 and placement.has_any_legal_placement(s, player)


def has_forced_elimination_action(s: GameState, player: int) -> bool:
    """Stacks on the board but no placement, movement or capture anywhere."""
    return forced_elimination.needs_forced_elimination(s, player)


def has_phase_local_interactive_move(s: GameState, player: int) -> bool:
    """Whether the current phase offers ``player`` a real decision (reference semantics)."""
    if s.status != "active" or player != s.current_player:
        return False
    phase = s.phase
    if phase == "ring_placement":
        if s.rings_in_hand[player] <= 0:
            return movement.has_any_movement_or_capture(s, player)
        if has_global_placement(s, player):
            return True
        return placement.can_skip_placement(s, player)
    if phase in ("movement", "capture", "chain_capture"):
        return movement.has_any_movement_or_capture(s, player)
    if phase == "line_processing":
        if s.pending_line_reward:
            return s.controls_stack(player)
        return lines.has_line_decision(s, player)
    if phase == "territory_processing":
        return any(
            m.type != "skip_territory_processing"
            for m in territory.territory_phase_moves(s, player)
        )
    if phase == "forced_elimination":
        return has_forced_elimination_action(s, player)
    return False


def is_anm_state(s: GameState) -> bool:
    """ "Active, no moves": the player to move has material but nothing at all to do."""
    if s.status != "active":
        return False
    p = s.current_player
    if not has_turn_material(s, p):
        return False
    return (
        not has_global_placement(s, p)
        and not has_phase_local_interactive_move(s, p)
        and not has_forced_elimination_action(s, p)
    )


# --------------------------------------------------------------------------------------
# Legal moves
# --------------------------------------------------------------------------------------
def engine_moves(s: GameState) -> list[Move]:
    """The engine's own legal-move list for the current phase (before host rules)."""
    p = s.current_player
    phase = s.phase
    if phase == "ring_placement":
        return placement.placement_moves(s, p)
    if phase == "movement":
        mm = s.must_move_from
        moves = movement.movement_moves(s, p)
        moves += capture.capture_moves(s, p, mm)
        if recovery.is_recovery_eligible(s, p):
            rec = [Move("skip_recovery", p)]
            rec += recovery.recovery_moves(s, p)
            if mm is not None:
                rec = [m for m in rec if m.frm == mm]
            moves += rec
        if not moves:
            return [Move("no_movement_action", p)]
        return moves
    if phase == "capture":
        lm = last_move(s)
        if lm is None or lm.to is None:
            return []
        return capture.capture_moves(s, p, lm.to) + [Move("skip_capture", p)]
    if phase == "chain_capture":
        pos = s.chain_capture_pos
        if pos is None:
            lm = last_move(s)
            if lm is None or lm.to is None:
                return []
            pos = lm.to
        return capture.chain_capture_moves(s, p, pos)
    if phase == "line_processing":
        return lines.line_phase_moves(s, p)
    if phase == "territory_processing":
        return territory.territory_phase_moves(s, p)
    if phase == "forced_elimination":
        return forced_elimination.forced_elimination_moves(s, p)
    return []


def _swap_offered(s: GameState) -> bool:
    return (
        s.swap_rule_enabled
        and s.num_players == 2
        and s.status == "active"
        and s.current_player == 2
        and s.phase == "ring_placement"
        and s.p1_has_moved
        and not s.p2_has_moved
        and not s.swap_applied
    )


def legal_moves(s: GameState, *, canonical_order: bool = True) -> list[Move]:
    """Moves offered to the player to move, exactly as the reference host offers them.

    Includes the host rules (line options, pie rule). ``canonical_order`` sorts and
    de-duplicates by canonical JSON (the order the parity traces index into); without it
    the engine's own enumeration order is kept (cheaper, for search). Empty when the
    game is over or when the host must insert a bookkeeping move (see ``auto_move``).
    """
    if s.status != "active":
        return []
    moves = engine_moves(s)
    if _swap_offered(s):
        moves.append(Move("swap_sides", 2))
    if canonical_order and len(moves) > 1:
        geo = s.geo
        keyed = {m.key(geo): m for m in moves}
        moves = [keyed[k] for k in sorted(keyed)]
    return moves


def auto_move(s: GameState) -> Move:
    """The bookkeeping move the host inserts when ``legal_moves`` is empty (README §3.3)."""
    mtype = _AUTO_BY_PHASE.get(s.phase)
    if mtype is None:
        raise IllegalMoveError(
            f"no moves and no bookkeeping move for phase {s.phase} (player {s.current_player})"
        )
    return Move(mtype, s.current_player)


# --------------------------------------------------------------------------------------
# Applying a move
# --------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Processing:
    """What one move application has established so far (reference: processing state)."""

    move: Move
    chain_in_progress: bool = False
    chain_pos: int | None = None
    elimination_reward_pending: bool = False
    decision: str | None = None


def apply_move(s: GameState, move: Move, *, validate: bool = True) -> None:
    """Apply ``move`` to ``s`` in place, host rules included.

    With ``validate`` the move must be one of ``legal_moves(s)`` (or the bookkeeping move
    of ``auto_move`` when nothing is offered); otherwise ``IllegalMoveError`` names the
    phase, player and reason and ``s`` is left unchanged.
    """
    if s.status != "active":
        raise IllegalMoveError(f"game is over ({s.status}); {move.type} by player {move.player}")
    if validate:
        _validate(s, move)
    _process_turn(s, move)
    _record(s, move)
    if s.status == "active" and s.phase == "ring_placement" and s.current_player != move.player:
        victory.update_lps_after_move(s, move.player)


def _validate(s: GameState, move: Move) -> None:
    offered = legal_moves(s, canonical_order=False)
    geo = s.geo
    if not offered:
        auto = auto_move(s)
        if move.key(geo) == auto.key(geo):
            return
        raise IllegalMoveError(
            f"illegal move in phase {s.phase} for player {s.current_player}: "
            f"only the bookkeeping move {auto.type} is possible, got {move.type}"
        )
    key = move.key(geo)
    if any(m.key(geo) == key for m in offered):
        return
    if move.player != s.current_player:
        reason = f"it is player {s.current_player}'s turn, not player {move.player}'s"
    elif not any(m.type == move.type for m in offered):
        kinds = sorted({m.type for m in offered})
        reason = f"{move.type} is not possible now (possible: {', '.join(kinds)})"
    else:
        reason = f"this {move.type} is not among the {len(offered)} legal moves"
    raise IllegalMoveError(
        f"illegal move in phase {s.phase} for player {s.current_player}: {reason}"
    )


def _record(s: GameState, move: Move) -> None:
    """Host bookkeeping after a move: the turn log and the pie-rule facts."""
    if s.turn_moves and s.turn_moves[-1].player != move.player:
        s.turn_moves = [move]
    else:
        s.turn_moves.append(move)
    s.moves_played += 1
    if move.type == "swap_sides":
        s.swap_applied = True
    elif move.player == 1:
        s.p1_has_moved = True
    elif move.player == 2:
        s.p2_has_moved = True


def _finish_game(s: GameState, v: victory.Victory) -> None:
    victory.apply_victory(s, v)


def _process_turn(s: GameState, m: Move) -> None:
    mtype = m.type
    territory_decision = mtype in ("choose_territory_option", "eliminate_rings_from_stack")
    h0 = engine_hash(s) if territory_decision else ""
    ps = _Processing(m)
    _apply_with_chain_info(s, m, ps)

    line_move = mtype in ("process_line", "choose_line_option")
    turn_ending_territory = mtype in ("skip_territory_processing", "no_territory_action")
    changed = (not territory_decision) or engine_hash(s) != h0
    if mtype not in PLACEMENT_TYPES and not turn_ending_territory and (changed or line_move):
        existing = ps.decision
        ps.decision = None
        _post_move_phases(s, ps)
        ps.decision = existing or ps.decision

    if (
        ps.decision is None
        and s.status == "active"
        and not territory_decision
        and s.phase in ("territory_processing", "forced_elimination")
    ):
        p = s.current_player
        if (
            has_turn_material(s, p)
            and has_forced_elimination_action(s, p)
            and not has_global_placement(s, p)
            and not has_phase_local_interactive_move(s, p)
        ):
            s.phase = "forced_elimination"
            ps.decision = "forced_elimination"

    if ps.decision is None and s.status == "active" and is_anm_state(s):
        _resolve_anm(s)

    _fsm_adjust(s, m)


def _resolve_anm(s: GameState) -> None:
    """Stuck player: force eliminations (or end the game) until someone can act."""
    steps = max(4, s.total_rings_in_play + 4)
    for _ in range(steps):
        if s.status != "active" or not is_anm_state(s):
            return
        if not forced_elimination.auto_forced_elimination(s, s.current_player):
            v = victory.evaluate_victory(s)
            if v is not None:
                _finish_game(s, v)
            return
        v = victory.evaluate_victory(s)
        if v is not None:
            _finish_game(s, v)
            return


def _fsm_adjust(s: GameState, m: Move) -> None:
    """The reference's turn state machine has the last word after placement and
    forced-elimination moves: placing always leads to movement, and a forced elimination
    always hands the turn to the next seat that still has rings."""
    if m.type == "place_ring":
        if m.player == s.current_player:
            s.phase = "movement"
    elif m.type == "forced_elimination":
        s.current_player = victory.next_player_with_rings(s, m.player)
        s.phase = "ring_placement"


def _end_turn(s: GameState, player: int) -> None:
    s.current_player = victory.next_player_with_rings(s, player)
    s.phase = "ring_placement"
    s.must_move_from = None
    s.chain_capture_pos = None


def _apply_with_chain_info(s: GameState, m: Move, ps: _Processing) -> None:
    mtype = m.type
    p = m.player
    if mtype == "place_ring":
        assert m.to is not None
        placement.apply_place_ring(s, m)
        s.must_move_from = m.to
        if movement.has_any_movement_or_capture(s, p):
            s.phase = "movement"
        else:
            s.phase = "line_processing"
            s.must_move_from = None
    elif mtype in ("skip_placement", "no_placement_action"):
        s.current_player = p
        s.phase = "movement"
    elif mtype == "swap_sides":
        s.player_ids[1], s.player_ids[2] = s.player_ids[2], s.player_ids[1]
    elif mtype == "skip_capture":
        s.phase = "line_processing"
    elif mtype == "move_stack":
        assert m.frm is not None and m.to is not None
        prev = s.must_move_from
        movement.apply_simple_movement(s, m.frm, m.to, p)
        if prev is not None and m.frm == prev:
            s.must_move_from = m.to
    elif mtype in ("no_movement_action", "skip_recovery"):
        s.current_player = p
    elif mtype == "recovery_slide":
        recovery.apply_recovery_slide(s, m)
    elif mtype in ("overtaking_capture", "continue_capture_segment"):
        assert m.frm is not None and m.to is not None and m.target is not None
        prev = s.must_move_from
        cont = capture.apply_capture_segment(s, m.frm, m.target, m.to, p)
        if prev is not None and m.frm == prev:
            s.must_move_from = m.to
        if cont:
            ps.chain_in_progress = True
            ps.chain_pos = m.to
    elif mtype in ("process_line", "choose_line_option"):
        if mtype == "process_line":
            pending = lines.apply_process_line(s, m, validate=False)
        else:
            pending = lines.apply_choose_line_option(s, m, validate=False)
        s.pending_line_reward = pending
        ps.elimination_reward_pending = pending
    elif mtype == "no_line_action":
        s.current_player = p
        s.phase = "territory_processing"
    elif mtype == "choose_territory_option":
        pending_self = territory.apply_choose_territory_option(s, m)
        if pending_self and territory.territory_elimination_moves(
            s, p, processed_region=m.extra["disconnectedRegions"][0] if m.extra else None
        ):
            s.phase = "territory_processing"
            ps.decision = "elimination_target"
    elif mtype == "eliminate_rings_from_stack":
        ctx = (m.extra or {}).get("eliminationContext")
        was_pending = s.pending_line_reward
        if ctx == "line":
            lines.apply_line_reward_elimination(s, m, validate=False)
        else:
            territory.apply_territory_elimination(s, m)
        if ctx == "line" and was_pending:
            s.pending_line_reward = False
    elif mtype in ("no_territory_action", "skip_territory_processing"):
        if s.phase != "forced_elimination":
            # The forced-elimination decision lists every controlled stack, so having a
            # stack is enough for it to be non-empty.
            if not had_any_action_this_turn(s, m) and s.controls_stack(p):
                s.current_player = p
                s.phase = "forced_elimination"
                ps.decision = "forced_elimination"
                return
        v = victory.evaluate_victory(s)
        if v is not None:
            _finish_game(s, v)
            ps.decision = None
            return
        _end_turn(s, p)
    elif mtype == "forced_elimination":
        forced_elimination.apply_forced_elimination(s, m)
    else:  # pragma: no cover - move_from_json rejects unknown types
        raise IllegalMoveError(f"unknown move type {mtype}")


def _post_move_phases(s: GameState, ps: _Processing) -> None:
    m = ps.move
    mtype = m.type
    if mtype == "forced_elimination":
        v = victory.evaluate_victory(s)
        if v is not None:
            _finish_game(s, v)
            return
        _end_turn(s, s.current_player)
        return

    phase_at_start = s.phase
    if ps.chain_in_progress:
        pos = ps.chain_pos
        if pos is not None and capture.chain_capture_moves(s, s.current_player, pos):
            s.phase = "chain_capture"
            s.chain_capture_pos = pos
            ps.decision = "chain_capture"
            return
        ps.chain_in_progress = False
        s.chain_capture_pos = None

    if mtype == "move_stack" and phase_at_start == "movement" and m.to is not None:
        if capture.capture_moves(s, s.current_player, m.to):
            s.phase = "capture"
            return

    if phase_at_start in ("movement", "capture", "chain_capture", "ring_placement"):
        s.chain_capture_pos = None
        s.must_move_from = None
        s.phase = "line_processing"

    line_move = mtype in ("no_line_action", "process_line", "choose_line_option")
    if s.phase == "line_processing" or line_move:
        player = s.current_player
        if lines.player_has_lines(s, player):
            s.phase = "line_processing"
            ps.decision = "line_order"
            return
        if not line_move:
            ps.decision = "no_line_action_required"
            return
        if mtype in ("process_line", "choose_line_option") and ps.elimination_reward_pending:
            ps.decision = "line_elimination_required"
            return
        ctx = "recovery" if turn_included_recovery_slide(s, player) else "territory"
        has_regions = bool(territory.processable_regions(s, player, ctx))
        had_action = had_any_action_this_turn(s, m)
        has_stacks = s.controls_stack(player)
        if not has_regions and not had_action and has_stacks:
            s.phase = "forced_elimination"
            ps.decision = "forced_elimination"
            return
        else:
            s.phase = "territory_processing"
            s.chain_capture_pos = None
            s.must_move_from = None

    if s.phase == "territory_processing":
        player = s.current_player
        if mtype != "skip_territory_processing":
            ctx = "recovery" if turn_included_recovery_slide(s, player) else "territory"
            if mtype == "choose_territory_option":
                region = m.extra["disconnectedRegions"][0] if m.extra else None
                if territory.territory_elimination_moves(
                    s, player, processed_region=region, context=ctx
                ):
                    ps.decision = "elimination_target"
                    return
            if territory.processable_regions(s, player, ctx):
                ps.decision = "region_order"
                return
            if mtype not in (
                "no_territory_action",
                "choose_territory_option",
                "eliminate_rings_from_stack",
            ):
                ps.decision = "no_territory_action_required"
                return
        had_action = had_any_action_this_turn(s, m)
        if not had_action and s.controls_stack(player):
            s.phase = "forced_elimination"
            if (
                has_turn_material(s, player)
                and has_forced_elimination_action(s, player)
                and not has_global_placement(s, player)
                and not has_phase_local_interactive_move(s, player)
            ):
                ps.decision = "forced_elimination"
                return
        v = victory.evaluate_victory(s)
        if v is not None:
            _finish_game(s, v)
            return
        _end_turn(s, player)
        return

    v = victory.evaluate_victory(s)
    if v is not None:
        _finish_game(s, v)
        return
    _end_turn(s, s.current_player)
