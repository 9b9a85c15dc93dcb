"""MCTS (PUCT and Gumbel) over the rules: what it finds, what it counts, what it reuses."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ringrift_tasks.ai.agent import AgentSpecError, agent_from_spec
from ringrift_tasks.ai.evaluator import Evaluation
from ringrift_tasks.ai.heuristic_evaluator import HeuristicEvaluator
from ringrift_tasks.ai.random_agent import RandomAgent
from ringrift_tasks.ai.search import (
    BatchedSearch,
    SearchConfig,
    TreeSearch,
    rank_values,
    root_node,
    search_once,
)
from ringrift_tasks.ai.search.gumbel import considered_visit_schedule
from ringrift_tasks.ai.search.puct import puct_select
from ringrift_tasks.ai.search.tree import Node, play_forced
from ringrift_tasks.ai.search_agent import SearchAgent
from ringrift_tasks.records.game_record import replay
from ringrift_tasks.rules import apply_move, auto_move, legal_moves, new_game
from ringrift_tasks.rules.moves import Move, move_from_json
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.rules.view import full_digest
from ringrift_tasks.selfplay.batched_play import play_games_batched
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.selfplay.temperature import DEFAULT_SCHEDULE
from tests.rules.positions import build_position

CAP = 600


class DigestEvaluator:
    """A deterministic stand-in for a network: priors and per-seat values drawn from the
    position's digest, so every seat gets a different, reproducible opinion."""

    name = "digest"

    def evaluate(
        self, states: Sequence[GameState], legal: Sequence[Sequence[Move]]
    ) -> list[Evaluation]:
        out = []
        for s, moves in zip(states, legal, strict=True):
            seed = int(hashlib.sha256(full_digest(s).encode()).hexdigest()[:16], 16)
            r = np.random.default_rng(seed)
            priors = r.random(len(moves)).astype(np.float32) + 0.05
            out.append(Evaluation(priors / priors.sum(), r.uniform(-1, 1, s.num_players)))
        return out


def position_after(config: str, steps: int, seed: int = 0) -> GameState:
    """A decision position reached by ``steps`` random steps (then bookkeeping)."""
    rng = random.Random(seed)
    s = new_game(config)
    for _ in range(steps):
        legal = legal_moves(s)
        apply_move(s, rng.choice(legal) if legal else auto_move(s), validate=False)
    play_forced(s)
    assert s.status == "active"
    return s


def win_in_one() -> GameState:
    """Both players one ring short of the elimination threshold. Player 1 (to move) wins
    by landing its (3,3) stack on its own marker at (3,6); every other move leaves player 2
    the same win with (7,7) onto (7,4)."""
    s = build_position(
        "square8_2p",
        stacks={(3, 3): (1,), (5, 5): (1,), (7, 7): (2,)},
        markers={(3, 6): 1, (7, 4): 2},
        in_hand=0,
        phase="movement",
        player=1,
    )
    for p in (1, 2):
        s.eliminated[p] = s.board_eliminated[p] = s.victory_threshold - 1
    s.total_rings_eliminated = 2 * (s.victory_threshold - 1)
    return s


def winning_moves(s: GameState) -> list[int]:
    out = []
    for i, m in enumerate(legal_moves(s)):
        child = s.copy()
        apply_move(child, m, validate=False)
        play_forced(child)
        if child.status != "active" and child.winner == s.current_player:
            out.append(i)
    return out


def walk(node: Node):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        if child is not None:
            yield from walk(child)


# --- finding wins ---------------------------------------------------------------------------
@pytest.mark.parametrize("gumbel", [False, True])
def test_search_plays_the_win_in_one(gumbel: bool) -> None:
    s = win_in_one()
    legal = legal_moves(s)
    wins = winning_moves(s)
    assert len(wins) == 1 and len(legal) > 20
    # Gumbel considers every move here: with uniform priors a top-16 would be arbitrary.
    cfg = SearchConfig(simulations=100, gumbel=gumbel, max_considered=64)
    result = search_once(root_node(s, legal), HeuristicEvaluator(), cfg, random.Random(1), CAP)
    assert result.move_index == wins[0]
    assert result.policy[wins[0]] == max(result.policy)


