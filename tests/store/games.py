"""Data for the store tests: real games played at random through the rules engine
(Mulberry32-seeded) and synthetic match logs drawn from known strengths."""

from __future__ import annotations

import dataclasses

import numpy as np

from ringrift_tasks.records.game_record import GameRecord, result_from_state
from ringrift_tasks.rules.prng import Mulberry32
from ringrift_tasks.rules.state import GameConfig, move_cap, new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves


def play_random_game(
    config: str = "square8_2p",
    seed: int = 1,
    *,
    source: str = "test-node",
    created_at: float = 1_700_000_000.0,
    max_steps: int | None = None,
) -> GameRecord:
    """Play one game with uniformly random legal moves (Mulberry32(seed)) and record it.

    ``max_steps`` stops early (a ``move_cap`` result), which keeps big-board games short.
    """
    s = new_game(config)
    rng = Mulberry32(seed)
    cap = move_cap(GameConfig.parse(config)) if max_steps is None else max_steps
    moves = []
    while s.status == "active" and len(moves) < cap:
        legal = legal_moves(s)
        move = legal[rng.index(len(legal))] if legal else auto_move(s)
        moves.append(move.to_json(s.geo))
        apply_move(s, move, validate=False)
    players = GameConfig.parse(config).num_players
    return GameRecord(
        config=config,
        seed=seed,
        moves=tuple(moves),
        result=result_from_state(s),
        agents=tuple("random" for _ in range(players)),
        source=source,
        created_at=created_at + seed,
    )


def copies(games: list[GameRecord], n: int, tag: str = "copy") -> list[GameRecord]:
    """``n`` distinct records from real games: same moves, another source node (so another id)."""
    return [
        dataclasses.replace(games[k % len(games)], source=f"{tag}-{k}", game_id="")
        for k in range(n)
    ]


TRUE = {"random": 400.0, "heuristic": 750.0, "mcts_100": 1000.0, "mcts_500": 1150.0}


def synthetic_log(seed: int, n: int, players: int = 2) -> list[list[str]]:
    """Matches drawn from ``TRUE``: a Plackett-Luce order (each place won with BT odds)."""
    rng = np.random.default_rng(seed)
    names = list(TRUE)
    log = []
    for _ in range(n):
        left = [names[i] for i in rng.choice(len(names), players, replace=False)]
        order = []
        while left:
            w = np.array([10 ** (TRUE[a] / 400) for a in left])
            pick = left[rng.choice(len(left), p=w / w.sum())]
            order.append(pick)
            left.remove(pick)
        log.append(order)
    return log
