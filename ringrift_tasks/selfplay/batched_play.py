"""Self-play of many games at once, their searches sharing one evaluator.

``play_games_batched`` plays every game exactly as ``play.play_game`` would with a
``SearchAgent`` on every seat (same seed → same ``random.Random``, same draws in the same
order, same temperature schedule, same record), but all the games' searches advance
together through one ``BatchedSearch``: each step sends the leaves of every game to the
evaluator in one call, so a GPU evaluator sees ``games x leaves_per_step`` positions at a
time. With ``leaves_per_step = 1`` the moves are identical to ``play_game``'s.

Every decision step is recorded with its ``SearchTarget`` (the search's policy target and
root value per seat); bookkeeping steps get ``None``. No decision goes unrecorded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ringrift_tasks.ai.agent import Choice
from ringrift_tasks.ai.evaluator import Evaluator
from ringrift_tasks.ai.search import BatchedSearch, SearchConfig, TreeSearch, root_node
from ringrift_tasks.ai.search.tree import Node, find_descendant
from ringrift_tasks.records.game_record import GameRecord, SearchTarget, result_from_state
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameConfig, GameState, move_cap, new_game
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.selfplay.temperature import TemperatureSchedule, sample_index


@dataclass(slots=True)
class _Game:
    cfg: GameConfig
    seed: int
    limit: int
    search_limit: int
    rng: random.Random
    state: GameState
    moves: list[dict] = field(default_factory=list)
    targets: list[SearchTarget | None] = field(default_factory=list)
    root: Node | None = None  # the last search's tree, searched for the next decision
    legal: list[Move] = field(default_factory=list)

    @property
    def step(self) -> int:
        return len(self.moves)

    def play(self, move: Move, target: SearchTarget | None) -> None:
        self.moves.append(move.to_json(self.state.geo))
        self.targets.append(target)
        apply_move(self.state, move, validate=False)

    def advance(self) -> bool:
        """Play bookkeeping steps up to the next decision; False once the game is over."""
        s = self.state
        while s.status == "active" and self.step < self.limit:
            legal = legal_moves(s)
            if legal:
                self.legal = legal
                return True
            self.play(auto_move(s), None)
        return False


def _reusable(kept: Node | None, s: GameState, legal: Sequence[Move]) -> Node | None:
    """The node of the kept tree for exactly ``s`` (as ``SearchAgent`` finds it), or None."""
    if kept is None:
        return None
    node = find_descendant(kept, s, legal)
    if node is not None:
        node.kind = "decision"  # a capped leaf of the last search is searched now
    return node


def play_games_batched(
    games: Sequence[tuple[GameConfig | str, int]],
    evaluator: Evaluator,
    search: SearchConfig,
    *,
    agent_name: str,
    source: str,
    kind: str = "selfplay",
    max_steps: int | None = None,
    temperature: TemperatureSchedule | None = None,
    reuse_tree: bool = True,
) -> list[GameRecord]:
    """Play ``games`` (config, seed) with the same search on every seat; records in order.

    ``agent_name`` is recorded for every seat. ``max_steps`` caps every game (default: the
    reference ``move_cap`` of its config; a capped game's termination is ``move_cap``); the
    search's own step limit is ``search.max_steps`` or the game's. ``temperature``: as in
    ``play_game``, the move is sampled from the policy target at the step's temperature;
    without it the search's move is played.
    """
    if max_steps is not None and max_steps < 0:
        raise ValueError(f"play_games_batched: max_steps must be >= 0, got {max_steps}")
    live: list[_Game] = []
    for config, seed in games:
        cfg = GameConfig.parse(config) if isinstance(config, str) else config
        limit = move_cap(cfg) if max_steps is None else max_steps
        search_limit = limit if search.max_steps is None else search.max_steps
        live.append(_Game(cfg, seed, limit, search_limit, random.Random(seed), new_game(cfg)))
    driver = BatchedSearch(evaluator)
    playing = [g for g in live if g.advance()]
    while playing:
        searches = []
        for g in playing:
            root = _reusable(g.root, g.state, g.legal) if reuse_tree else None
            if root is None:
                root = root_node(g.state, g.legal)
            g.root = root
            searches.append(TreeSearch(root, search, g.rng, g.search_limit))
        results = driver.run(searches)
        for g, result in zip(playing, results, strict=True):
            root = g.root
            assert root is not None
            index = result.move_index
            if temperature is not None:
                index = sample_index(result.policy, temperature.at(g.step), g.rng)
            choice = Choice(g.legal[index], result.policy, result.values)
            g.play(g.legal[index], choice.search_target())
            g.root = root if reuse_tree else None
        playing = [g for g in playing if g.advance()]
    name = agent_name
    return [
        GameRecord(
            config=g.cfg.name,
            seed=g.seed,
            moves=tuple(g.moves),
            result=result_from_state(g.state),
            agents=(name,) * g.cfg.num_players,
            source=source,
            created_at=time.time(),
            kind=kind,
            targets=tuple(g.targets) if any(t is not None for t in g.targets) else None,
        )
        for g in live
    ]
