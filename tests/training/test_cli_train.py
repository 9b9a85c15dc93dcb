"""``ringrift train`` as a person runs it: progress, one-line errors, exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ringrift_tasks.ai.agent import agent_from_spec
from ringrift_tasks.cli import app
from ringrift_tasks.selfplay.play import play_game
from ringrift_tasks.store import Store, open_store

runner = CliRunner()


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return {"RINGRIFT_HOME": str(tmp_path / "home"), "RINGRIFT_DATABASE_URL": url, "COLUMNS": "200"}


def test_train_registers_a_candidate(store: Store, store_url: str, tmp_path: Path) -> None:
    args = [
        "train",
        "--config",
        "square8_2p",
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--window",
        "6",
        "--seed",
        "4",
        "--blocks",
        "1",
        "--channels",
        "8",
    ]
    result = runner.invoke(app, args, env=_env(tmp_path, store_url))
    assert result.exit_code == 0, result.output
    assert "train: candidate " in result.output
    model_id = result.output.split("train: candidate ")[1].split()[0]
    assert store.registry.get(model_id) is not None
    assert (tmp_path / "home" / "runs" / "square8_2p-s4-12" / "result.json").exists()


def test_a_bad_config_is_one_line_and_exit_2(store_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", "--config", "square9_2p", "--steps", "2"], env=_env(tmp_path, store_url)
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        line for line in result.output.strip().splitlines() if line.startswith("error: ")
    ]
    assert "square9_2p" in result.output


def test_a_refused_window_exits_1_with_the_reason(store_url: str, tmp_path: Path) -> None:
    rnd = agent_from_spec("random")
    with open_store(store_url) as s:
        s.pool.insert_records(
            play_game("square8_2p", [rnd, rnd], i, source="r", max_steps=60) for i in range(4)
        )
    result = runner.invoke(
        app,
        ["train", "--steps", "2", "--blocks", "1", "--channels", "8"],
        env=_env(tmp_path, store_url),
    )
    assert result.exit_code == 1
    assert "refused: data quality" in result.output and "targets 0.00" in result.output
