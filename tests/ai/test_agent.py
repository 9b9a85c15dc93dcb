"""The agent interface contract, checked on every agent we ship."""

from __future__ import annotations

import random

import pytest

from ringrift_tasks.ai.agent import (
    Agent,
    AgentSpecError,
    Choice,
    agent_from_spec,
    parse_spec,
)
from ringrift_tasks.ai.heuristic import HeuristicAgent
from ringrift_tasks.ai.random_agent import RandomAgent
from ringrift_tasks.rules import (
    GameState,
    apply_move,
    auto_move,
    full_digest,
    legal_moves,
    new_game,
)
from ringrift_tasks.rules.moves import Move

AGENT_SPECS = ["random", "heuristic", "heuristic:temperature=0.5"]


def positions(config: str, seed: int, every: int = 7, limit: int = 400) -> list[GameState]:
    """Positions with at least one legal move along a random game of ``config``."""
    rng = random.Random(seed)
    s = new_game(config)
    out = []
    for step in range(limit):
        if s.status != "active":
            break
        legal = legal_moves(s)
        if legal and step % every == 0:
            out.append(s.copy())
        apply_move(s, rng.choice(legal) if legal else auto_move(s), validate=False)
    return out


@pytest.mark.parametrize("spec", AGENT_SPECS)
@pytest.mark.parametrize("config", ["square8_2p", "hex8_3p", "square8_4p"])
def test_agent_contract(spec: str, config: str) -> None:
    agent = agent_from_spec(spec)
    assert isinstance(agent, Agent)
    assert agent.name in ("random", "heuristic")
    for s in positions(config, seed=11):
        legal = legal_moves(s)
        before = full_digest(s)
        choice = agent.choose(s, legal, random.Random(5))
        assert full_digest(s) == before, "choose must not mutate the state"
        assert any(choice.move is m for m in legal), "the move must come from the legal list"
        if choice.policy is not None:
            assert len(choice.policy) == len(legal)
            assert sum(choice.policy) == pytest.approx(1.0)
            assert min(choice.policy) >= 0.0
        if choice.values is not None:
            assert len(choice.values) == s.num_players
            assert all(-1.0 <= v <= 1.0 for v in choice.values)


@pytest.mark.parametrize("spec", AGENT_SPECS)
def test_agents_are_deterministic_given_the_rng(spec: str) -> None:
    agent = agent_from_spec(spec)
    for s in positions("square8_2p", seed=3):
        legal = legal_moves(s)
        a = agent.choose(s, legal, random.Random(99))
        b = agent.choose(s, legal, random.Random(99))
        assert a == b


def test_random_agent_is_uniform_and_reports_no_statistics() -> None:
    s = new_game("square8_2p")
    legal = legal_moves(s)
    rng = random.Random(1)
    picks = [legal.index(RandomAgent().choose(s, legal, rng).move) for _ in range(6000)]
    counts = [picks.count(i) for i in range(len(legal))]
    expected = 6000 / len(legal)
    assert min(counts) > 0.5 * expected and max(counts) < 1.5 * expected
    assert RandomAgent().choose(s, legal, rng).search_target() is None


def test_choice_search_target_is_sparse_over_legal_indices() -> None:
    move = Move("skip_placement", 1)
    choice = Choice(move, policy=(0.0, 0.75, 1e-9, 0.25), values=(0.5, -0.5))
    target = choice.search_target()
    assert target is not None
    assert target.policy == ((1, 0.75), (3, 0.25))
    assert target.values == (0.5, -0.5)
    assert Choice(move).search_target() is None


def test_agent_from_spec_builds_agents_with_options() -> None:
    agent = agent_from_spec("heuristic:temperature=0.25,max_candidates=16,markers=0.5")
    assert isinstance(agent, HeuristicAgent)
    assert agent.temperature == 0.25
    assert agent.max_candidates == 16
    assert agent.weights.markers == 0.5
    assert isinstance(agent_from_spec("random"), RandomAgent)
    assert parse_spec(" heuristic : a=1, b=x ") == ("heuristic", {"a": 1, "b": "x"})


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("alphazero", "unknown agent 'alphazero'"),
        ("heuristic:bogus=1", "bogus"),
        ("heuristic:temperature", "not key=value"),
        ("heuristic:temperature=-1", "temperature >= 0"),
        ("random:x=1", "x"),
        (":x=1", "missing agent name"),
    ],
)
def test_bad_agent_specs_are_named(spec: str, named: str) -> None:
    with pytest.raises(AgentSpecError, match=named):
        agent_from_spec(spec)


def test_agents_refuse_an_empty_legal_list() -> None:
    s = new_game("square8_2p")
    for agent in (RandomAgent(), HeuristicAgent()):
        with pytest.raises(ValueError, match="auto_move"):
            agent.choose(s, [], random.Random(0))