def test_mcts_100_beats_random_on_square8_2p() -> None:
    """10 games, seats alternated: at least 8 wins (measured: 10/10 in ~15-20 s)."""
    mcts, rand = agent_from_spec("mcts_100"), RandomAgent()
    wins = 0
    for g in range(10):
        seats = [mcts, rand] if g % 2 == 0 else [rand, mcts]
        record = play_game("square8_2p", seats, 700 + g, source="test", kind="evaluation")
        wins += record.result.winner == (1 if g % 2 == 0 else 2)
    assert wins >= 8, f"mcts_100 won only {wins}/10 against random"


# --- what a search returns --------------------------------------------------------------------
@pytest.mark.parametrize("gumbel", [False, True])
@pytest.mark.parametrize("config", ["square8_2p", "hex8_3p"])
def test_root_visits_sum_to_the_simulations(gumbel: bool, config: str) -> None:
    s = position_after(config, 20)
    root = root_node(s, legal_moves(s))
    cfg = SearchConfig(simulations=37, gumbel=gumbel, noise=True)
    result = search_once(root, DigestEvaluator(), cfg, random.Random(2), CAP)
    assert sum(result.visits) == 37
    assert root.n == 1 + 37  # the root's own evaluation, then one backup per simulation


@pytest.mark.parametrize("gumbel", [False, True])
@pytest.mark.parametrize("noise", [False, True])
def test_policy_is_a_distribution_over_the_legal_moves(gumbel: bool, noise: bool) -> None:
    s = position_after("square8_2p", 35, seed=3)
    legal = legal_moves(s)
    cfg = SearchConfig(simulations=40, gumbel=gumbel, noise=noise)
    result = search_once(root_node(s, legal), DigestEvaluator(), cfg, random.Random(5), CAP)
    assert len(result.policy) == len(legal) == len(result.visits)
    assert all(p >= 0 for p in result.policy)
    assert math.isclose(sum(result.policy), 1.0, abs_tol=1e-9)
    assert 0 <= result.move_index < len(legal)
    assert len(result.values) == 2 and all(-1 <= v <= 1 for v in result.values)


def test_gumbel_schedule_halves_the_considered_moves() -> None:
    # 4 moves, 8 simulations: one visit each, then the best 2 get two more each.
    assert considered_visit_schedule(4, 8) == [0, 0, 0, 0, 1, 1, 2, 2]
    assert considered_visit_schedule(1, 3) == [0, 1, 2]


# --- values and backup --------------------------------------------------------------------------
def test_rank_values_spread_from_plus_one_to_minus_one() -> None:
    s = new_game("square8_3p")
    s.status, s.winner = "completed", 2
    s.territory[3] = 5  # ranks seat 3 above seat 1
    assert rank_values(s) == [-1.0, 1.0, 0.0]
    s2 = new_game("square8_2p")
    s2.status, s2.winner = "completed", 1
    assert rank_values(s2) == [1.0, -1.0]


class RecordingEvaluator(DigestEvaluator):
    """DigestEvaluator that keeps every value vector it handed out."""

    def __init__(self) -> None:
        self.given: list[np.ndarray] = []

    def evaluate(
        self, states: Sequence[GameState], legal: Sequence[Sequence[Move]]
    ) -> list[Evaluation]:
        out = super().evaluate(states, legal)
        self.given.extend(e.values for e in out)
        return out


def test_multiplayer_backup_on_a_tiny_tree() -> None:
    """Three simulations in a 3-player position: the root's per-seat sum is exactly its own
    evaluation plus the three leaves', and each edge holds its leaf's full vector."""
    s = position_after("square8_3p", 30, seed=4)
    root = root_node(s, legal_moves(s))
    ev = RecordingEvaluator()
    search_once(root, ev, SearchConfig(simulations=3), random.Random(0), CAP)
    assert len(ev.given) == 4  # the root, then one leaf per simulation
    assert root.n == 4
    assert np.allclose(root.w, np.sum(ev.given, axis=0))
    for a, child in enumerate(root.children):
        if child is not None:
            assert root.child_n[a] == child.n
            assert math.isclose(root.child_wm[a], child.w[root.to_play - 1])


