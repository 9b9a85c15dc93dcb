"""Victory conditions, game end, host last-player-standing rounds and the result record.

What the reference engine does (``VictoryAggregate.evaluateVictory`` via the orchestrator's
``toVictoryState``), and when:

* **When it is evaluated.** Only at points where a turn is over, never in the middle of one:

  - after a ``forced_elimination`` move (``processPostMovePhases``, first branch);
  - when the territory phase is finished and the turn would rotate (``processPostMovePhases``
    after ``choose_territory_option`` / ``eliminate_rings_from_stack`` once no region and
    no forced elimination remains; inline in the ``no_territory_action`` and
    ``skip_territory_processing`` handlers, after the forced-elimination gate);
  - at the generic "all phases complete" point of ``processPostMovePhases``;
  - inside ``resolveANMForCurrentPlayer`` (hidden forced eliminations while the player to
    move has no action at all): after each forced elimination, and when none is possible.

  In the published traces every engine victory came on a ``forced_elimination``,
  ``eliminate_rings_from_stack`` (territory), ``no_territory_action`` or
  ``skip_territory_processing`` move.
* **What it checks** (first match wins; ``reason`` is the trace's ``engine_reason`` and,
  for engine victories, also the ``termination``):

  1. ``ring_elimination``: the first player (seat order) whose ``eliminatedRings`` (the
     players' counter, i.e. rings credited to them) is ``>= victoryThreshold``.
  2. ``territory_control``: the first player whose number of collapsed spaces on the board
     (counted from ``collapsedSpaces``, not the ``territorySpaces`` counter) is
     ``>= territoryVictoryMinimum`` **and** greater than all opponents' collapsed spaces
     together. ``territoryVictoryThreshold`` is not consulted (the minimum is always set).
  3. ``last_player_standing`` (early LPS): exactly one player controls stacks and every
     other player has no ring at all (none in hand, none anywhere in a stack).
  4. If any stack remains: not over. Otherwise (bare board): if some player holds rings in
     hand and a one-ring stack could move from some free cell (no marker, not collapsed,
     a movement neighbour on the board and not collapsed), not over. Otherwise the
     stalemate ladder decides, with rings in hand counted as eliminated when anybody still
     held some: unique most collapsed spaces (> 0) -> ``territory_control``; unique most
     eliminated (+hand) (> 0) -> ``ring_elimination``; unique most markers (> 0) ->
     ``last_player_standing``; else the last actor -> ``last_player_standing``.
     (``tiebreaker_by_player_number`` is only reachable when no last actor exists, which
     cannot happen inside a game; it never occurred in the traces.)
* **Ending the game** (``apply_victory``): ``gameStatus = "completed"``, ``winner``,
  ``currentPhase = "game_over"``. Nothing else changes (``currentPlayer``,
  ``mustMoveFromStackKey``, ``chainCapturePosition`` stay as they are). Quirk: when the
  game ends on a ``forced_elimination`` move, the orchestrator's FSM step runs afterwards
  and overwrites ``currentPhase = "ring_placement"`` and ``currentPlayer`` = the next
  player after the mover who still has rings (``fsm_turn_end_after_forced_elimination``);
  the status stays ``completed`` and the winner stays set.

The round-based LPS rule is host logic (parity README §3.5): ``update_lps_after_move``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ringrift_tasks.rules.state import GameState, LpsTracker

RING_ELIMINATION = "ring_elimination"
TERRITORY_CONTROL = "territory_control"
LAST_PLAYER_STANDING = "last_player_standing"
TIEBREAKER_BY_PLAYER_NUMBER = "tiebreaker_by_player_number"
LPS_ROUNDS = "lps_rounds"
MOVE_CAP = "move_cap"
ENGINE_ERROR = "engine_error"


@dataclass(frozen=True, slots=True)
class Victory:
    """A finished game: who won, the result's ``termination`` and the engine's reason.

    ``engine_reason`` is the string the engine returned (equal to ``termination`` for
    engine victories) and ``None`` for the host's ``lps_rounds``.
    ``hand_counts_as_eliminated`` mirrors the engine flag for bare-board stalemates
    (informational; the engine does not change any counter because of it).
    """

    winner: int
    termination: str
    engine_reason: str | None
    hand_counts_as_eliminated: bool = False


def _engine(winner: int, reason: str, hand: bool = False) -> Victory:
    return Victory(winner, reason, reason, hand)


def collapsed_counts(s: GameState) -> list[int]:
    """Collapsed spaces owned by each player (index = player number; index 0 unused)."""
    counts = [0] * (s.num_players + 1)
    n = s.num_players
    for owner in s.collapsed.values():
        if 0 < owner <= n:
            counts[owner] += 1
    return counts


def marker_counts(s: GameState) -> list[int]:
    """Markers on the board per player (index = player number)."""
    counts = [0] * (s.num_players + 1)
    n = s.num_players
    for owner in s.markers.values():
        if 0 < owner <= n:
            counts[owner] += 1
    return counts


def rings_on_board_counts(s: GameState) -> list[int]:
    """Rings of each colour anywhere on the board, buried or not (index = player)."""
    counts = [0] * (s.num_players + 1)
    for st in s.stacks.values():
        for owner in st:
            counts[owner] += 1
    return counts


def _unique_leader(values: list[int], n: int) -> int | None:
    """The only player with the highest value if it is > 0, else None (values[1..n])."""
    best = max(values[1 : n + 1])
    if best <= 0:
        return None
    leaders = [p for p in range(1, n + 1) if values[p] == best]
    return leaders[0] if len(leaders) == 1 else None


def _bare_board_has_placement(s: GameState) -> bool:
    """True if a one-ring stack placed on some free cell of the (stackless) board could move.

    The reference's ``hasAnyLegalPlacementOnBareBoard`` is the same for every player with
    rings in hand: a cell without marker or collapse whose movement neighbour in some
    direction is on the board and not collapsed (landing on a marker is allowed).
    """
    collapsed = s.collapsed
    markers = s.markers
    geo = s.geo
    for cell in range(geo.n_cells):
        if cell in collapsed or cell in markers:
            continue
        for nb in geo.neighbors[cell]:
            if nb >= 0 and nb not in collapsed:
                return True
    return False


def default_last_actor(s: GameState) -> int:
    """The seat before the current player: the reference's last-actor fallback."""
    return (s.current_player - 2) % s.num_players + 1


