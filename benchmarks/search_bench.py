"""Search speed (heuristic evaluator) and the search baselines' strength.

Prints one line per figure:

    search <config> puct single: <N> sims/s (<S> sims x <P> positions)
    search <config> gumbel single: <N> sims/s (...)
    search <config> puct batched x<G> games, <L> leaves/step: <N> sims/s (<B> positions/call)
    selfplay batched <config> x<G> games, <S> sims: <N> moves/s, <N> games/hour
    search <config> neural(<model id>, <device>) batched x<G> games, <L> leaves/step: ...
    mcts_100 vs <opponent> square8_2p: <P>% wins (<W>/<N>, seats alternated, <T> s)

"single" searches one position at a time (``search_once``); "batched" runs ``G`` searches
together through ``BatchedSearch`` (one evaluator call per step; with the heuristic
evaluator on CPU that saves call overhead only; a GPU evaluator gains from the batch).
Positions are mid-game decision positions from seeded random playouts (steps 10-90).

    python benchmarks/search_bench.py [--sims 200] [--positions 16] [--games 16]
        [--versus-games 0] [--model PATH --device auto]

``--model`` adds the batched search with that network (its board's configs only).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

from ringrift_tasks.ai.agent import Agent, agent_from_spec
from ringrift_tasks.ai.evaluator import Evaluator
from ringrift_tasks.ai.heuristic import HeuristicAgent
from ringrift_tasks.ai.heuristic_evaluator import HeuristicEvaluator
from ringrift_tasks.ai.random_agent import RandomAgent
from ringrift_tasks.ai.search import BatchedSearch, SearchConfig, TreeSearch, root_node
from ringrift_tasks.ai.search.tree import play_forced
from ringrift_tasks.rules import apply_move, auto_move, legal_moves, new_game
from ringrift_tasks.rules.state import GameState, move_cap
from ringrift_tasks.selfplay.batched_play import play_games_batched
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.selfplay.temperature import DEFAULT_SCHEDULE

CONFIGS = ("square8_2p", "hex8_2p")


def positions(config: str, count: int) -> list[GameState]:
    """``count`` decision positions from seeded random playouts."""
    out: list[GameState] = []
    seed = 0
    while len(out) < count:
        rng = random.Random(seed)
        seed += 1
        s = new_game(config)
        for _ in range(10 + rng.randrange(80)):
            legal = legal_moves(s)
            apply_move(s, rng.choice(legal) if legal else auto_move(s), validate=False)
            if s.status != "active":
                break
        play_forced(s)
        if s.status == "active":
            out.append(s)
    return out


def searches(states: list[GameState], cfg: SearchConfig) -> list[TreeSearch]:
    return [
        TreeSearch(root_node(s, legal_moves(s)), cfg, random.Random(i), move_cap(s.config))
        for i, s in enumerate(states)
    ]


def single(states: list[GameState], cfg: SearchConfig) -> float:
    """sims/s searching the positions one after another."""
    todo = searches(states, cfg)
    t0 = time.perf_counter()
    for t in todo:
        BatchedSearch(HeuristicEvaluator()).run([t])
    return cfg.simulations * len(states) / (time.perf_counter() - t0)


def batched(
    states: list[GameState], cfg: SearchConfig, evaluator: Evaluator | None = None
) -> tuple[float, float]:
    """(sims/s, positions per evaluator call) searching all positions together."""
    todo = searches(states, cfg)
    driver = BatchedSearch(evaluator or HeuristicEvaluator())
    t0 = time.perf_counter()
    driver.run(todo)
    dt = time.perf_counter() - t0
    return cfg.simulations * len(states) / dt, driver.positions / max(driver.calls, 1)


def versus(opponent: Agent, games: int) -> tuple[int, float]:
    mcts = agent_from_spec("mcts_100")
    wins = 0
    t0 = time.perf_counter()
    for g in range(games):
        seats = [mcts, opponent] if g % 2 == 0 else [opponent, mcts]
        rec = play_game("square8_2p", seats, 9000 + g, source="bench", kind="evaluation")
        wins += rec.result.winner == (1 if g % 2 == 0 else 2)
    return wins, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--positions", type=int, default=16)
    ap.add_argument("--games", type=int, default=16)
    ap.add_argument("--selfplay-sims", type=int, default=64)
    ap.add_argument("--versus-games", type=int, default=0)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    neural = None
    if args.model is not None:
        from ringrift_tasks.ai.neural_evaluator import NeuralEvaluator

        neural = NeuralEvaluator.from_file(args.model, device=args.device)
    machine = f"{platform.machine()} {platform.processor() or ''}".strip()
    print(f"# machine: {machine}, python {platform.python_version()}, {os.cpu_count()} cpus")

    for config in CONFIGS:
        states = positions(config, max(args.positions, args.games))
        one = states[: args.positions]
        cfg = SearchConfig(simulations=args.sims)
        print(
            f"search {config} puct single: {single(one, cfg):,.0f} sims/s "
            f"({args.sims} sims x {len(one)} positions)",
            flush=True,
        )
        gcfg = SearchConfig(simulations=args.sims, gumbel=True, noise=True)
        print(
            f"search {config} gumbel single: {single(one, gcfg):,.0f} sims/s "
            f"({args.sims} sims x {len(one)} positions)",
            flush=True,
        )
        for leaves in (1, 8):
            bcfg = SearchConfig(simulations=args.sims, leaves_per_step=leaves)
            rate, per_call = batched(states[: args.games], bcfg)
            print(
                f"search {config} puct batched x{args.games} games, {leaves} leaves/step: "
                f"{rate:,.0f} sims/s ({per_call:.1f} positions/call)",
                flush=True,
            )
        if neural is not None and neural.board_type == states[0].geo.board_type:
            for leaves in (1, 8):
                bcfg = SearchConfig(simulations=args.sims, leaves_per_step=leaves)
                rate, per_call = batched(states[: args.games], bcfg, neural)
                print(
                    f"search {config} neural({neural.name[:12]}, {neural.device}) batched "
                    f"x{args.games} games, {leaves} leaves/step: {rate:,.0f} sims/s "
                    f"({per_call:.1f} positions/call)",
                    flush=True,
                )
        scfg = SearchConfig(simulations=args.selfplay_sims, gumbel=True, noise=True)
        t0 = time.perf_counter()
        records = play_games_batched(
            [(config, i) for i in range(args.games)],
            HeuristicEvaluator(),
            scfg,
            agent_name="bench",
            source="bench",
            temperature=DEFAULT_SCHEDULE,
        )
        dt = time.perf_counter() - t0
        moves = sum(r.num_moves for r in records)
        print(
            f"selfplay batched {config} x{args.games} games, gumbel {args.selfplay_sims} sims: "
            f"{moves / dt:,.1f} moves/s, {len(records) / dt * 3600:,.0f} games/hour/core",
            flush=True,
        )

    if args.versus_games > 0:
        for name, opponent in (("random", RandomAgent()), ("heuristic", HeuristicAgent())):
            wins, dt = versus(opponent, args.versus_games)
            print(
                f"mcts_100 vs {name} square8_2p: {100 * wins / args.versus_games:.1f}% wins "
                f"({wins}/{args.versus_games}, seats alternated, {dt:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