def test_multiplayer_backup_adds_the_full_value_vector_on_every_edge() -> None:
    s = position_after("square8_3p", 30, seed=4)
    root = root_node(s, legal_moves(s))
    search_once(root, DigestEvaluator(), SearchConfig(simulations=60), random.Random(0), CAP)
    for node in walk(root):
        if node.kind != "decision":
            continue
        assert node.values is not None
        children = [c for c in node.children if c is not None]
        # Own evaluation + everything backed up through the children, seat by seat.
        expected = np.array(node.values) + sum((np.array(c.w) for c in children), np.zeros(3))
        assert node.n == 1 + sum(c.n for c in children)
        assert np.allclose(node.w, expected)
        for a, c in enumerate(node.children):
            if c is not None:
                assert node.child_n[a] == c.n
                assert math.isclose(node.child_wm[a], c.w[node.to_play - 1])


def test_selection_follows_the_value_of_the_player_to_move() -> None:
    s = position_after("square8_3p", 30, seed=4)
    legal = legal_moves(s)
    assert len(legal) >= 2
    node = root_node(s, legal[:2])  # a two-edge node is enough
    node.expand([0.5, 0.5])
    node.values = [0.0, 0.0, 0.0]
    node.add(node.values)
    mover = node.to_play
    # Edge 0 is good for the mover, edge 1 for everybody else; equal visits and priors.
    good = [-0.9, -0.9, -0.9]
    good[mover - 1] = 0.9
    bad = [0.9, 0.9, 0.9]
    bad[mover - 1] = -0.9
    for a, v in enumerate((good, bad)):
        node.child_n[a] = 3.0
        node.child_wm[a] = 3.0 * v[mover - 1]
    assert puct_select(node, [0.5, 0.5], c_puct=1.5, fpu_reduction=0.25) == 0
    # The same statistics seen by a player for whom edge 1 is the good one.
    node.child_wm = [3.0 * bad[mover - 1], 3.0 * good[mover - 1]]
    assert puct_select(node, [0.5, 0.5], c_puct=1.5, fpu_reduction=0.25) == 1


def test_capped_positions_are_leaves_judged_by_the_evaluator() -> None:
    s = position_after("square8_2p", 30, seed=6)
    root = root_node(s, legal_moves(s))
    cfg = SearchConfig(simulations=30)
    search_once(root, DigestEvaluator(), cfg, random.Random(0), max_steps=s.moves_played + 1)
    children = [c for c in root.children if c is not None]
    assert children and all(c.kind in ("capped", "terminal") for c in children)
    assert all(not c.expanded for c in children if c.kind == "capped")


# --- tree reuse ---------------------------------------------------------------------------------
def test_tree_reuse_keeps_the_subtree_visit_counts() -> None:
    agent = SearchAgent(DigestEvaluator(), SearchConfig(simulations=50))
    s = position_after("square8_2p", 25, seed=7)
    legal = legal_moves(s)
    choice = agent.choose(s, legal, random.Random(0))
    old_root = agent._root
    assert old_root is not None
    child = old_root.children[legal.index(choice.move)]
    assert child is not None and child.n > 0
    before = (child.n, list(child.child_n))

    nxt = s.copy()
    apply_move(nxt, choice.move, validate=False)
    play_forced(nxt)
    agent.choose(nxt, legal_moves(nxt), random.Random(0))
    assert agent._root is child and agent.reused == 1
    assert child.n == before[0] + 50
    assert all(after >= b for after, b in zip(child.child_n, before[1], strict=True))
    assert sum(child.child_n) == sum(before[1]) + 50


