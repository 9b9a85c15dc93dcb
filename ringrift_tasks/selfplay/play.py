"""One game: agents per seat, a seed, and the record that comes out.

``play_game`` is a pure function of its arguments (apart from ``created_at``): the same
config, agents and seed give the same moves, hence the same ``game_id``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from ringrift_tasks.ai.agent import Agent
from ringrift_tasks.records.game_record import GameRecord, SearchTarget, result_from_state
from ringrift_tasks.rules.state import GameConfig, move_cap, new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.selfplay.temperature import TemperatureSchedule, sample_index


def play_game(
    config: GameConfig | str,
    agents_by_seat: Sequence[Agent],
    seed: int,
    *,
    source: str,
    kind: str = "selfplay",
    max_steps: int | None = None,
    temperature: TemperatureSchedule | None = None,
    opening_plies: int = 0,
    opening_seed: int | None = None,
) -> GameRecord:
    """Play one game of ``config`` and return its record.

    ``agents_by_seat[i]`` plays seat ``i + 1``. ``seed`` seeds the single ``random.Random``
    shared by the agents and the temperature sampling. The game stops at its end or after
    ``max_steps`` steps (default: the reference cap ``move_cap``), then the result's
    termination is ``move_cap``. Every step is recorded as canonical move JSON; a step on
    which the agent reported search statistics gets a ``SearchTarget`` (bookkeeping steps
    played by the loop itself get ``None``; a game without any statistics stores no
    targets). With a ``temperature`` schedule, an agent's policy is re-sampled at the
    step's temperature; without one the agent's own ``Choice.move`` is played.

    ``opening_plies``: the first that many decisions are uniformly random legal moves drawn
    from their own ``random.Random(opening_seed)`` (default: ``seed``), not the agents'
    (evaluation games: the same opening seed gives the same opening whoever sits where).
    """
    cfg = GameConfig.parse(config) if isinstance(config, str) else config
    if len(agents_by_seat) != cfg.num_players:
        raise ValueError(
            f"play_game: {cfg.name} needs {cfg.num_players} agents, got {len(agents_by_seat)}"
        )
    limit = move_cap(cfg) if max_steps is None else max_steps
    if limit < 0:
        raise ValueError(f"play_game: max_steps must be >= 0, got {max_steps}")
    if opening_plies < 0:
        raise ValueError(f"play_game: opening_plies must be >= 0, got {opening_plies}")
    rng = random.Random(seed)
    opening = random.Random(seed if opening_seed is None else opening_seed)
    opened = 0
    s = new_game(cfg)
    geo = s.geo
    moves: list[dict] = []
    targets: list[SearchTarget | None] = []
    any_target = False
    for step in range(limit):
        if s.status != "active":
            break
        legal = legal_moves(s)
        target = None
        if not legal:
            move = auto_move(s)
        elif opened < opening_plies:
            opened += 1
            move = legal[opening.randrange(len(legal))]
        else:
            choice = agents_by_seat[s.current_player - 1].choose(s, legal, rng)
            move = choice.move
            if temperature is not None and choice.policy is not None:
                move = legal[sample_index(choice.policy, temperature.at(step), rng)]
            target = choice.search_target()
            any_target = any_target or target is not None
        moves.append(move.to_json(geo))
        targets.append(target)
        apply_move(s, move, validate=False)
    return GameRecord(
        config=cfg.name,
        seed=seed,
        moves=tuple(moves),
        result=result_from_state(s),
        agents=tuple(a.name for a in agents_by_seat),
        source=source,
        created_at=time.time(),
        kind=kind,
        targets=tuple(targets) if any_target else None,
    )
