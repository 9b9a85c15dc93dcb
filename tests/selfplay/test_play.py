"""One game: determinism, recorded targets, step limits, and every config."""

from __future__ import annotations

import pytest

from ringrift_tasks.ai.heuristic import HeuristicAgent
from ringrift_tasks.ai.random_agent import RandomAgent
from ringrift_tasks.records.game_record import replay
from ringrift_tasks.rules import ALL_CONFIGS, GameConfig
from ringrift_tasks.rules.turn import BOOKKEEPING_TYPES
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.selfplay.temperature import TemperatureSchedule

# Big boards take a few seconds per full random game; a capped prefix is enough here.
SMOKE_STEPS = {"square8": None, "hex8": None, "square19": 300, "hexagonal": 300}


@pytest.mark.parametrize("config", [c.name for c in ALL_CONFIGS])
def test_every_config_plays_a_game_that_replays(config: str) -> None:
    cfg = GameConfig.parse(config)
    agents = [RandomAgent()] * cfg.num_players
    record = play_game(config, agents, 17, source="test", max_steps=SMOKE_STEPS[cfg.board_type])
    final = replay(record)
    assert record.config == config
    assert record.agents == ("random",) * cfg.num_players
    assert record.targets is None
    if record.result.termination == "move_cap":
        assert final.status == "active"
    else:
        assert final.winner == record.result.winner
    assert sorted(record.result.ranking) == list(range(1, cfg.num_players + 1))


def test_same_seed_same_game_different_seed_different_game() -> None:
    agents = [HeuristicAgent(), RandomAgent()]
    sched = TemperatureSchedule()
    a = play_game("square8_2p", agents, 42, source="n1", temperature=sched)
    b = play_game("square8_2p", agents, 42, source="n1", temperature=sched)
    c = play_game("square8_2p", agents, 43, source="n1", temperature=sched)
    assert a.game_id == b.game_id and a.moves == b.moves and a.targets == b.targets
    assert c.game_id != a.game_id


def test_search_targets_are_recorded_for_agent_moves_only() -> None:
    record = play_game("square8_2p", [HeuristicAgent(), RandomAgent()], 5, source="test")
    assert record.targets is not None and len(record.targets) == record.num_moves
    with_target = 0
    for move, target in zip(record.moves, record.targets, strict=True):
        if move["player"] == 2:
            assert target is None, "the random seat reports no statistics"
        elif target is not None:
            with_target += 1
            assert sum(p for _, p in target.policy) == pytest.approx(1.0, abs=1e-4)
            assert len(target.values) == 2
    # Bookkeeping moves the loop inserts for seat 1 carry no target either.
    auto_steps = sum(
        1
        for m, t in zip(record.moves, record.targets, strict=True)
        if m["player"] == 1 and t is None
    )
    assert with_target > 0 and auto_steps > 0
    assert all(
        record.moves[i]["type"] in BOOKKEEPING_TYPES
        for i in range(record.num_moves)
        if record.moves[i]["player"] == 1 and record.targets[i] is None
    )
    replay(record)


def test_max_steps_caps_the_game_as_move_cap() -> None:
    record = play_game("square8_2p", [RandomAgent(), RandomAgent()], 1, source="t", max_steps=25)
    assert record.num_moves == 25
    assert record.result.termination == "move_cap"
    assert record.result.winner is None
    replay(record)


def test_temperature_changes_heuristic_play_only_through_its_policy() -> None:
    agents = [HeuristicAgent(), HeuristicAgent()]
    greedy = play_game("square8_2p", agents, 9, source="t", max_steps=60)
    hot = play_game(
        "square8_2p", agents, 9, source="t", max_steps=60, temperature=TemperatureSchedule(60, 5.0)
    )
    assert greedy.moves != hot.moves
    replay(hot)


def test_agent_count_must_match_the_seats() -> None:
    with pytest.raises(ValueError, match="needs 3 agents, got 2"):
        play_game("hex8_3p", [RandomAgent(), RandomAgent()], 0, source="t")


def test_a_random_opening_is_drawn_from_its_own_seed_whoever_plays() -> None:
    agents_a = [HeuristicAgent(), RandomAgent()]
    agents_b = [RandomAgent(), HeuristicAgent()]
    a = play_game("square8_2p", agents_a, 1, source="t", opening_plies=4, opening_seed=77)
    b = play_game("square8_2p", agents_b, 2, source="t", opening_plies=4, opening_seed=77)
    c = play_game("square8_2p", agents_a, 1, source="t", opening_plies=4, opening_seed=78)
    assert a.moves[:4] == b.moves[:4] != c.moves[:4]
    for rec in (a, b, c):
        replay(rec)
    # The opening moves are no agent's choice: no search target is recorded for them.
    assert a.targets is not None and all(t is None for t in a.targets[:4])
    plain = play_game("square8_2p", agents_a, 1, source="t")
    assert plain.moves == play_game("square8_2p", agents_a, 1, source="t", opening_plies=0).moves
    with pytest.raises(ValueError, match="opening_plies must be >= 0"):
        play_game("square8_2p", agents_a, 1, source="t", opening_plies=-1)