def test_an_unrelated_position_rebuilds_the_tree() -> None:
    agent = SearchAgent(DigestEvaluator(), SearchConfig(simulations=20))
    s = position_after("square8_2p", 25, seed=7)
    agent.choose(s, legal_moves(s), random.Random(0))
    other = position_after("square8_2p", 41, seed=8)
    agent.choose(other, legal_moves(other), random.Random(0))
    assert agent.reused == 0
    assert agent._root is not None and agent._root.n == 21


# --- batching ------------------------------------------------------------------------------------
@pytest.mark.parametrize("gumbel", [False, True])
def test_batched_search_equals_unbatched_search(gumbel: bool) -> None:
    cfg = SearchConfig(simulations=40, gumbel=gumbel, noise=True)
    positions = [
        position_after(c, 20 + i, seed=i)
        for i, c in enumerate(["square8_2p", "hex8_2p", "square8_3p", "square8_2p"])
    ]
    alone = [
        search_once(root_node(s, legal_moves(s)), DigestEvaluator(), cfg, random.Random(i), CAP)
        for i, s in enumerate(positions)
    ]
    driver = BatchedSearch(DigestEvaluator())
    together = driver.run(
        [
            TreeSearch(root_node(s, legal_moves(s)), cfg, random.Random(i), CAP)
            for i, s in enumerate(positions)
        ]
    )
    assert together == alone
    assert driver.calls == 1 + 40  # the roots together, then one call per simulation step


def test_several_leaves_per_tree_use_virtual_loss_and_keep_the_budget() -> None:
    s = position_after("square8_2p", 30, seed=9)
    root = root_node(s, legal_moves(s))
    cfg = SearchConfig(simulations=64, leaves_per_step=8)
    driver = BatchedSearch(DigestEvaluator())
    result = driver.run([TreeSearch(root, cfg, random.Random(0), CAP)])[0]
    assert sum(result.visits) == 64
    assert driver.calls < 64  # leaves went to the evaluator together
    assert all(not any(node.child_vl) for node in walk(root))  # every virtual loss undone


def test_batched_self_play_plays_the_same_games_as_play_game() -> None:
    cfg = SearchConfig(simulations=12, noise=True, max_steps=80)
    seeds = [11, 12, 13]
    single = [
        play_game(
            "square8_2p",
            [SearchAgent(DigestEvaluator(), cfg, name="mcts-test")] * 2,
            seed,
            source="test",
            max_steps=80,
            temperature=DEFAULT_SCHEDULE,
        )
        for seed in seeds
    ]
    batched = play_games_batched(
        [("square8_2p", seed) for seed in seeds],
        DigestEvaluator(),
        cfg,
        agent_name="mcts-test",
        source="test",
        max_steps=80,
        temperature=DEFAULT_SCHEDULE,
    )
    for a, b in zip(single, batched, strict=True):
        assert (a.game_id, a.moves, a.targets, a.result) == (
            b.game_id,
            b.moves,
            b.targets,
            b.result,
        )


def test_batched_self_play_records_a_target_for_every_decision() -> None:
    cfg = SearchConfig(simulations=8, gumbel=True, noise=True, leaves_per_step=4)
    records = play_games_batched(
        [("square8_2p", 1), ("hex8_2p", 2), ("square8_3p", 3)],
        HeuristicEvaluator(),
        cfg,
        agent_name="gumbel-test",
        source="test",
        max_steps=60,
        temperature=DEFAULT_SCHEDULE,
    )
    for rec in records:
        assert rec.targets is not None and len(rec.targets) == rec.num_moves
        s = new_game(rec.config)
        for mj, target in zip(rec.moves, rec.targets, strict=True):
            legal = legal_moves(s)
            if legal:
                assert target is not None and len(target.values) == s.num_players
                assert math.isclose(sum(p for _, p in target.policy), 1.0, abs_tol=1e-4)
                assert all(0 <= i < len(legal) for i, _ in target.policy)
            else:
                assert target is None
            apply_move(s, move_from_json(mj, s.geo), validate=True)
        replay(rec)


