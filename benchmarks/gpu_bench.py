"""The loop's GPU work on this machine: training and NN self-play, by batch size.

Runs the code the `cuda` queue runs, in a throwaway RINGRIFT_HOME:

1. **Data**: heuristic self-play (``selfplay.worker.selfplay_from_config``, as the selfplay
   DAG's ``play`` task) merged into the game pool by ``sync.collect.collect_shards`` (as
   ``ringrift_data_sync``'s ``collect``).
2. **Training** (the training DAG's ``train`` task: ``training.candidate.train_candidate``,
   the loop's own network tower) once per batch size: samples/s over the steps after the
   first (the first pays for allocation and kernel selection), GPU utilisation meanwhile.
3. **NN self-play, the DAG's path** (``play_neural``: ``run_selfplay`` with the spec
   ``mcts:model=<model>,sims=<n>`` the plan gives it, each worker process playing
   ``selfplay.parallel_games`` games at once) once per worker count: games/s, moves/s, GPU
   utilisation.
4. **NN self-play, batched** (``selfplay.batched_play.play_games_batched``: the same
   search on every seat, all games' leaves in one evaluator call) once per number of
   parallel games: moves/s, network positions/s, GPU utilisation.

GPU utilisation is NVML's, sampled every 0.5 s by a thread
(``selfplay.concurrency.UtilisationMeter``, on ``resources.sample_gpu_utilisation``).
Self-play games are capped at ``--max-moves`` so a point takes seconds to minutes; the
figures are rates. Without a CUDA device the same code runs on the CPU (the library logs
"CUDA not available: training falls back to the CPU" and "no CUDA device: neural inference
falls back to the CPU") with the small ``--quick`` sweep unless sizes are given.

One line per figure (stable format, compare run to run), then the sizes that kept the GPU
busiest and whether they reached ``--target-pct``; everything also goes to
``benchmarks/results/gpu_bench_<gpu model>.json`` (``gpu_bench_cpu.json`` on the CPU):

    train <config> <tower> <device> batch <B>: <N> samples/s, gpu <U>% (<steps> steps)
    selfplay-workers <config> <device> workers <W> sims <S>: <G> games/s, <M> moves/s, gpu <U>%
    selfplay-batched <config> <device> games <P> sims <S>: <M> moves/s, <E> positions/s, gpu <U>%

    python benchmarks/gpu_bench.py              # the full sweep on a GPU
    python benchmarks/gpu_bench.py --quick      # a few seconds per point (proves it on a CPU)
    python benchmarks/gpu_bench.py --sections selfplay-batched --parallel-games 256 512
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from ringrift_tasks.ai.evaluator import Evaluation
from ringrift_tasks.ai.model_file import load_model
from ringrift_tasks.ai.neural_evaluator import NeuralEvaluator, resolve_device
from ringrift_tasks.ai.search import SearchConfig
from ringrift_tasks.config import RingriftConfig, load_config
from ringrift_tasks.resources import sample_gpus
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.selfplay.batched_play import play_games_batched
from ringrift_tasks.selfplay.concurrency import UtilisationMeter
from ringrift_tasks.selfplay.temperature import TemperatureSchedule
from ringrift_tasks.selfplay.worker import run_selfplay, selfplay_from_config
from ringrift_tasks.store.db import Store, open_store
from ringrift_tasks.sync.collect import collect_shards
from ringrift_tasks.training.candidate import train_candidate
from ringrift_tasks.training.trainer import training_device

log = logging.getLogger("gpu_bench")

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("training", "selfplay-workers", "selfplay-batched")
SAMPLE_EVERY_S = 0.5


@dataclass(frozen=True)
class Sweep:
    """What to measure: data, batch sizes and worker counts, the search."""

    bootstrap_games: int
    train_batches: tuple[int, ...]
    train_steps: int
    selfplay_workers: tuple[int, ...]
    selfplay_games_per_worker: int
    parallel_games: tuple[int, ...]
    sims: int
    max_moves: int
    model_size: str | None  # training.model_size; None: the loop's own tower


FULL = Sweep(
    bootstrap_games=400,
    train_batches=(64, 128, 256, 512, 1024, 2048, 4096),
    train_steps=40,
    selfplay_workers=(1, 2, 4, 8),
    selfplay_games_per_worker=32,  # two chunks of selfplay.parallel_games (16)
    parallel_games=(16, 32, 64, 128, 256, 512, 1024),
    sims=64,  # the simulations plan_selfplay gives the best model's agent
    max_moves=16,
    model_size=None,
)
QUICK = Sweep(
    bootstrap_games=8,
    train_batches=(32, 64),
    train_steps=4,
    selfplay_workers=(1,),
    selfplay_games_per_worker=2,
    parallel_games=(4, 8),
    sims=4,
    max_moves=6,
    model_size="1x16",
)


@dataclass
class Machine:
    """Where the bench ran: the devices torch and NVML see."""

    device: str
    gpu_model: str | None
    gpus: list[str] = field(default_factory=list)
    nvml: str = ""

    @property
    def slug(self) -> str:
        """File-name form of the GPU model (``nvidia-h100-80gb-hbm3``), ``cpu`` without one."""
        if self.gpu_model is None:
            return "cpu"
        return re.sub(r"[^a-z0-9]+", "-", self.gpu_model.lower()).strip("-") or "gpu"

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "gpu_model": self.gpu_model,
            "gpus": self.gpus,
            "nvml": self.nvml or "ok",
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        }


def detect_machine() -> Machine:
    """The devices the training and inference code will use (each logs its CPU fallback)."""
    train_dev = training_device("auto")
    infer_dev = resolve_device("auto")
    gpus, why = sample_gpus()
    names = [g.name for g in gpus] if gpus else []
    if train_dev.type == "cuda":
        model = torch.cuda.get_device_name(train_dev.index or 0)
    else:
        model = None
    if train_dev.type != infer_dev.type:  # both ask torch.cuda.is_available(): never differ
        raise RuntimeError(f"training on {train_dev} but inference on {infer_dev}")
    return Machine(train_dev.type, model, names, why)


# ------------------------------------------------------------------------------- measuring
def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


class CountingEvaluator:
    """Passes every call to ``inner`` and counts the positions it evaluated."""

    def __init__(self, inner: NeuralEvaluator) -> None:
        self.inner = inner
        self.positions = 0
        self.calls = 0

    def evaluate(
        self,
        states: Sequence[GameState],
        legal: Sequence[Sequence[Move]],
        histories: Sequence[Sequence[GameState]] | None = None,
    ) -> list[Evaluation]:
        self.positions += len(states)
        self.calls += 1
        return self.inner.evaluate(states, legal, histories)


class StepClock:
    """A trainer ``progress`` callback: times the steps after the first and runs the GPU
    meter over them (the last step also writes the checkpoint, so it is left out)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.meter = UtilisationMeter("gpu", poll_s=SAMPLE_EVERY_S)
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.last_step = 0
        self.util: tuple[float | None, float, str] = (None, 0.0, "not measured")

    def __call__(self, step: int, steps: int, figures: dict[str, float] | None) -> None:
        now = time.perf_counter()
        if step == 1:
            self.t_first = now
            self.meter.start()
        elif step == self.steps - 1:
            self.t_last, self.last_step = now, step
            self.util = self.meter.stop()

    def samples_per_s(self, batch_size: int) -> float | None:
        if self.t_first is None or self.t_last is None or self.t_last <= self.t_first:
            return None
        return (self.last_step - 1) * batch_size / (self.t_last - self.t_first)


