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


def _int(value: Any, where: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int within [lo, hi]; ``StateFormatError`` naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateFormatError(f"{where}: expected an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        raise StateFormatError(f"{where}: expected {bounds}, got {value}")
    return value


def _map(obj: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = _req(obj, key, where)
    if not isinstance(value, dict):
        raise StateFormatError(f"{where}.{key}: expected an object, got {type(value).__name__}")
    return value


def state_from_view(view: dict[str, Any]) -> GameState:
    """Rebuild a state from its canonical view; raises ``StateFormatError`` naming the field.

    The per-turn history facts (what the current player did this turn, the pie-rule gate)
    are not part of a view: a rebuilt state starts its turn afresh.
    """
    from ringrift_tasks.rules.state import GameConfig, new_game

    if not isinstance(view, dict):
        raise StateFormatError(f"state: expected an object, got {type(view).__name__}")
    board_type = _req(view, "boardType", "state")
    try:
        geo = geometry(board_type)
    except (ValueError, TypeError) as exc:
        raise StateFormatError(f"state.boardType: {exc}") from None
    players = _req(view, "players", "state")
    if not isinstance(players, list) or not 2 <= len(players) <= 4:
        raise StateFormatError("state.players: expected a list of 2 to 4 players")
    n = len(players)
    s = new_game(GameConfig(board_type, n))
    board = _map(view, "board", "state")

    def cell_of_key(key: str, where: str) -> int:
        try:
            return geo.cell_of_key(key)
        except UnknownPositionError as exc:
            raise StateFormatError(f"{where}: {exc}") from None

    for key, st in _map(board, "stacks", "state.board").items():
        where = f"state.board.stacks[{key}]"
        rings = _req(st, "rings", where)
        if not isinstance(rings, list) or not rings:
            raise StateFormatError(f"{where}.rings: expected a non-empty list, got {rings!r}")
        cell = cell_of_key(key, where)
        s.stacks[cell] = tuple(_int(r, f"{where}.rings", 1, n) for r in rings)
    for key, mk in _map(board, "markers", "state.board").items():
        where = f"state.board.markers[{key}]"
        cell = cell_of_key(key, where)
        s.markers[cell] = _int(_req(mk, "player", where), f"{where}.player", 1, n)
    for key, owner in _map(board, "collapsedSpaces", "state.board").items():
        where = f"state.board.collapsedSpaces[{key}]"
        cell = cell_of_key(key, where)
        if cell in s.stacks:
            raise StateFormatError(f"{where}: a collapsed space cannot hold a stack ({key})")
        if cell in s.markers:
            raise StateFormatError(f"{where}: a collapsed space cannot hold a marker ({key})")
        s.collapsed[cell] = _int(owner, where, 1, n)
    elim = _map(board, "eliminatedRings", "state.board")
    for p in range(1, n + 1):
        s.board_eliminated[p] = _int(elim.get(str(p), 0), f"state.board.eliminatedRings.{p}", 0)
    for i, pl in enumerate(players):
        where = f"state.players[{i}]"
        p = _int(_req(pl, "playerNumber", where), f"{where}.playerNumber", 1, n)
        if p != i + 1:
            raise StateFormatError(f"{where}.playerNumber: expected {i + 1}, got {p}")
        s.player_ids[p] = str(_req(pl, "id", where))
        s.rings_in_hand[p] = _int(_req(pl, "ringsInHand", where), f"{where}.ringsInHand", 0)
        s.eliminated[p] = _int(_req(pl, "eliminatedRings", where), f"{where}.eliminatedRings", 0)
        s.territory[p] = _int(_req(pl, "territorySpaces", where), f"{where}.territorySpaces", 0)
    s.current_player = _int(_req(view, "currentPlayer", "state"), "state.currentPlayer", 1, n)
    phase = _req(view, "currentPhase", "state")
    if phase not in PHASES:
        raise StateFormatError(f"state.currentPhase: unknown phase {phase!r}")
    s.phase = phase
    status = _req(view, "gameStatus", "state")
    if status not in ("active", "completed", "abandoned"):
        raise StateFormatError(f"state.gameStatus: unknown status {status!r}")
    s.status = status
    winner = view.get("winner")
    s.winner = None if winner is None else _int(winner, "state.winner", 1, n)
    mm = view.get("mustMoveFromStackKey")
    s.must_move_from = None if mm is None else cell_of_key(mm, "state.mustMoveFromStackKey")
    ccp = view.get("chainCapturePosition")
    try:
        s.chain_capture_pos = None if ccp is None else geo.cell_of(ccp)
    except UnknownPositionError as exc:
        raise StateFormatError(f"state.chainCapturePosition: {exc}") from None
    s.pending_line_reward = bool(view.get("pendingLineRewardElimination", False))
    s.total_rings_in_play = _int(view.get("totalRingsInPlay", 0), "state.totalRingsInPlay", 0)
    s.total_rings_eliminated = _int(
        view.get("totalRingsEliminated", 0), "state.totalRingsEliminated", 0
    )
    s.victory_threshold = _int(
        view.get("victoryThreshold", s.victory_threshold), "state.victoryThreshold", 1
    )
    s.territory_victory_threshold = _int(
        view.get("territoryVictoryThreshold", s.territory_victory_threshold),
        "state.territoryVictoryThreshold",
        1,
    )
    s.territory_victory_minimum = _int(
        view.get("territoryVictoryMinimum", s.territory_victory_minimum),
        "state.territoryVictoryMinimum",
        1,
    )
    s.lps_rounds_required = _int(view.get("lpsRoundsRequired", 3), "state.lpsRoundsRequired", 1)
    ro = view.get("rulesOptions")
    if ro is not None and not isinstance(ro, dict):
        raise StateFormatError(f"state.rulesOptions: expected an object or null, got {ro!r}")
    s.swap_rule_enabled = bool(ro and ro.get("swapRuleEnabled"))
    lps = view.get("lps")
    if lps:
        if not isinstance(lps, dict):
            raise StateFormatError(f"state.lps: expected an object, got {lps!r}")
        mask = lps.get("currentRoundActorMask", {})
        if not isinstance(mask, dict):
            raise StateFormatError("state.lps.currentRoundActorMask: expected an object")
        s.lps = LpsTracker(
            _int(lps.get("roundIndex", 0), "state.lps.roundIndex", 0),
            lps.get("currentRoundFirstPlayer"),
            {int(k): bool(v) for k, v in mask.items()},
            lps.get("exclusivePlayerForCompletedRound"),
            _int(
                lps.get("consecutiveExclusiveRounds", 0), "state.lps.consecutiveExclusiveRounds", 0
            ),
            lps.get("consecutiveExclusivePlayer"),
        )
    s.line_length = line_length(board_type, n)
    # Pie rule: a rebuilt mid-game state has it closed unless nothing was placed yet.
    s.p1_has_moved = bool(s.stacks) or s.current_player != 1
    s.p2_has_moved = s.p1_has_moved and s.current_player != 2
    return s