# --- determinism, specs, the evaluator ----------------------------------------------------------
@pytest.mark.parametrize("spec", ["mcts:sims=30,noise=1", "mcts:sims=30,noise=1,gumbel=1"])
def test_a_search_is_a_function_of_the_rng_seed(spec: str) -> None:
    s = position_after("square8_2p", 12, seed=10)
    legal = legal_moves(s)
    a = agent_from_spec(spec).choose(s, legal, random.Random(42))
    b = agent_from_spec(spec).choose(s, legal, random.Random(42))
    c = agent_from_spec(spec).choose(s, legal, random.Random(43))
    assert (a.move, a.policy, a.values) == (b.move, b.policy, b.values)
    assert a.policy != c.policy


def test_specs_build_search_agents_and_reject_bad_options() -> None:
    assert agent_from_spec("mcts_100").name == "mcts_100"
    agent = agent_from_spec("mcts_500")
    assert isinstance(agent, SearchAgent) and agent.config.simulations == 500
    custom = agent_from_spec("mcts:sims=64,gumbel=1,c_puct=2,prior=one_ply")
    assert isinstance(custom, SearchAgent)
    assert (custom.config.simulations, custom.config.gumbel, custom.config.c_puct) == (
        64,
        True,
        2.0,
    )
    with pytest.raises(AgentSpecError, match="bogus"):
        agent_from_spec("mcts:bogus=1")
    with pytest.raises(AgentSpecError, match="simulations=0"):
        agent_from_spec("mcts:sims=0")
    with pytest.raises(AgentSpecError, match="gumbel"):
        agent_from_spec("mcts:gumbel=2")


def test_heuristic_evaluator_values_and_priors() -> None:
    s = win_in_one()
    legal = legal_moves(s)
    uniform, one_ply = (
        HeuristicEvaluator(prior=p).evaluate([s], [legal])[0] for p in ("uniform", "one_ply")
    )
    assert np.allclose(uniform.priors, 1 / len(legal))
    assert math.isclose(float(one_ply.priors.sum()), 1.0, rel_tol=1e-5)
    assert int(np.argmax(one_ply.priors)) == winning_moves(s)[0]
    assert np.allclose(uniform.values, one_ply.values)
    assert math.isclose(float(uniform.values[0]), -float(uniform.values[1]), abs_tol=1e-6)
    assert all(-1 <= v <= 1 for v in uniform.values)
    with pytest.raises(ValueError, match="prior"):
        HeuristicEvaluator(prior="oracle")


def test_a_move_that_changes_nothing_is_a_draw_leaf_not_a_loop() -> None:
    """``process_line`` on an overlong line leaves the position as it was (the rules offer
    it again); searching through it would loop to the step limit."""
    s = build_position(
        "square8_2p",
        stacks={(5, 5): (2,), (6, 6): (1,)},
        markers={(1, y): 2 for y in range(5)},
        in_hand=10,
        phase="line_processing",
        player=2,
    )
    legal = legal_moves(s)
    noop = next(i for i, m in enumerate(legal) if m.type == "process_line")
    root = root_node(s, legal)
    result = search_once(
        root, HeuristicEvaluator(), SearchConfig(simulations=60), random.Random(0), CAP
    )
    leaf = root.children[noop]
    assert leaf is not None and leaf.kind == "repeat" and leaf.values == [0.0, 0.0]
    assert not leaf.children  # never expanded
    assert result.move_index != noop  # player 2 stands better than a draw here


def test_a_model_path_makes_the_search_use_the_network(tmp_path: Path) -> None:
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    model = build_model(default_model_config("square8", blocks=1, channels=16), seed=0)
    path, sha = save_model(
        model, ModelCard(config="square8_2p", model_config=model.config), tmp_path
    )
    agent = agent_from_spec(f"mcts:sims=16,gumbel=1,noise=1,model={path},device=cpu")
    assert isinstance(agent, SearchAgent) and agent.evaluator.name == sha
    record = play_game("square8_2p", [agent, agent], 3, source="test", max_steps=12)
    assert record.targets is not None
    assert any(t is not None and t.policy for t in record.targets)
    with pytest.raises(AgentSpecError, match="no such model file"):
        agent_from_spec(f"mcts:model={tmp_path / 'missing.safetensors'}")
