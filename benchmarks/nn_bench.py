"""Neural network speed: inference positions/s by batch size; search and training sections.

Prints one line per figure (stable format, compare run to run):

    # machine: ..., torch ..., device: cpu | cuda (<GPU model>)
    encode <board> batch <B>: <ms> ms (<N> positions/s)
    inference <board> <blocks>x<channels> <device> batch <B>: <N> positions/s (forward <N>/s)

"inference" is the whole ``NeuralEvaluator.evaluate`` call (encoding, forward pass,
gathering the legal logits, softmax, values) on positions from random games; "forward"
is the network alone on pre-encoded tensors. Sections other helpers fill in:
``bench_search`` (search simulations/s) and ``bench_training`` (training samples/s).

    python benchmarks/nn_bench.py [--boards square8 hex8] [--device auto]
        [--batches 1 2 4 ... 256] [--sections inference search training] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from ringrift_tasks.ai.encoding import encode_batch
from ringrift_tasks.ai.network import build_model, default_model_config
from ringrift_tasks.ai.neural_evaluator import NeuralEvaluator
from ringrift_tasks.rules import GameState, apply_move, auto_move, legal_moves, new_game
from ringrift_tasks.rules.moves import Move

BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def sample_positions(
    config: str, count: int, seed: int = 7
) -> tuple[list[GameState], list[list[Move]]]:
    """``count`` positions with legal moves, taken along seeded random games of ``config``."""
    rng = random.Random(seed)
    states: list[GameState] = []
    legal: list[list[Move]] = []
    s = new_game(config)
    while len(states) < count:
        if s.status != "active":
            s = new_game(config)
        moves = legal_moves(s)
        if moves and rng.random() < 0.5:
            states.append(s.copy())
            legal.append(moves)
        apply_move(s, rng.choice(moves) if moves else auto_move(s))
    return states, legal


def timed(fn: Callable[[], object], min_seconds: float = 0.5, min_runs: int = 3) -> float:
    """Median seconds per call of ``fn`` (after one warm-up call). On a shared machine the
    median moves with the neighbours' load; compare runs taken on a quiet machine."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------
# Section: inference (encoder and network; owned by the encoder/network work)
# --------------------------------------------------------------------------------------
def _forward(ev: NeuralEvaluator, x: torch.Tensor, g: torch.Tensor) -> None:
    with (
        torch.inference_mode(),
        torch.autocast(device_type="cuda", dtype=torch.float16, enabled=ev.amp),
    ):
        ev.model(x, g)
    _sync(ev.device)


def _evaluate(ev: NeuralEvaluator, states: list[GameState], legal: list[list[Move]]) -> None:
    ev.evaluate(states, legal)
    _sync(ev.device)


def bench_inference(args: argparse.Namespace) -> list[str]:
    """Encoder time at batch 256 and evaluator/forward positions/s per batch size."""
    lines: list[str] = []
    for board in args.boards:
        states, legal = sample_positions(f"{board}_2p", max(args.batches))
        cfg = default_model_config(board)
        ev = NeuralEvaluator(build_model(cfg, seed=0), device=args.device)
        n = min(256, len(states))
        enc = timed(partial(encode_batch, states[:n]))
        lines.append(f"encode {board} batch {n}: {enc * 1e3:.1f} ms ({n / enc:,.0f} positions/s)")
        print(lines[-1], flush=True)
        for b in args.batches:
            planes, glob = encode_batch(states[:b])
            x = torch.from_numpy(planes).to(ev.device)
            g = torch.from_numpy(glob).to(ev.device)
            fwd = timed(partial(_forward, ev, x, g))
            full = timed(partial(_evaluate, ev, states[:b], legal[:b]))
            lines.append(
                f"inference {board} {cfg.blocks}x{cfg.channels} {ev.device.type} batch {b}: "
                f"{b / full:,.0f} positions/s (forward {b / fwd:,.0f}/s)"
            )
            print(lines[-1], flush=True)
    return lines


# --------------------------------------------------------------------------------------
# Section: search (search simulations/s) -- the search work adds its figures here.
# --------------------------------------------------------------------------------------
def bench_search(args: argparse.Namespace) -> list[str]:
    """Search simulations/s (e.g. ``search <config> <kind> batch <B>: <N> simulations/s``)."""
    return []


# --------------------------------------------------------------------------------------
# Section: training (training samples/s) -- the training work adds its figures here.
# --------------------------------------------------------------------------------------
def _train_once(
    samples: Any,
    symmetric: Any,
    n_syms: int,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batch: int,
    step: list[int],
    device: torch.device,
) -> None:
    """One augmented training step on the next batch (``step[0]`` counts them)."""
    from ringrift_tasks.training.trainer import batch_indices, batch_symmetries, train_step

    idx = batch_indices(len(samples), batch, step[0], 0)
    ks = batch_symmetries(symmetric, idx, n_syms, step[0], 0)
    train_step(model, opt, samples.batch(idx, ks).to(device))  # type: ignore[arg-type]
    step[0] += 1
    _sync(device)


def bench_training(args: argparse.Namespace) -> list[str]:
    """Training samples/s: ``training.trainer.train_step`` (forward, losses over the legal
    moves and the rank head, backward, AdamW) on batches built from real heuristic games
    with symmetry augmentation (``SampleSet.batch``), per board and batch size (<= 256)."""
    from ringrift_tasks.ai.agent import agent_from_spec
    from ringrift_tasks.selfplay.play import play_game
    from ringrift_tasks.training.dataset import extract_samples
    from ringrift_tasks.training.symmetry import board_symmetries

    lines: list[str] = []
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    agent = agent_from_spec("heuristic:temperature=0.5")
    for board in args.boards:
        config = f"{board}_2p"
        records = [play_game(config, [agent, agent], i, source="bench") for i in range(4)]
        samples, _ = extract_samples(records, history_steps=0)
        symmetric = samples.symmetric()
        n_syms = len(board_symmetries(board))
        cfg = default_model_config(board)
        model = build_model(cfg, seed=0).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for b in [b for b in args.batches if b >= 16]:
            t = timed(partial(_train_once, samples, symmetric, n_syms, model, opt, b, [0], device))
            lines.append(
                f"training {board} {cfg.blocks}x{cfg.channels} {device.type} batch {b}: "
                f"{b / t:,.0f} samples/s ({t * 1e3:.0f} ms/step)"
            )
            print(lines[-1], flush=True)
    return lines


SECTIONS: dict[str, Callable[[argparse.Namespace], list[str]]] = {
    "inference": bench_inference,
    "search": bench_search,
    "training": bench_training,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--boards", nargs="*", default=["square8"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", nargs="*", type=int, default=BATCHES)
    ap.add_argument("--sections", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cpu"
    if args.device != "cpu" and torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    print(
        f"# machine: {platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), device: {device}",
        flush=True,
    )
    for name in args.sections:
        lines = SECTIONS[name](args)
        if name != "inference":  # inference prints as it goes
            for line in lines:
                print(line, flush=True)


if __name__ == "__main__":
    main()
