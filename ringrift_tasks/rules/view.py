"""Canonical state view, ``full_digest`` and the reference engine's own hash.

The view is the state as the parity traces describe it (parity README §5.2); its canonical
JSON and sha256 are the parity contract. ``state_from_view`` is the inverse: a state can
be rebuilt from a view (with a ``StateFormatError`` naming the field when it is nonsense).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ringrift_tasks.rules.board import UnknownPositionError, geometry
from ringrift_tasks.rules.moves import canonical_json
from ringrift_tasks.rules.state import PHASES, GameState, LpsTracker, cap_height, line_length


class StateFormatError(ValueError):
    """A state view that cannot be a RingRift state; the message names the field."""


def state_view(s: GameState) -> dict[str, Any]:
    """The canonical view of ``s`` (parity README §5.2)."""
    geo = s.geo
    keys = geo.keys
    n = s.num_players
    stacks = {}
    for cell, st in s.stacks.items():
        stacks[keys[cell]] = {
            "rings": list(st),
            "stackHeight": len(st),
            "capHeight": cap_height(st),
            "controllingPlayer": st[0],
        }
    lps = s.lps
    return {
        "boardType": geo.board_type,
        "board": {
            "type": geo.board_type,
            "size": geo.spec.size,
            "stacks": stacks,
            "markers": {keys[c]: {"player": p, "type": "regular"} for c, p in s.markers.items()},
            "collapsedSpaces": {keys[c]: p for c, p in s.collapsed.items()},
            "eliminatedRings": {str(p): s.board_eliminated[p] for p in range(1, n + 1)},
        },
        "players": [
            {
                "playerNumber": p,
                "id": s.player_ids[p],
                "ringsInHand": s.rings_in_hand[p],
                "eliminatedRings": s.eliminated[p],
                "territorySpaces": s.territory[p],
            }
            for p in range(1, n + 1)
        ],
        "currentPlayer": s.current_player,
        "currentPhase": s.phase,
        "gameStatus": s.status,
        "winner": s.winner,
        "mustMoveFromStackKey": None if s.must_move_from is None else keys[s.must_move_from],
        "chainCapturePosition": None
        if s.chain_capture_pos is None
        else geo.pos[s.chain_capture_pos],
        "pendingLineRewardElimination": s.pending_line_reward,
        "totalRingsInPlay": s.total_rings_in_play,
        "totalRingsEliminated": s.total_rings_eliminated,
        "victoryThreshold": s.victory_threshold,
        "territoryVictoryThreshold": s.territory_victory_threshold,
        "territoryVictoryMinimum": s.territory_victory_minimum,
        "lpsRoundsRequired": s.lps_rounds_required,
        "maxPlayers": n,
        "rulesOptions": {"swapRuleEnabled": True} if s.swap_rule_enabled else None,
        "lps": {
            "roundIndex": lps.round_index,
            "currentRoundFirstPlayer": lps.current_round_first_player,
            "currentRoundActorMask": {str(p): v for p, v in lps.actor_mask.items()},
            "exclusivePlayerForCompletedRound": lps.exclusive_player_for_completed_round,
            "consecutiveExclusiveRounds": lps.consecutive_exclusive_rounds,
            "consecutiveExclusivePlayer": lps.consecutive_exclusive_player,
        },
    }


def digest_of_view(view: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a view."""
    return hashlib.sha256(canonical_json(view).encode("utf-8")).hexdigest()


def full_digest(s: GameState) -> str:
    """The parity contract hash of ``s`` (parity README §5.2)."""
    return digest_of_view(state_view(s))


def _imul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFF


def engine_hash(s: GameState) -> str:
    """The reference engine's 64-bit fingerprint hash (parity README §5.4)."""
    keys = s.geo.keys
    over = s.status in ("completed", "abandoned")
    meta = (
        f"{s.current_player}:{'game_over' if over else s.phase}:{s.status}:"
        f"{1 if s.pending_line_reward else 0}"
    )
    if over:
        meta = f"0:game_over:{s.status}:{1 if s.pending_line_reward else 0}"
    players = "|".join(
        sorted(
            f"{p}:{s.rings_in_hand[p]}:{s.eliminated[p]}:{s.territory[p]}"
            for p in range(1, s.num_players + 1)
        )
    )
    stacks = "|".join(
        sorted(f"{keys[c]}:{st[0]}:{len(st)}:{cap_height(st)}" for c, st in s.stacks.items())
    )
    markers = "|".join(sorted(f"{keys[c]}:{p}" for c, p in s.markers.items()))
    collapsed = "|".join(sorted(f"{keys[c]}:{p}" for c, p in s.collapsed.items()))
    text = "#".join((meta, players, stacks, markers, collapsed))
    h1, h2 = 0xDEADBEEF, 0x41C6CE57
    for ch in text.encode("utf-16-le")[::2]:
        h1 = _imul(h1 ^ ch, 2654435761)
        h2 = _imul(h2 ^ ch, 1597334677)
    h1 = _imul(h1 ^ (h1 >> 16), 2246822507) ^ _imul(h2 ^ (h2 >> 13), 3266489909)
    h2 = _imul(h2 ^ (h2 >> 16), 2246822507) ^ _imul(h1 ^ (h1 >> 13), 3266489909)
    return f"{h2 & 0xFFFFFFFF:08x}{h1 & 0xFFFFFFFF:08x}"