def evaluate_victory(s: GameState, last_actor: int | None = None) -> Victory | None:
    """The engine's ``evaluateVictory`` verdict for ``s``: a ``Victory`` or ``None``.

    ``last_actor`` matters only for the last rung of the bare-board stalemate ladder: the
    reference takes the player of the last move in the state's move history, and the host
    appends a move to that history only *after* applying it, so during the evaluation it is
    the player of the move **before** the one being applied. ``None`` means: the player of
    the last move recorded in ``s.turn_moves`` (the turn layer records a move after
    applying it), else the seat before the current player (the reference's fallback for an
    empty history).
    """
    n = s.num_players
    threshold = s.victory_threshold
    eliminated = s.eliminated
    # 1) Ring elimination: players' credited eliminations, first in seat order.
    for p in range(1, n + 1):
        if eliminated[p] >= threshold:
            return _engine(p, RING_ELIMINATION)

    # 2) Territory control, counted from the collapsed spaces.
    terr = collapsed_counts(s)
    total = sum(terr)
    minimum = s.territory_victory_minimum
    for p in range(1, n + 1):
        t = terr[p]
        if t >= minimum and t > total - t:
            return _engine(p, TERRITORY_CONTROL)

    stacks = s.stacks
    if stacks:
        # 3) Early LPS: one stack controller and nobody else has any ring left.
        controller = 0
        for st in stacks.values():
            top = st[0]
            if controller == 0:
                controller = top
            elif top != controller:
                return None
        for p in range(1, n + 1):
            if p != controller and s.has_material(p):
                return None
        return _engine(controller, LAST_PLAYER_STANDING)

    # 4) Bare board: structural terminality, then the stalemate ladder.
    hand = s.rings_in_hand
    any_in_hand = any(hand[p] > 0 for p in range(1, n + 1))
    if any_in_hand and _bare_board_has_placement(s):
        return None
    leader = _unique_leader(terr, n)
    if leader is not None:
        return _engine(leader, TERRITORY_CONTROL, any_in_hand)
    scores = [0] + [eliminated[p] + (hand[p] if any_in_hand else 0) for p in range(1, n + 1)]
    leader = _unique_leader(scores, n)
    if leader is not None:
        return _engine(leader, RING_ELIMINATION, any_in_hand)
    leader = _unique_leader(marker_counts(s), n)
    if leader is not None:
        return _engine(leader, LAST_PLAYER_STANDING, any_in_hand)
    actor = last_actor
    if actor is None:
        actor = s.turn_moves[-1].player if s.turn_moves else default_last_actor(s)
    return _engine(actor, LAST_PLAYER_STANDING, any_in_hand)