def bootstrap(cfg: RingriftConfig, store: Store, config: str, games: int) -> int:
    """Heuristic self-play into the incoming folder, merged into the pool; games merged."""
    t = time.perf_counter()
    workers = max(1, min(os.cpu_count() or 1, 16, games))
    selfplay_from_config(cfg, config, games, "heuristic", seed=1, workers=workers)
    p = cfg.paths
    report = collect_shards(store, p.shards_incoming, p.shards_merged, p.quarantine)
    if report.shards_quarantined:
        raise RuntimeError(f"bootstrap shards quarantined: {report.quarantined}")
    print(
        f"data {config}: {report.games_added} heuristic games merged in "
        f"{time.perf_counter() - t:.1f} s ({workers} workers)",
        flush=True,
    )
    return report.games_added


def bench_training(
    cfg: RingriftConfig, store: Store, config: str, sweep: Sweep, machine: Machine
) -> tuple[list[dict[str, Any]], Path]:
    """One ``train_candidate`` run per batch size; the rows and the last model's path."""
    rows: list[dict[str, Any]] = []
    model_path: Path | None = None
    for batch in sweep.train_batches:
        clock = StepClock(sweep.train_steps)
        result = train_candidate(
            cfg,
            store,
            config,
            f"gpu-bench-b{batch}",
            steps=sweep.train_steps,
            batch_size=batch,
            use_curriculum=False,
            checkpoint_every=sweep.train_steps,
            log_every=sweep.train_steps,
            progress=clock,
        )
        model_path = result.model_path
        tower = _tower(result.model_path)
        rate = clock.samples_per_s(batch)
        util, _, why = clock.util
        rows.append(
            {
                "batch_size": batch,
                "steps": sweep.train_steps,
                "tower": tower,
                "samples_per_s": rate,
                "gpu_util_pct": util,
                "gpu_util_missing": why or None,
            }
        )
        shown = "n/a" if rate is None else f"{rate:,.0f}"
        print(
            f"train {config} {tower} {machine.device} batch {batch}: {shown} samples/s, "
            f"gpu {_pct(util)} ({sweep.train_steps} steps)",
            flush=True,
        )
    assert model_path is not None
    return rows, model_path


