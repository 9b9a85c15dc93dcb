"""The ``ringrift`` command as a person runs it: in-process and as the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from typer.testing import CliRunner

from ringrift_tasks import __version__
from ringrift_tasks.cli import app
from ringrift_tasks.rules.state import ALL_CONFIGS

EXPECTED_CONFIG_NAMES = [
    f"{board}_{players}p"
    for board in ("square8", "hex8", "square19", "hexagonal")
    for players in (2, 3, 4)
]

runner = CliRunner()


def _installed_ringrift() -> Path:
    """The console script that ``pip install -e .`` put beside this interpreter."""
    script = Path(sys.executable).parent / "ringrift"
    assert script.is_file(), f"console script not installed at {script}; run scripts/setup_env.sh"
    return script


def test_the_twelve_configs_are_every_board_with_two_to_four_players() -> None:
    assert [config.name for config in ALL_CONFIGS] == EXPECTED_CONFIG_NAMES


def test_status_shows_versions_and_every_config(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["status", "--all"], env={"COLUMNS": "200", "RINGRIFT_HOME": str(tmp_path)}
    )

    assert result.exit_code == 0, result.output
    assert __version__ in result.output
    assert torch.__version__ in result.output
    assert sys.version.split()[0] in result.output
    for name in EXPECTED_CONFIG_NAMES:
        assert name in result.output


def test_status_reports_cuda_as_torch_sees_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status"], env={"COLUMNS": "200", "RINGRIFT_HOME": str(tmp_path)})

    cuda_line = next(line for line in result.output.splitlines() if "cuda available" in line)
    if torch.cuda.is_available():
        assert "yes" in cuda_line
    else:
        assert "no" in cuda_line.split("cuda available", 1)[1]


def test_installed_console_script_runs_status(tmp_path: Path) -> None:
    completed = subprocess.run(
        [str(_installed_ringrift()), "status", "--all"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "RINGRIFT_HOME": str(tmp_path)},
    )

    assert completed.returncode == 0, completed.stderr
    assert __version__ in completed.stdout
    for name in EXPECTED_CONFIG_NAMES:
        assert name in completed.stdout


def test_parity_with_a_missing_trace_exits_2_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_trace.jsonl.gz"

    result = runner.invoke(app, ["parity", str(missing)])

    assert result.exit_code == 2
    assert str(missing) in result.output
    assert "not found" in result.output


def test_parity_checks_every_path_before_replaying_any(tmp_path: Path) -> None:
    present = tmp_path / "present.jsonl.gz"
    present.write_bytes(b"")
    missing = tmp_path / "missing.jsonl.gz"

    result = runner.invoke(app, ["parity", str(present), str(missing)])

    assert result.exit_code == 2
    assert str(missing) in result.output


def test_installed_console_script_reports_a_missing_trace_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_trace.jsonl.gz"

    completed = subprocess.run(
        [str(_installed_ringrift()), "parity", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.strip() == f"error: trace file not found: {missing}"


def test_parity_requires_at_least_one_path() -> None:
    result = runner.invoke(app, ["parity"])

    assert result.exit_code == 2