def apply_victory(s: GameState, victory: Victory) -> None:
    """End the game the way the engine (and the host for ``lps_rounds``) does.

    Sets ``status = "completed"``, ``winner`` and ``phase = "game_over"`` (and records the
    victory as ``s.outcome``, outside the hashed view); every other
    field (current player, must-move stack, chain-capture position, LPS tracker) is left
    as it is. See ``fsm_turn_end_after_forced_elimination`` for the one case where the
    engine changes phase and player afterwards.
    """
    s.status = "completed"
    s.winner = victory.winner
    s.phase = "game_over"
    s.outcome = victory


def next_player_with_rings(s: GameState, player: int) -> int:
    """The first seat after ``player`` whose owner still has a ring (hand or board);
    the plain next seat if nobody has any (reference ``computeNextNonEliminatedPlayer``)."""
    n = s.num_players
    nxt = player % n + 1
    for _ in range(n):
        if s.has_material(nxt):
            return nxt
        nxt = nxt % n + 1
    return player % n + 1


def fsm_turn_end_after_forced_elimination(s: GameState, mover: int) -> None:
    """The reference quirk after a game-ending ``forced_elimination`` move.

    ``processTurn`` runs its FSM orchestration step after the victory was applied; for a
    ``forced_elimination`` move (not a line/territory move) it overwrites the phase with
    ``ring_placement`` and the current player with the next seat after the mover that
    still has rings. Status (``completed``) and winner are untouched. Call this only when
    the engine itself ended the game on a ``forced_elimination`` move.
    """
    s.phase = "ring_placement"
    s.current_player = next_player_with_rings(s, mover)


# --- host last-player-standing rounds (parity README §3.5) ------------------------------


def has_real_action(s: GameState, player: int) -> bool:
    """The host's ``hasAnyRealAction`` (§3.5): a placement (with rings in hand), a
    non-capturing stack move or an overtaking capture. Recovery and forced elimination do
    not count. False once the game is over.

    The placement test is the reference ``hasAnyPlacementForPlayer``: a legal placement of
    **one** ring (supply cap and no-dead-placement), which is what
    ``placement.has_any_legal_placement`` answers.

    Movement/capture honour ``must_move_from`` only for the current player (the host passes
    the per-turn constraint for the player to move only); at a turn start it is unset.
    """
    if s.status != "active":
        return False
    # Imported here: placement/movement import the state layer this module also serves.
    from ringrift_tasks.rules.movement import has_any_movement_or_capture
    from ringrift_tasks.rules.placement import has_any_legal_placement

    if s.rings_in_hand[player] > 0 and has_any_legal_placement(s, player):
        return True

    return has_any_movement_or_capture(s, player, honour_must_move=player == s.current_player)