def _tower(model_path: Path) -> str:
    mc = load_model(model_path).model.config
    return f"{mc.blocks}x{mc.channels}"


def bench_selfplay_workers(
    cfg: RingriftConfig, config: str, model_path: Path, sweep: Sweep, machine: Machine
) -> list[dict[str, Any]]:
    """The `play_neural` task's path: worker processes, ``selfplay.parallel_games`` games at
    a time each."""
    rows: list[dict[str, Any]] = []
    spec = f"mcts:model={model_path},sims={sweep.sims}"
    out = cfg.home / "bench-selfplay"
    for workers in sweep.selfplay_workers:
        games = workers * sweep.selfplay_games_per_worker
        meter = UtilisationMeter("gpu", poll_s=SAMPLE_EVERY_S)
        meter.start()
        report = run_selfplay(
            config,
            games,
            workers,
            out / f"w{workers}",
            spec,
            seed=workers,
            games_per_shard=cfg.selfplay.games_per_shard,
            temperature=TemperatureSchedule.from_settings(cfg.selfplay),
            max_steps=sweep.max_moves,
            parallel_games=cfg.selfplay.parallel_games,
            torch_threads=cfg.resources.worker_torch_threads,
        )
        util, _, why = meter.stop()
        elapsed = max(report.elapsed_s, 1e-9)
        rows.append(
            {
                "workers": workers,
                "parallel_games": cfg.selfplay.parallel_games,
                "games": report.games,
                "moves": report.moves,
                "sims": sweep.sims,
                "max_moves": sweep.max_moves,
                "elapsed_s": report.elapsed_s,
                "games_per_s": report.games / elapsed,
                "moves_per_s": report.moves / elapsed,
                "gpu_util_pct": util,
                "gpu_util_missing": why or None,
            }
        )
        print(
            f"selfplay-workers {config} {machine.device} workers {workers} sims {sweep.sims}: "
            f"{report.games / elapsed:.2f} games/s, {report.moves / elapsed:.1f} moves/s, "
            f"gpu {_pct(util)} ({report.games} games of <= {sweep.max_moves} moves, "
            f"process start included)",
            flush=True,
        )
    return rows


