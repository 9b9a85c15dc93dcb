"""``benchmarks/gpu_bench.py --quick`` runs end to end on whatever this machine has.

Without a CUDA device the bench must say, in the library's own log lines, that training and
neural inference fall back to the CPU, and still measure every section; with one it must run
on it and read the GPU's utilisation. Either way it writes its results file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_quick_bench_measures_every_section_and_reports_its_device(tmp_path: Path) -> None:
    out = tmp_path / "gpu_bench.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu_bench.py", "--quick", "--out", str(out)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    result = json.loads(out.read_text())

    if torch.cuda.is_available():
        assert result["machine"]["device"] == "cuda"
        assert result["machine"]["gpu_model"]
        assert all(r["gpu_util_pct"] is not None for r in result["selfplay_batched"])
    else:
        assert "CUDA not available: training falls back to the CPU" in output
        assert "no CUDA device: neural inference falls back to the CPU" in output
        assert result["machine"]["device"] == "cpu"
        assert result["machine"]["gpu_model"] is None

    sweep = result["sweep"]
    assert [r["batch_size"] for r in result["training"]] == sweep["train_batches"]
    assert all(r["samples_per_s"] > 0 for r in result["training"])
    for row in result["selfplay_workers"]:
        assert row["games"] == row["workers"] * sweep["selfplay_games_per_worker"]
        assert 0 < row["moves"] <= row["games"] * sweep["max_moves"]
    for row in result["selfplay_batched"]:
        assert row["moves"] > 0 and row["positions"] > 0
        # One leaf per game per evaluator call (leaves_per_step 1): batches never exceed it.
        assert 0 < row["mean_batch"] <= row["parallel_games"]
    for line in ("train ", "selfplay-workers ", "selfplay-batched ", "best training: "):
        assert line in proc.stdout, proc.stdout