def _req(obj: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise StateFormatError(f"{where}.{key}: missing")
    return obj[key]


def state_from_view(view: dict[str, Any]) -> GameState:
    """Rebuild a state from its canonical view; raises ``StateFormatError`` naming the field.

    The per-turn history facts (what the current player did this turn, the pie-rule gate)
    are not part of a view: a rebuilt state starts its turn afresh.
    """
    from ringrift_tasks.rules.state import GameConfig, new_game

    board_type = _req(view, "boardType", "state")
    try:
        geo = geometry(board_type)
    except ValueError as exc:
        raise StateFormatError(f"state.boardType: {exc}") from None
    players = _req(view, "players", "state")
    if not isinstance(players, list) or not 2 <= len(players) <= 4:
        raise StateFormatError("state.players: expected a list of 2 to 4 players")
    n = len(players)
    s = new_game(GameConfig(board_type, n))
    board = _req(view, "board", "state")
    try:
        for key, st in _req(board, "stacks", "state.board").items():
            rings = tuple(int(r) for r in _req(st, "rings", f"state.board.stacks[{key}]"))
            if not rings or any(not 1 <= r <= n for r in rings):
                raise StateFormatError(f"state.board.stacks[{key}].rings: bad rings {rings}")
            s.stacks[geo.cell_of_key(key)] = rings
        for key, mk in _req(board, "markers", "state.board").items():
            s.markers[geo.cell_of_key(key)] = int(_req(mk, "player", f"state.board.markers[{key}]"))
        for key, owner in _req(board, "collapsedSpaces", "state.board").items():
            s.collapsed[geo.cell_of_key(key)] = int(owner)
        elim = _req(board, "eliminatedRings", "state.board")
        for p in range(1, n + 1):
            s.board_eliminated[p] = int(elim.get(str(p), 0))
    except UnknownPositionError as exc:
        raise StateFormatError(f"state.board: {exc}") from None
    for i, pl in enumerate(players):
        p = int(_req(pl, "playerNumber", f"state.players[{i}]"))
        if p != i + 1:
            raise StateFormatError(f"state.players[{i}].playerNumber: expected {i + 1}, got {p}")
        s.player_ids[p] = str(_req(pl, "id", f"state.players[{i}]"))
        s.rings_in_hand[p] = int(_req(pl, "ringsInHand", f"state.players[{i}]"))
        s.eliminated[p] = int(_req(pl, "eliminatedRings", f"state.players[{i}]"))
        s.territory[p] = int(_req(pl, "territorySpaces", f"state.players[{i}]"))
    cp = _req(view, "currentPlayer", "state")
    if not isinstance(cp, int) or not 1 <= cp <= n:
        raise StateFormatError(f"state.currentPlayer: expected 1..{n}, got {cp!r}")
    s.current_player = cp
    phase = _req(view, "currentPhase", "state")
    if phase not in PHASES:
        raise StateFormatError(f"state.currentPhase: unknown phase {phase!r}")
    s.phase = phase
    status = _req(view, "gameStatus", "state")
    if status not in ("active", "completed", "abandoned"):
        raise StateFormatError(f"state.gameStatus: unknown status {status!r}")
    s.status = status
    s.winner = view.get("winner")
    mm = view.get("mustMoveFromStackKey")
    try:
        s.must_move_from = None if mm is None else geo.cell_of_key(mm)
        ccp = view.get("chainCapturePosition")
        s.chain_capture_pos = None if ccp is None else geo.cell_of(ccp)
    except UnknownPositionError as exc:
        raise StateFormatError(f"state: {exc}") from None
    s.pending_line_reward = bool(view.get("pendingLineRewardElimination", False))
    s.total_rings_in_play = int(view.get("totalRingsInPlay", 0))
    s.total_rings_eliminated = int(view.get("totalRingsEliminated", 0))
    s.victory_threshold = int(view.get("victoryThreshold", s.victory_threshold))
    s.territory_victory_threshold = int(
        view.get("territoryVictoryThreshold", s.territory_victory_threshold)
    )
    s.territory_victory_minimum = int(
        view.get("territoryVictoryMinimum", s.territory_victory_minimum)
    )
    s.lps_rounds_required = int(view.get("lpsRoundsRequired", 3))
    ro = view.get("rulesOptions")
    s.swap_rule_enabled = bool(ro and ro.get("swapRuleEnabled"))
    lps = view.get("lps")
    if lps:
        s.lps = LpsTracker(
            int(lps.get("roundIndex", 0)),
            lps.get("currentRoundFirstPlayer"),
            {int(k): bool(v) for k, v in lps.get("currentRoundActorMask", {}).items()},
            lps.get("exclusivePlayerForCompletedRound"),
            int(lps.get("consecutiveExclusiveRounds", 0)),
            lps.get("consecutiveExclusivePlayer"),
        )
    s.line_length = line_length(board_type, n)
    # Pie rule: a rebuilt mid-game state has it closed unless nothing was placed yet.
    s.p1_has_moved = bool(s.stacks) or s.current_player != 1
    s.p2_has_moved = s.p1_has_moved and s.current_player != 2
    return s