def bench_selfplay_batched(
    cfg: RingriftConfig, config: str, model_path: Path, sweep: Sweep, machine: Machine
) -> list[dict[str, Any]]:
    """``play_games_batched``: every game's leaves in one evaluator call."""
    rows: list[dict[str, Any]] = []
    evaluator = CountingEvaluator(NeuralEvaluator.from_file(model_path, "auto"))
    search = SearchConfig(simulations=sweep.sims)  # the `mcts:model=...,sims=` agent's search
    schedule = TemperatureSchedule.from_settings(cfg.selfplay)
    # One small warm-up so the first point does not pay for CUDA's start.
    play_games_batched(
        [(config, 0)], evaluator, search, agent_name="bench", source="bench", max_steps=1
    )
    for parallel in sweep.parallel_games:
        evaluator.positions = evaluator.calls = 0
        meter = UtilisationMeter("gpu", poll_s=SAMPLE_EVERY_S)
        meter.start()
        t = time.perf_counter()
        records = play_games_batched(
            [(config, 10_000 * parallel + i) for i in range(parallel)],
            evaluator,
            search,
            agent_name="bench",
            source="bench",
            max_steps=sweep.max_moves,
            temperature=schedule,
        )
        elapsed = max(time.perf_counter() - t, 1e-9)
        util, _, why = meter.stop()
        moves = sum(r.num_moves for r in records)
        rows.append(
            {
                "parallel_games": parallel,
                "moves": moves,
                "positions": evaluator.positions,
                "evaluator_calls": evaluator.calls,
                "mean_batch": evaluator.positions / max(evaluator.calls, 1),
                "sims": sweep.sims,
                "max_moves": sweep.max_moves,
                "elapsed_s": elapsed,
                "moves_per_s": moves / elapsed,
                "positions_per_s": evaluator.positions / elapsed,
                "gpu_util_pct": util,
                "gpu_util_missing": why or None,
            }
        )
        print(
            f"selfplay-batched {config} {machine.device} games {parallel} sims {sweep.sims}: "
            f"{moves / elapsed:.1f} moves/s, {evaluator.positions / elapsed:,.0f} positions/s, "
            f"gpu {_pct(util)} (mean batch {evaluator.positions / max(evaluator.calls, 1):.0f})",
            flush=True,
        )
    return rows


def best_setting(
    rows: list[dict[str, Any]], key: str, rate: str, target_pct: float
) -> dict[str, Any] | None:
    """The fastest row, and whether its GPU utilisation reached ``target_pct``."""
    measured = [r for r in rows if r.get(rate) is not None]
    if not measured:
        return None
    best = max(measured, key=lambda r: r[rate])
    util = best.get("gpu_util_pct")
    return {
        key: best[key],
        rate: best[rate],
        "gpu_util_pct": util,
        "meets_target": None if util is None else util >= target_pct,
    }


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """Atomically: a temp file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- the run
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="square8_2p")
    ap.add_argument("--quick", action="store_true", help="the small sweep, on any device")
    ap.add_argument("--train-batches", type=int, nargs="+")
    ap.add_argument("--train-steps", type=int)
    ap.add_argument("--workers", type=int, nargs="+", help="self-play worker processes")
    ap.add_argument("--parallel-games", type=int, nargs="+", help="batched self-play games")
    ap.add_argument("--sims", type=int, help="search simulations per move")
    ap.add_argument("--max-moves", type=int, help="cap on each self-play game")
    ap.add_argument("--bootstrap-games", type=int)
    ap.add_argument(
        "--model-size", help="training.model_size (<blocks>x<channels>; default the loop's)"
    )
    ap.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure (self-play without training trains one small model first)",
    )
    ap.add_argument("--target-pct", type=float, default=60.0, help="GPU utilisation sought")
    ap.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/...)")
    ap.add_argument("--home", type=Path, help="RINGRIFT_HOME to use (default: a temp dir)")
    return ap.parse_args(argv)


def choose_sweep(args: argparse.Namespace, machine: Machine) -> Sweep:
    """The full sweep on a GPU, the quick one on the CPU or with ``--quick``; then the
    sizes given on the command line."""
    base = QUICK if args.quick or machine.device != "cuda" else FULL
    if base is QUICK and not args.quick:
        log.warning("no CUDA device: running the quick sweep on the CPU")
    return Sweep(
        bootstrap_games=args.bootstrap_games or base.bootstrap_games,
        train_batches=tuple(args.train_batches or base.train_batches),
        train_steps=args.train_steps or base.train_steps,
        selfplay_workers=tuple(args.workers or base.selfplay_workers),
        selfplay_games_per_worker=base.selfplay_games_per_worker,
        parallel_games=tuple(args.parallel_games or base.parallel_games),
        sims=args.sims or base.sims,
        max_moves=args.max_moves or base.max_moves,
        model_size=args.model_size or base.model_size,
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the sweep and write the results file; a temp home is removed afterwards."""
    args = parse_args(argv)
    if args.home is not None:
        return run(args, argv, args.home)
    with tempfile.TemporaryDirectory(prefix="ringrift-gpu-bench-") as tmp:
        return run(args, argv, Path(tmp))