def update_lps_tracking(lps: LpsTracker, current: int, active: list[int], real: bool) -> None:
    """The shared ``updateLpsTracking`` helper on the host tracker (mutates ``lps``)."""
    if current not in active:
        return
    first = lps.current_round_first_player
    mask = lps.actor_mask
    if first is None or first not in active:
        lps.round_index += 1
        lps.current_round_first_player = current
        mask.clear()
        lps.exclusive_player_for_completed_round = None
        excl = lps.consecutive_exclusive_player
        if excl is None or excl not in active:
            lps.consecutive_exclusive_rounds = 0
            lps.consecutive_exclusive_player = None
    elif current == first and mask:
        true_players = [p for p in active if mask.get(p)]
        excl = true_players[0] if len(true_players) == 1 else None
        lps.exclusive_player_for_completed_round = excl
        if excl is not None:
            if excl == lps.consecutive_exclusive_player:
                lps.consecutive_exclusive_rounds += 1
            else:
                lps.consecutive_exclusive_player = excl
                lps.consecutive_exclusive_rounds = 1
        else:
            lps.consecutive_exclusive_rounds = 0
            lps.consecutive_exclusive_player = None
        lps.round_index += 1
        mask.clear()
        lps.current_round_first_player = current
    mask[current] = real


def update_lps_after_move(s: GameState, mover: int) -> Victory | None:
    """The host LPS hook, run after every applied move (parity README §3.5).

    Does nothing unless the game is active, the phase is ``ring_placement`` and the player
    to move differs from ``mover`` (a new turn has just started). Then updates ``s.lps``
    and checks the round-based LPS victory; on a win it ends the game (``apply_victory``:
    status, winner = current player, phase ``game_over``) and returns the ``Victory``
    (termination ``lps_rounds``, engine reason ``None``); otherwise returns ``None``.
    """
    if s.status != "active" or s.phase != "ring_placement" or s.current_player == mover:
        return None
    n = s.num_players
    current = s.current_player
    active = [p for p in range(1, n + 1) if s.has_material(p)]
    if not active:
        return None
    lps = s.lps
    if current not in active:
        return None
    real = has_real_action(s, current)
    update_lps_tracking(lps, current, active, real)
    # evaluateLpsVictory (the phase is ring_placement, an LPS-active phase).
    if lps.consecutive_exclusive_rounds < s.lps_rounds_required:
        return None
    cand = lps.consecutive_exclusive_player
    if cand is None or cand != current or not real:
        return None
    for p in range(1, n + 1):
        if p != cand and s.has_material(p) and has_real_action(s, p):
            return None
    victory = Victory(cand, LPS_ROUNDS, None)
    apply_victory(s, victory)
    return victory


# --- the trace's result record (parity README §1.4, §3.8) -------------------------------


def player_scores(s: GameState) -> dict[str, dict[str, int]]:
    """Per-player summary of the result record, keyed by the player number as a string."""
    n = s.num_players
    on_board = rings_on_board_counts(s)
    markers = marker_counts(s)
    controlled = [0] * (n + 1)
    for st in s.stacks.values():
        controlled[st[0]] += 1
    return {
        str(p): {
            "ringsInHand": s.rings_in_hand[p],
            "eliminatedRings": s.eliminated[p],
            "territorySpaces": s.territory[p],
            "ringsOnBoard": on_board[p],
            "stacksControlled": controlled[p],
            "markers": markers[p],
        }
        for p in range(1, n + 1)
    }


def ranking(s: GameState) -> list[int]:
    """Players best first: the winner (if any), then by territory spaces, eliminated rings,
    rings on board + in hand (all descending), then player number."""
    n = s.num_players
    on_board = rings_on_board_counts(s)
    others = [p for p in range(1, n + 1) if p != s.winner]
    others.sort(
        key=lambda p: (
            -s.territory[p],
            -s.eliminated[p],
            -(on_board[p] + s.rings_in_hand[p]),
            p,
        )
    )
    return ([s.winner] if s.winner is not None else []) + others


def game_result(
    s: GameState,
    termination: str,
    engine_reason: str | None,
    moves: int | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The trace's ``result`` record for the final state ``s``.

    ``moves`` defaults to ``s.moves_played``; ``error`` is only for ``engine_error``.
    """
    from ringrift_tasks.rules.view import full_digest

    return {
        "winner": s.winner,
        "termination": termination,
        "engine_reason": engine_reason,
        "moves": s.moves_played if moves is None else moves,
        "final_phase": s.phase,
        "final_status": s.status,
        "final_digest": full_digest(s),
        "scores": player_scores(s),
        "ranking": ranking(s),
        "error": error,
    }
