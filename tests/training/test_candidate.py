"""The loop's training entry point: the tower ``training.model_size`` asks for, the run
directory keyed by the run, and where the trainer runs (CUDA, else the CPU, logged)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from ringrift_tasks.ai.model_file import read_card
from ringrift_tasks.config import ConfigError, RingriftConfig, load_config
from ringrift_tasks.store import Store
from ringrift_tasks.training.candidate import run_dir_for, train_candidate
from ringrift_tasks.training.trainer import training_device


def _cfg(tmp_path: Path, **env: str) -> RingriftConfig:
    return load_config(env={"RINGRIFT_HOME": str(tmp_path / "home"), **env})


def test_model_size_trains_the_named_tower_in_the_run_directory(
    tmp_path: Path, store: Store
) -> None:
    cfg = _cfg(tmp_path, RINGRIFT__TRAINING__MODEL_SIZE="1x8")
    result = train_candidate(
        cfg,
        store,
        "square8_2p",
        "manual__2026-01-01T00:00:00+00:00",
        steps=4,
        batch_size=8,
        use_curriculum=False,
    )
    card = read_card(result.model_path)
    assert (card.model_config.blocks, card.model_config.channels) == (1, 8)
    assert result.run_dir == run_dir_for(cfg, "square8_2p", "manual__2026-01-01T00:00:00+00:00")
    assert result.run_dir.name == "manual__2026-01-01T00_00_00_00_00"
    assert result.model_path.parent == cfg.paths.models
    assert card.metrics["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_default_model_size_is_the_boards_own_tower(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    assert cfg.training.model_size == "default" and cfg.training.model_tower() is None
    assert _cfg(tmp_path, RINGRIFT__TRAINING__MODEL_SIZE="2x32").training.model_tower() == (2, 32)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("big", "<blocks>x<channels>"), ("1x6", "multiple of 4"), ("0x8", "blocks >= 1")],
)
def test_a_bad_model_size_is_refused_naming_the_key(
    tmp_path: Path, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _cfg(tmp_path, RINGRIFT__TRAINING__MODEL_SIZE=value)
    message = str(info.value)
    assert "RINGRIFT__TRAINING__MODEL_SIZE" in message and "training.model_size" in message
    assert expected in message and repr(value) in message


def test_training_device_says_when_it_falls_back_to_the_cpu(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ringrift_tasks.training.trainer")
    device = training_device()
    if torch.cuda.is_available():
        assert device.type == "cuda" and "training on CUDA device" in caplog.text
    else:
        assert device.type == "cpu"
        assert "CUDA not available: training falls back to the CPU" in caplog.text
    assert training_device("cpu") == torch.device("cpu")