def run(args: argparse.Namespace, argv: Sequence[str] | None, home: Path) -> dict[str, Any]:
    """The bench in ``home`` (its RINGRIFT_HOME)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.train_steps is not None and args.train_steps < 3:
        raise SystemExit("--train-steps must be >= 3 (the first and last steps are not timed)")
    machine = detect_machine()
    sweep = choose_sweep(args, machine)
    # The bench's own home and store, never the user's loop (no RINGRIFT_* from the shell).
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGRIFT")}
    env["RINGRIFT_HOME"] = str(home)
    if sweep.model_size:
        env["RINGRIFT__TRAINING__MODEL_SIZE"] = sweep.model_size
    cfg = load_config(env=env)
    print(
        f"# gpu_bench {args.config}: device {machine.device} "
        f"({machine.gpu_model or 'no CUDA device'}), {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, home {home}",
        flush=True,
    )
    started = time.perf_counter()
    sections = set(args.sections)
    with open_store(cfg.store_url) as store:
        bootstrap(cfg, store, args.config, sweep.bootstrap_games)
        if "training" in sections:
            training, model_path = bench_training(cfg, store, args.config, sweep, machine)
        else:  # self-play needs a model: the smallest training run, not reported
            small = replace(sweep, train_batches=sweep.train_batches[:1], train_steps=3)
            training, model_path = [], bench_training(cfg, store, args.config, small, machine)[1]
    workers, batched = [], []
    if "selfplay-workers" in sections:
        workers = bench_selfplay_workers(cfg, args.config, model_path, sweep, machine)
    if "selfplay-batched" in sections:
        batched = bench_selfplay_batched(cfg, args.config, model_path, sweep, machine)

    best = {
        "training": best_setting(training, "batch_size", "samples_per_s", args.target_pct),
        "selfplay_workers": best_setting(workers, "workers", "moves_per_s", args.target_pct),
        "selfplay_batched": best_setting(
            batched, "parallel_games", "positions_per_s", args.target_pct
        ),
    }
    for name, b in best.items():
        if b is None:
            continue
        key, value = next(iter(b.items()))
        verdict = (
            "no GPU utilisation measured"
            if b["meets_target"] is None
            else ("meets" if b["meets_target"] else "below") + f" the {args.target_pct:g}% target"
        )
        print(f"best {name}: {key} {value}, gpu {_pct(b['gpu_util_pct'])} ({verdict})")

    payload = {
        "benchmark": "gpu_bench",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": args.config,
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine.as_dict(),
        "sweep": asdict(sweep),
        "target_gpu_util_pct": args.target_pct,
        "training": training,
        "selfplay_workers": workers,
        "selfplay_batched": batched,
        "best": best,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    out = args.out or RESULTS / f"gpu_bench_{machine.slug}.json"
    write_results(out, payload)
    print(f"# results {out}", flush=True)
    return payload


if __name__ == "__main__":  # spawned self-play workers import this module; run only here
    main()
