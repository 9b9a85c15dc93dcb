"""The trainer: one config's window -> a candidate model in the registry, resumably.

``train(cfg, config_name, store, out_dir, steps, batch_size, seed)`` does, in order:

1. **Window and gate** (first start only): the newest games of the config
   (``dataset.load_window``; ``window`` games or ``window_games`` of the pool), scored by the
   data-quality gate (``quality.check_quality``: refuses with ``DataQualityError``), turned
   into samples (``dataset.extract_samples``) saved in the run directory with their sha256,
   and the run's identity (settings, window, parent) written to ``run.json``. A restart
   reads these back, so it trains on exactly the same samples even if the pool has grown.
2. **Model**: the config's current best model (the parent) when its architecture is the
   one asked for, else a fresh network seeded by ``seed``; on the first CUDA device when
   torch sees one, else on the CPU (``training_device`` logs the fallback: a task sent to
   the ``cuda`` queue may land on a machine without a GPU and must still train).
3. **Steps**: ``train_step`` (below) on batches that are a pure function of ``(seed,
   step)``: per-epoch permutations of the training samples (held-out games excluded) and a
   random exact board symmetry per sample. AdamW, learning rate with linear warm-up then
   cosine decay to 10%.
4. **Checkpoints** every ``checkpoint_every`` steps and at the end: model, optimiser,
   LR scheduler, the torch / numpy / python RNG states and the data cursor, written
   atomically (temp file, fsync, ``os.replace``); the last two are kept. Killed at any
   point and started again with the same arguments, the run continues from the newest
   readable checkpoint and ends with bitwise the same weights as an uninterrupted run
   (``tests/training/test_trainer_resume.py`` kills a real run with SIGKILL).
5. **Finish**: held-out losses and value accuracy, value calibration (temperature fitted on
   the held-out games, reliability diagram ``calibration.png``), the model file
   (``model_file.save_model``, card with parent, data window, metrics and the temperature),
   and a candidate in the registry with its lineage. ``result.json`` marks the run done;
   running it again returns that result without training.

Metrics go to ``metrics.jsonl`` in the run directory (one JSON object per logged step,
then one ``"kind": "final"`` line), and to TensorBoard event files under ``tensorboard/``
when the ``tensorboard`` package is installed.

Inputs carry no history planes by default (``history_steps=0``): the search evaluates
positions without their history (``Evaluator.evaluate`` takes none), so a network trained
with history would meet zero history planes at play time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ringrift_tasks.ai.encoding import MAX_SEATS
from ringrift_tasks.ai.model_file import ModelCard, ModelFileError, load_model, save_model
from ringrift_tasks.ai.network import ModelConfig, RingRiftNet, build_model, default_model_config
from ringrift_tasks.atomic import atomic_write_bytes
from ringrift_tasks.rules.state import GameConfig
from ringrift_tasks.training.calibration import CalibrationTracker, ValueCalibrator
from ringrift_tasks.training.dataset import (
    Batch,
    DatasetError,
    SampleSet,
    extract_samples,
    holdout_mask,
    load_window,
)
from ringrift_tasks.training.quality import check_quality
from ringrift_tasks.training.symmetry import board_symmetries

log = logging.getLogger(__name__)

RUN_FORMAT = "ringrift-training-run/1"
KEEP_CHECKPOINTS = 2


class TrainingError(ValueError):
    """A training request that cannot run as asked (bad settings, a run directory that
    holds another run, unreadable samples); the message names the value."""


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """Everything that decides the weights a run ends with (part of the run's identity).

    ``window``: games in the window (None: ``dataset.window_games`` of the pool).
    ``model``: the architecture as ``ModelConfig.to_dict()`` (None: the board's default).
    ``root_value_weight``: weight of the squared error between the value head's expected
    scores and the search's root values, next to the rank cross-entropy.
    """

    config: str
    steps: int
    batch_size: int = 256
    seed: int = 0
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int | None = None
    grad_clip: float = 1.0
    checkpoint_every: int = 100
    log_every: int = 10
    window: int | None = None
    holdout_fraction: float = 0.1
    augment: bool = True
    history_steps: int = 0
    root_value_weight: float = 0.5
    model: dict[str, Any] | None = None
    init_from_best: bool = True
    calibration_objective: str = "nll"

    def __post_init__(self) -> None:
        GameConfig.parse(self.config)
        checks = {
            "steps": self.steps >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "weight_decay": self.weight_decay >= 0,
            "checkpoint_every": self.checkpoint_every >= 1,
            "log_every": self.log_every >= 1,
            "window": self.window is None or self.window >= 1,
            "holdout_fraction": 0 <= self.holdout_fraction < 1,
            "warmup_steps": self.warmup_steps is None or self.warmup_steps >= 0,
            "root_value_weight": self.root_value_weight >= 0,
            "calibration_objective": self.calibration_objective in ("nll", "brier"),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise TrainingError(
                "training settings: bad " + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            )

    @property
    def warmup(self) -> int:
        return min(100, self.steps // 10) if self.warmup_steps is None else self.warmup_steps

    def model_config(self) -> ModelConfig:
        board = GameConfig.parse(self.config).board_type
        if self.model is None:
            return default_model_config(board)
        cfg = ModelConfig.from_dict(dict(self.model))
        if cfg.board_type != board:
            raise TrainingError(f"model board {cfg.board_type!r} does not play {self.config}")
        return cfg

    def identity(self) -> dict[str, Any]:
        """What must match for a restart to continue this run."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TrainResult:
    """A finished run: the candidate it registered and its figures."""

    config: str
    model_id: str
    model_path: Path
    parent: str | None
    run_dir: Path
    steps: int
    resumed_from: int | None
    metrics: dict[str, Any]
    quality: dict[str, Any]
    calibration_temperature: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["model_path"] = str(self.model_path)
        out["run_dir"] = str(self.run_dir)
        return out


# --- where it runs -----------------------------------------------------------------------
def training_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when torch sees one, else the CPU, with a log line
    saying training falls back to the CPU; any other value is taken as asked."""
    if isinstance(device, torch.device):
        return device
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        log.info("training on CUDA device %s", torch.cuda.get_device_name(0))
        return torch.device("cuda")
    log.warning("CUDA not available: training falls back to the CPU")
    return torch.device("cpu")


# --- the step ---------------------------------------------------------------------------
def _rank_masks(num_players: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(impossible rank (B, MAX_SEATS) bool, rank score (B, MAX_SEATS): 1 .. -1 per n)."""
    ranks = torch.arange(MAX_SEATS, device=num_players.device)[None, :]
    n = num_players[:, None]
    impossible = ranks >= n
    scores = 1.0 - 2.0 * ranks / (n - 1).clamp_min(1)
    return impossible, scores.masked_fill(impossible, 0.0).float()


def compute_losses(
    model: RingRiftNet, batch: Batch, root_value_weight: float
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """(total loss, figures, rank logits) of ``model`` on ``batch``.

    policy: cross-entropy between the target and the softmax over each sample's legal
    moves only (as ``NeuralEvaluator`` reads the head); value: cross-entropy of every
    present seat's final rank (impossible ranks masked); root: squared error between the
    expected scores and the search root values, where recorded.
    """
    out = model(batch.planes, batch.globals_)
    logits = out.policy.gather(1, batch.legal_index).masked_fill(~batch.legal_mask, -math.inf)
    logp = torch.log_softmax(logits, dim=1).masked_fill(~batch.legal_mask, 0.0)
    has_policy = batch.has_policy.float()
    per_sample = -(batch.policy_target * logp).sum(dim=1)
    policy_loss = (per_sample * has_policy).sum() / has_policy.sum().clamp_min(1.0)
    entropy = -(logp.exp() * logp).sum(dim=1).mean()

    impossible, scores = _rank_masks(batch.num_players)
    rank_logits = out.rank.masked_fill(impossible[:, None, :], -math.inf)
    value_loss = F.cross_entropy(
        rank_logits.reshape(-1, MAX_SEATS), batch.rank.reshape(-1), ignore_index=-1
    )
    present = (batch.rank >= 0).float()
    probs = torch.softmax(rank_logits, dim=-1)
    seat_value = (probs * scores[:, None, :]).sum(dim=-1)
    root_mask = present * batch.has_root.float()[:, None]
    root_loss = (
        ((seat_value - batch.root_value) ** 2) * root_mask
    ).sum() / root_mask.sum().clamp_min(1.0)
    # Value accuracy: the seat the head thinks most likely to win is the one that won.
    win_prob = probs[..., 0].masked_fill(present == 0, -1.0)
    predicted = win_prob.argmax(dim=1)
    actual = (batch.rank == 0).float().argmax(dim=1)
    accuracy = (predicted == actual).float().mean()

    total = policy_loss + value_loss + root_value_weight * root_loss
    figures = {
        "loss": float(total.detach()),
        "policy_loss": float(policy_loss.detach()),
        "value_loss": float(value_loss.detach()),
        "root_value_loss": float(root_loss.detach()),
        "policy_entropy": float(entropy.detach()),
        "value_accuracy": float(accuracy),
    }
    return total, figures, out.rank


def train_step(
    model: RingRiftNet,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    *,
    root_value_weight: float = 0.5,
    grad_clip: float = 1.0,
) -> dict[str, float]:
    """One optimiser step on ``batch``; returns the batch's figures (before the step)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss, figures, _ = compute_losses(model, batch, root_value_weight)
    loss.backward()
    if grad_clip > 0:
        figures["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip))
    optimizer.step()
    return figures


def lr_factor(step: int, *, steps: int, warmup: int) -> float:
    """LR multiplier at ``step``: linear warm-up, then cosine from 1 down to 0.1."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, steps - warmup)
    frac = min(1.0, (step - warmup) / span)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac))


# --- data order -------------------------------------------------------------------------
def batch_indices(n: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Sample indices of ``step``'s batch: positions ``[step*B, (step+1)*B)`` of the endless
    sequence of per-epoch permutations of ``range(n)`` (epoch ``e`` seeded by ``(seed, e)``)."""
    start = step * batch_size
    out = []
    pos = start
    end = start + batch_size
    while pos < end:
        epoch, offset = divmod(pos, n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(end - pos, n - offset)
        out.append(perm[offset : offset + take])
        pos += take
    return np.concatenate(out)


def batch_symmetries(
    symmetric: np.ndarray, indices: np.ndarray, n_syms: int, step: int, seed: int
) -> np.ndarray:
    """A uniformly drawn symmetry per sample (seeded by ``(seed, step)``); 0 where inexact."""
    ks = np.random.default_rng([seed, 0x5EED, step]).integers(0, n_syms, size=len(indices))
    return np.where(symmetric[indices], ks, 0)


# --- files ------------------------------------------------------------------------------


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def _checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"ckpt-{step:08d}.pt"


def _checkpoints(run_dir: Path) -> list[Path]:
    d = run_dir / "checkpoints"
    return sorted(d.glob("ckpt-*.pt")) if d.is_dir() else []


@dataclass
class _Run:
    """The mutable state of a run between steps."""

    settings: TrainSettings
    run_dir: Path
    model: RingRiftNet
    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LambdaLR
    samples_sha256: str
    step: int = 0
    tb: Any = None
    log_lines: list[str] = field(default_factory=list)


def save_checkpoint(run: _Run) -> Path:
    """Write the run's state at ``run.step`` atomically; keep the last ``KEEP_CHECKPOINTS``."""
    state = {
        "format": RUN_FORMAT,
        "step": run.step,
        "cursor": run.step * run.settings.batch_size,
        "samples_sha256": run.samples_sha256,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": json.dumps(_numpy_state()),
        "python_rng": json.dumps(random.getstate()),
    }
    path = _checkpoint_path(run.run_dir, run.step)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in _checkpoints(run.run_dir)[:-KEEP_CHECKPOINTS]:
        old.unlink(missing_ok=True)
    return path


def _numpy_state() -> list[Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _restore_numpy_state(state: list[Any]) -> None:
    name, keys, pos, has_gauss, cached = state
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _restore_python_state(state: list[Any]) -> None:
    version, internal, gauss = state
    random.setstate((version, tuple(internal), gauss))


def load_latest_checkpoint(run: _Run) -> int | None:
    """Restore the newest readable checkpoint into ``run``; its step, or None if none.

    A checkpoint that cannot be read (a crash can only leave temp files, but a disk can
    still fail) is skipped with a warning in favour of the one before it.
    """
    for path in reversed(_checkpoints(run.run_dir)):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a damaged file
            log.warning("checkpoint %s unreadable (%s); trying the previous one", path, exc)
            continue
        if state.get("format") != RUN_FORMAT or state.get("samples_sha256") != run.samples_sha256:
            raise TrainingError(f"{path}: checkpoint of another run (format or samples differ)")
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        _restore_numpy_state(json.loads(state["numpy_rng"]))
        _restore_python_state(json.loads(state["python_rng"]))
        run.step = int(state["step"])
        return run.step
    return None


def _truncate_metrics(path: Path, after_step: int) -> None:
    """Drop metric lines a killed run logged beyond its last checkpoint (they are redone)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if obj.get("kind") == "step" and obj.get("step", 0) <= after_step:
            keep.append(line)
    atomic_write_bytes(path, "".join(f"{k}\n" for k in keep).encode())


def _append_metrics(run: _Run, obj: dict[str, Any]) -> None:
    with open(run.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, sort_keys=True) + "\n")
    if run.tb is not None:
        for k, v in obj.items():
            if isinstance(v, int | float) and k != "step":
                run.tb.add_scalar(f"{obj.get('kind', 'step')}/{k}", v, obj.get("step", 0))


def _tensorboard(run_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional; metrics.jsonl is always written
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


# --- preparing a run --------------------------------------------------------------------
def _prepare(
    cfg: Any, settings: TrainSettings, store: Any, run_dir: Path, resume: bool
) -> tuple[dict[str, Any], SampleSet]:
    """``run.json`` and the samples: read back on a restart, built (gate first) otherwise."""
    meta_path = run_dir / "run.json"
    if meta_path.exists():
        if not resume:
            raise TrainingError(f"{run_dir} already holds a run; pass resume=True or a new dir")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("settings") != json.loads(json.dumps(settings.identity())):
            raise TrainingError(
                f"{run_dir} holds a run with other settings ({meta.get('settings')}); "
                "use another directory"
            )
        try:
            samples = SampleSet.load(run_dir / "samples.npz", meta["samples_sha256"])
        except DatasetError as exc:
            raise TrainingError(str(exc)) from None
        return meta, samples
    window = load_window(store.pool, settings.config, settings.window)
    report = check_quality(settings.config, window.games, cfg.training)
    samples, stats = extract_samples(window.games, history_steps=settings.history_steps)
    if stats.rejected:
        log.warning(
            "%d of %d games left out of the samples (first: %s)",
            len(stats.rejected),
            stats.games,
            stats.rejected[0],
        )
    sha = samples.save(run_dir / "samples.npz")
    best = store.registry.best(settings.config)
    meta = {
        "format": RUN_FORMAT,
        "settings": settings.identity(),
        "window": window.describe(),
        "extraction": stats.to_dict(),
        "quality": report.to_dict(),
        "samples_sha256": sha,
        "parent": None if best is None else best.model_id,
        "parent_path": None if best is None else best.path,
        "started_at": time.time(),
    }
    _write_json(meta_path, json.loads(json.dumps(meta)))
    return meta, samples


def _initial_model(settings: TrainSettings, meta: dict[str, Any]) -> tuple[RingRiftNet, str]:
    """The network the run starts from and how it was chosen."""
    mc = settings.model_config()
    parent_path = meta.get("parent_path")
    if settings.init_from_best and parent_path:
        try:
            loaded = load_model(Path(parent_path))
        except ModelFileError as exc:
            log.warning("parent model unusable (%s); starting from a fresh network", exc)
            return build_model(mc, seed=settings.seed), "fresh (parent unreadable)"
        if loaded.model.config == mc:
            return loaded.model, f"parent {meta['parent'][:12]}"
        return build_model(mc, seed=settings.seed), "fresh (parent has another architecture)"
    return build_model(mc, seed=settings.seed), "fresh"


# --- evaluation on the held-out games -----------------------------------------------------
@torch.no_grad()
def evaluate_holdout(
    model: RingRiftNet, samples: SampleSet, settings: TrainSettings, batch_size: int = 512
) -> tuple[dict[str, float], np.ndarray]:
    """Mean figures over ``samples`` (no augmentation) and the raw rank logits."""
    model.eval()
    device = next(model.parameters()).device
    totals: dict[str, float] = {}
    logits = []
    n = len(samples)
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        batch = samples.batch(idx).to(device)
        _, figures, rank = compute_losses(model, batch, settings.root_value_weight)
        for k, v in figures.items():
            totals[k] = totals.get(k, 0.0) + v * len(idx)
        logits.append(rank.float().cpu().numpy())
    return {k: v / n for k, v in totals.items()}, np.concatenate(logits)


# --- the run ----------------------------------------------------------------------------
Progress = Callable[[int, int, dict[str, float] | None], None]


def train(
    cfg: Any,
    config_name: str,
    store: Any,
    out_dir: Path,
    steps: int,
    batch_size: int = 256,
    seed: int = 0,
    resume: bool = True,
    *,
    settings: TrainSettings | None = None,
    models_dir: Path | None = None,
    progress: Progress | None = None,
    device: str | torch.device = "auto",
    **overrides: Any,
) -> TrainResult:
    """Train a candidate for ``config_name`` in the run directory ``out_dir``; see the
    module docstring. ``overrides`` are further ``TrainSettings`` fields (``window``,
    ``checkpoint_every``, ``model``...); ``settings`` replaces all of them at once.
    ``device``: where to train (``training_device``; not part of the run's identity).

    Raises ``DataQualityError`` when the gate refuses the window, ``TrainingError`` (a
    ``ValueError``) for bad settings or a directory holding another run.
    """
    if settings is None:
        try:
            settings = TrainSettings(
                config=config_name, steps=steps, batch_size=batch_size, seed=seed, **overrides
            )
        except TypeError as exc:
            raise TrainingError(f"training settings: {exc}") from None
    elif settings.config != config_name:
        settings = replace(settings, config=config_name)
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    done = run_dir / "result.json"
    meta, samples = _prepare(cfg, settings, store, run_dir, resume)
    if done.exists():
        data = json.loads(done.read_text(encoding="utf-8"))
        data["model_path"] = Path(data["model_path"])
        data["run_dir"] = Path(data["run_dir"])
        return TrainResult(**data)

    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed % 2**32)
    random.seed(settings.seed)
    held = holdout_mask(samples, settings.holdout_fraction)
    if held.all():
        # Too few games to hold any out: calibrate on nothing rather than train on nothing.
        held[:] = False
    train_set = samples.select(~held)
    holdout = samples.select(held)
    symmetric = train_set.symmetric() if settings.augment else np.zeros(len(train_set), bool)
    n_syms = len(board_symmetries(train_set.board_type))

    model, init = _initial_model(settings, meta)
    dev = training_device(device)
    model.to(dev)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps=settings.steps, warmup=settings.warmup)
    )
    run = _Run(settings, run_dir, model, optimizer, scheduler, meta["samples_sha256"])
    resumed_from = load_latest_checkpoint(run)
    _truncate_metrics(run_dir / "metrics.jsonl", run.step if resumed_from is not None else -1)
    run.tb = _tensorboard(run_dir)
    if resumed_from is not None:
        log.info("resuming %s at step %d", run_dir, resumed_from)

    t0 = time.perf_counter()
    done_samples = 0
    while run.step < settings.steps:
        idx = batch_indices(len(train_set), settings.batch_size, run.step, settings.seed)
        ks = batch_symmetries(symmetric, idx, n_syms, run.step, settings.seed)
        batch = train_set.batch(idx, ks if settings.augment else None).to(dev)
        figures = train_step(
            model,
            optimizer,
            batch,
            root_value_weight=settings.root_value_weight,
            grad_clip=settings.grad_clip,
        )
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        run.step += 1
        done_samples += len(batch)
        if run.step % settings.log_every == 0 or run.step == settings.steps:
            elapsed = time.perf_counter() - t0
            _append_metrics(
                run,
                {
                    "kind": "step",
                    "step": run.step,
                    "lr": lr,
                    "samples_per_s": done_samples / max(elapsed, 1e-9),
                    **figures,
                },
            )
        if run.step % settings.checkpoint_every == 0 or run.step == settings.steps:
            save_checkpoint(run)
        if progress is not None:
            progress(run.step, settings.steps, figures)

    return _finish(cfg, store, run, meta, samples, holdout, init, resumed_from, models_dir)


def _finish(
    cfg: Any,
    store: Any,
    run: _Run,
    meta: dict[str, Any],
    samples: SampleSet,
    holdout: SampleSet,
    init: str,
    resumed_from: int | None,
    models_dir: Path | None,
) -> TrainResult:
    settings = run.settings
    model = run.model
    metrics: dict[str, Any] = {
        "steps": settings.steps,
        "init": init,
        "samples": len(samples),
        "device": next(model.parameters()).device.type,
    }
    temperature = 1.0
    calibration: dict[str, Any] = {"skipped": "no held-out games"}
    if len(holdout):
        figures, logits = evaluate_holdout(model, holdout, settings)
        metrics.update({f"holdout_{k}": v for k, v in figures.items()})
        metrics["holdout_samples"] = len(holdout)
        calibrator = ValueCalibrator(logits, holdout.rank, holdout.num_players)
        fitted = calibrator.fit(settings.calibration_objective)
        temperature = fitted.temperature
        calibration = fitted.to_dict()
        tracker = CalibrationTracker()
        tracker.add(*calibrator.win_forecasts(temperature))
        tracker.reliability_diagram(
            run.run_dir / "calibration.png", f"{settings.config}: T = {temperature:.2f}"
        )
    metrics["calibration"] = calibration
    _append_metrics(run, {"kind": "final", "step": settings.steps, **_flat(metrics)})
    if run.tb is not None:
        run.tb.close()

    model.eval()
    card = ModelCard(
        config=settings.config,
        model_config=model.config,
        parent=meta.get("parent"),
        data_window={
            **meta["window"],
            "samples": len(samples),
            "samples_sha256": meta["samples_sha256"],
        },
        metrics=json.loads(json.dumps(metrics)),
        calibration_temperature=temperature,
    )
    directory = Path(models_dir) if models_dir is not None else Path(cfg.paths.models)
    path, model_id = save_model(model, card, directory)
    store.registry.register(
        model_id,
        settings.config,
        path=str(path),
        bytes=path.stat().st_size,
        parent_id=card.parent,
        data_window=card.data_window,
        code_version=card.code_version,
        metrics=card.metrics,
    )
    result = TrainResult(
        config=settings.config,
        model_id=model_id,
        model_path=path,
        parent=card.parent,
        run_dir=run.run_dir,
        steps=settings.steps,
        resumed_from=resumed_from,
        metrics=card.metrics,
        quality=meta.get("quality", {}),
        calibration_temperature=temperature,
    )
    _write_json(run.run_dir / "result.json", result.to_dict())
    return result


def _flat(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out.update({f"{k}_{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over the model's state dict (names and raw bytes, sorted): equal digests
    mean bitwise-equal weights and buffers."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
