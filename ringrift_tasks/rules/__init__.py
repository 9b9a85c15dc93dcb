"""The RingRift rules engine: the only room that knows a rule.

It plays exactly as the reference TypeScript engine does (proved by replaying the
reference traces, ``ringrift parity``). The small API the rest of the library uses:

- ``new_game(config)`` — the start position of ``"square8_2p"`` etc. (``GameConfig``);
- ``legal_moves(state)`` — the moves offered now, canonically ordered; when it is empty
  the host plays ``auto_move(state)`` (a bookkeeping move);
- ``apply_move(state, move)`` — in place, validated (``IllegalMoveError`` names phase,
  player and reason and leaves the state unchanged); ``state.copy()`` for search;
- ``state.status`` / ``state.winner`` / ``state.outcome`` and ``ranking(state)``;
- ``state_view`` / ``full_digest`` / ``state_from_view`` and ``Move.to_json`` /
  ``move_from_json`` — canonical JSON in and out, as in the traces.
"""

from ringrift_tasks.rules.board import BOARD_TYPES, Geometry, geometry
from ringrift_tasks.rules.errors import IllegalMoveError, RulesError
from ringrift_tasks.rules.moves import Move, MoveFormatError, canonical_json, move_from_json
from ringrift_tasks.rules.state import (
    ALL_CONFIGS,
    GameConfig,
    GameState,
    move_cap,
    new_game,
)
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.rules.victory import Victory, ranking
from ringrift_tasks.rules.view import StateFormatError, full_digest, state_from_view, state_view

__all__ = [
    "ALL_CONFIGS",
    "BOARD_TYPES",
    "GameConfig",
    "GameState",
    "Geometry",
    "IllegalMoveError",
    "Move",
    "MoveFormatError",
    "RulesError",
    "StateFormatError",
    "Victory",
    "apply_move",
    "auto_move",
    "canonical_json",
    "full_digest",
    "geometry",
    "legal_moves",
    "move_cap",
    "move_from_json",
    "new_game",
    "ranking",
    "state_from_view",
    "state_view",
]
