"""Playing strength from an empty pool: bootstrap, train, a few NN generations, evaluate.

On square8_2p, on the CPU, within ``--minutes``:

1. heuristic self-play (with the loop's temperature schedule) into an empty game pool;
2. train generation 0 on it (``training.trainer.train``), make it the best model;
3. NN generations: self-play with the best model + Gumbel search (``batched_play``),
   then train the next generation from the best (window = newest games) and promote it;
4. evaluate the last model + search against ``random`` and ``heuristic``, seats
   alternating, and print one line per figure (win rate, games, elapsed time).

The budget is split by phase (``--minutes``): bootstrap and NN self-play stop early when
their share runs out, so the figures say what the time bought.

    python benchmarks/strength.py [--minutes 30] [--threads 2] [--bootstrap-games 400]
        [--generations 2] [--selfplay-games 64] [--sims 32] [--eval-games 40]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from ringrift_tasks.ai.agent import agent_from_spec
from ringrift_tasks.ai.model_file import load_model
from ringrift_tasks.ai.network import default_model_config
from ringrift_tasks.ai.neural_evaluator import NeuralEvaluator
from ringrift_tasks.ai.search import SearchConfig
from ringrift_tasks.ai.search_agent import SearchAgent
from ringrift_tasks.config import load_config
from ringrift_tasks.selfplay.batched_play import play_games_batched
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.store import open_store
from ringrift_tasks.training.temperature import scheduler_from_settings
from ringrift_tasks.training.trainer import TrainResult, train

CONFIG = "square8_2p"


class Clock:
    def __init__(self, minutes: float) -> None:
        self.t0 = time.perf_counter()
        self.budget = minutes * 60.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.budget - self.elapsed()


def _promote(store, model_id: str) -> None:  # type: ignore[no-untyped-def]
    out = store.registry.promote(
        CONFIG, model_id, {"benchmark": "strength"}, cooldown_s=0, max_per_day=10_000
    )
    if not out.promoted:
        raise RuntimeError(f"promotion refused: {out.reason}")


def _metric(result: TrainResult, key: str) -> float:
    return float(result.metrics.get(key, float("nan")))


def evaluate(
    model_path: Path, opponent: str, games: int, sims: int, deadline: float
) -> tuple[int, int, int]:
    """(wins, games played, games capped) of model+search against ``opponent``."""
    loaded = load_model(model_path)
    evaluator = NeuralEvaluator(
        loaded.model, "cpu", temperature=loaded.card.calibration_temperature, name="model"
    )
    wins = played = capped = 0
    for g in range(games):
        if time.perf_counter() > deadline and played >= 10:
            break
        agent = SearchAgent(evaluator, SearchConfig(simulations=sims), name="model")
        other = agent_from_spec(opponent)
        model_seat = 1 + g % 2
        seats = [agent, other] if model_seat == 1 else [other, agent]
        rec = play_game(CONFIG, seats, 10_000 + g, source="strength-eval", kind="evaluation")
        played += 1
        wins += rec.result.winner == model_seat
        capped += rec.result.termination == "move_cap"
    return wins, played, capped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bootstrap-games", type=int, default=400)
    ap.add_argument("--generations", type=int, default=2)
    ap.add_argument("--selfplay-games", type=int, default=64)
    ap.add_argument("--sims", type=int, default=32, help="self-play simulations per move")
    ap.add_argument("--eval-sims", type=int, default=32)
    ap.add_argument("--eval-games", type=int, default=40)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--home", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    clock = Clock(args.minutes)
    home = args.home or Path(tempfile.mkdtemp(prefix="ringrift-strength-"))
    cfg = load_config(env={"RINGRIFT_HOME": str(home)})
    store = open_store(f"sqlite:///{home / 'ringrift.db'}")
    schedule = scheduler_from_settings(cfg.selfplay)
    model = default_model_config("square8", blocks=args.blocks, channels=args.channels).to_dict()
    print(
        f"# strength {CONFIG}: {args.minutes:g} min budget, {torch.get_num_threads()} threads, "
        f"net {args.blocks}x{args.channels}, home {home}",
        flush=True,
    )

    # 1. Bootstrap: heuristic self-play (at most 25% of the budget).
    t = time.perf_counter()
    heuristic = agent_from_spec("heuristic")
    records = []
    for g in range(args.bootstrap_games):
        if clock.elapsed() > 0.25 * clock.budget and g >= 50:
            break
        records.append(
            play_game(CONFIG, [heuristic, heuristic], g, source="bootstrap", temperature=schedule)
        )  # type: ignore[arg-type]
    store.pool.insert_records(records)
    print(
        f"bootstrap heuristic self-play: {len(records)} games in {time.perf_counter() - t:.0f} s",
        flush=True,
    )

    # 2. Generation 0.
    t = time.perf_counter()
    result = train(
        cfg,
        CONFIG,
        store,
        home / "runs" / "gen0",
        args.steps,
        args.batch_size,
        seed=0,
        model=model,
        checkpoint_every=200,
    )
    _promote(store, result.model_id)
    print(
        f"gen 0 trained: {args.steps} steps x {args.batch_size} in "
        f"{time.perf_counter() - t:.0f} s, "
        f"holdout value accuracy {_metric(result, 'holdout_value_accuracy'):.3f}, "
        f"policy loss {result.metrics.get('holdout_policy_loss', float('nan')):.3f}, "
        f"T {result.calibration_temperature:.2f}",
        flush=True,
    )

    # 3. NN generations (self-play within 65% of the budget, leave the rest to evaluate).
    trained = 0
    for gen in range(1, args.generations + 1):
        if clock.elapsed() > 0.55 * clock.budget:
            break
        t = time.perf_counter()
        loaded = load_model(result.model_path)
        evaluator = NeuralEvaluator(
            loaded.model,
            "cpu",
            temperature=loaded.card.calibration_temperature,
            name=result.model_id,
        )
        search = SearchConfig(simulations=args.sims, gumbel=True, noise=True)
        games = []
        chunk = 16
        while len(games) < args.selfplay_games and clock.elapsed() < 0.65 * clock.budget:
            seeds = [(CONFIG, 100_000 * gen + len(games) + i) for i in range(chunk)]
            games += play_games_batched(
                seeds,
                evaluator,
                search,
                agent_name=f"gen{gen - 1}",
                source=f"gen{gen}",
                temperature=schedule,
            )  # type: ignore[arg-type]
        store.pool.insert_records(games)
        sp_s = time.perf_counter() - t
        t = time.perf_counter()
        window = min(store.pool.count(CONFIG), len(records) + len(games) * 2)
        result = train(
            cfg,
            CONFIG,
            store,
            home / "runs" / f"gen{gen}",
            args.steps // 2,
            args.batch_size,
            seed=gen,
            model=model,
            window=window,
            checkpoint_every=200,
            lr=1e-3,
        )
        _promote(store, result.model_id)
        trained = gen
        print(
            f"gen {gen}: {len(games)} NN self-play games ({args.sims} sims) in {sp_s:.0f} s, "
            f"trained {args.steps // 2} steps on {window} games in "
            f"{time.perf_counter() - t:.0f} s, "
            f"holdout value accuracy {_metric(result, 'holdout_value_accuracy'):.3f}",
            flush=True,
        )

    # 4. Evaluation, the rest of the budget split between the two opponents.
    for i, opponent in enumerate(("random", "heuristic")):
        t = time.perf_counter()
        share = clock.left() / (2 - i)
        wins, played, capped = evaluate(
            result.model_path,
            opponent,
            args.eval_games,
            args.eval_sims,
            time.perf_counter() + share,
        )
        rate = wins / played if played else float("nan")
        print(
            f"strength {CONFIG} model(gen {trained})+search({args.eval_sims} sims) vs {opponent}: "
            f"win rate {rate:.3f} ({wins}/{played} games, {capped} capped) in "
            f"{time.perf_counter() - t:.0f} s; total elapsed {clock.elapsed() / 60:.1f} min",
            flush=True,
        )


if __name__ == "__main__":
    main()
