"""The trainer end to end on a real SQLite store: a finished run registers a candidate
with its lineage; killed with SIGKILL and restarted, it ends with the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ringrift_tasks.ai.model_file import load_model, read_card
from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.store import Store, open_store
from ringrift_tasks.training.quality import DataQualityError
from ringrift_tasks.training.trainer import (
    TrainingError,
    batch_indices,
    lr_factor,
    train,
    weights_digest,
)
from tests.training.games import tiny_model

REPO = Path(__file__).resolve().parents[2]


def _train(loop_cfg: RingriftConfig, store: Store, run_dir: Path, **kw: object):  # type: ignore[no-untyped-def]
    params: dict[str, object] = dict(
        steps=6,
        batch_size=16,
        seed=1,
        model=tiny_model(),
        checkpoint_every=3,
        log_every=2,
        holdout_fraction=0.25,
    )
    params.update(kw)
    return train(loop_cfg, "square8_2p", store, run_dir, **params)  # type: ignore[arg-type]


def test_a_finished_run_registers_a_candidate_with_its_card(
    loop_cfg: RingriftConfig, store: Store, tmp_path: Path
) -> None:
    result = _train(loop_cfg, store, tmp_path / "run")
    version = store.registry.get(result.model_id)
    assert version is not None and version.status == "candidate"
    assert version.parent_id is None  # nothing promoted yet
    card = read_card(result.model_path)
    assert card.config == "square8_2p"
    assert card.calibration_temperature == result.calibration_temperature
    assert 0.5 <= card.calibration_temperature <= 2.0
    assert card.data_window["games"] == 12
    assert "holdout_value_accuracy" in card.metrics and "calibration" in card.metrics
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if x["kind"] == "step"] == [2, 4, 6]
    assert {"policy_loss", "value_loss", "policy_entropy", "value_accuracy", "lr"} <= set(lines[0])
    assert lines[-1]["kind"] == "final" and "calibration_ece_after" in lines[-1]
    assert (tmp_path / "run" / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((tmp_path / "run" / "checkpoints").glob("ckpt-*.pt"))) == 2
    # Running the finished run again trains nothing and returns the same candidate.
    assert _train(loop_cfg, store, tmp_path / "run").model_id == result.model_id


def test_the_next_run_starts_from_the_best_model_and_names_it_as_parent(
    loop_cfg: RingriftConfig, store: Store, tmp_path: Path
) -> None:
    first = _train(loop_cfg, store, tmp_path / "a")
    out = store.registry.promote("square8_2p", first.model_id, {}, cooldown_s=0, max_per_day=9)
    assert out.promoted
    second = _train(loop_cfg, store, tmp_path / "b", seed=2)
    assert second.parent == first.model_id
    assert store.registry.get(second.model_id).parent_id == first.model_id
    assert read_card(second.model_path).metrics["init"].startswith("parent ")


def test_the_quality_gate_refuses_before_any_training(
    loop_cfg: RingriftConfig, store_url: str, tmp_path: Path
) -> None:
    from ringrift_tasks.ai.agent import agent_from_spec
    from ringrift_tasks.selfplay.play import play_game

    rnd = agent_from_spec("random")
    with open_store(store_url) as fresh:
        fresh.pool.insert_records(
            play_game("square8_2p", [rnd, rnd], i, source="r", max_steps=80) for i in range(5)
        )
        with pytest.raises(DataQualityError, match="targets 0.00"):
            _train(loop_cfg, fresh, tmp_path / "run")
        assert fresh.registry.candidates("square8_2p") == []
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_directory_holding_another_run_is_refused(
    loop_cfg: RingriftConfig, store: Store, tmp_path: Path
) -> None:
    _train(loop_cfg, store, tmp_path / "run")
    with pytest.raises(TrainingError, match="other settings"):
        _train(loop_cfg, store, tmp_path / "run", seed=99)
    with pytest.raises(TrainingError, match="batch_size=0"):
        _train(loop_cfg, store, tmp_path / "other", batch_size=0)


def test_batches_walk_through_epoch_permutations() -> None:
    n, b = 10, 4
    seen = [batch_indices(n, b, step, seed=3) for step in range(5)]  # 20 positions, 2 epochs
    flat = [int(i) for part in seen for i in part]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:]) == list(range(10))
    assert list(batch_indices(n, b, 2, seed=3)) == flat[8:12]
    assert lr_factor(0, steps=100, warmup=10) == pytest.approx(0.1)
    assert lr_factor(10, steps=100, warmup=10) == pytest.approx(1.0)
    assert lr_factor(100, steps=100, warmup=10) == pytest.approx(0.1)


def _run(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.training.resume_script", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_killed_and_restarted_training_ends_with_the_uninterrupted_weights(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    steps = "20"
    straight = _run([store_url, home, str(tmp_path / "straight"), steps, "0"])
    out, err = straight.communicate(timeout=300)
    assert straight.returncode == 0, err
    reference = json.loads(out.strip().splitlines()[-1])

    run_dir = tmp_path / "killed"
    victim = _run([store_url, home, str(run_dir), steps, "0.3"])
    deadline = time.monotonic() + 120
    # Kill after the second checkpoint (step 8) is on disk, well before step 20.
    while not (run_dir / "checkpoints" / "ckpt-00000008.pt").exists():
        assert victim.poll() is None, victim.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert not (run_dir / "result.json").exists()

    again = _run([store_url, home, str(run_dir), steps, "0"])
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    resumed = json.loads(out.strip().splitlines()[-1])
    assert resumed["resumed_from"] in (8, 12)

    a = load_model(Path(reference["model_path"])).model
    b = load_model(Path(resumed["model_path"])).model
    assert weights_digest(a) == weights_digest(b)
    # The metrics of the killed stretch were redone once, not logged twice.
    steps_logged = [
        json.loads(x)["step"]
        for x in (run_dir / "metrics.jsonl").read_text().splitlines()
        if json.loads(x)["kind"] == "step"
    ]
    assert steps_logged == list(range(2, 21, 2))
