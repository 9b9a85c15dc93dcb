"""One training run of the loop: where it lives and how long it trains.

The scheduler retries a failed training with the same run key, so the run directory is a
pure function of (config, run key): a retry resumes from the trainer's checkpoints instead
of starting over. The number of steps is the requested steps scaled by the config's
curriculum weight (``CurriculumTrainer.plan``), logged with the weight.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.rules.state import GameConfig

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store
    from ringrift_tasks.training.trainer import TrainResult

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def run_dir_for(cfg: RingriftConfig, config: str, run_key: str) -> Path:
    """``<home>/training/<config>/<run key with unsafe characters replaced>``."""
    GameConfig.parse(config)
    key = _UNSAFE.sub("_", run_key).strip("._") or "run"
    return cfg.home / "training" / config / key


def train_candidate(
    cfg: RingriftConfig,
    store: Store,
    config: str,
    run_key: str,
    *,
    steps: int,
    batch_size: int = 256,
    seed: int = 0,
    use_curriculum: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train (or resume) the run ``run_key`` of ``config``; the trainer calibrates the
    value head and registers the candidate. The architecture is the board's default or
    the tower of ``training.model_size``. ``overrides``: further ``TrainSettings``."""
    from ringrift_tasks.training.curriculum import CurriculumConfig, CurriculumTrainer
    from ringrift_tasks.training.trainer import train

    if use_curriculum:
        plan = CurriculumTrainer(
            store,
            list(dict.fromkeys([*cfg.configs, config])),
            CurriculumConfig.from_settings(cfg.curriculum),
        ).plan(config, steps)
        log.info("training %s: %d steps (weight %.3f x %d)", config, plan.steps, plan.weight, steps)
        steps = plan.steps
    tower = cfg.training.model_tower()
    if tower is not None and "model" not in overrides:
        from ringrift_tasks.ai.network import default_model_config

        blocks, channels = tower
        board = GameConfig.parse(config).board_type
        overrides["model"] = default_model_config(board, blocks=blocks, channels=channels).to_dict()
        log.info("training %s: %s tower (training.model_size)", config, cfg.training.model_size)
    run_dir = run_dir_for(cfg, config, run_key)
    return train(cfg, config, store, run_dir, steps, batch_size, seed, **overrides)
