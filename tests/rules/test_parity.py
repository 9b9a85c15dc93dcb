"""Rules parity with the reference engine: every trace game replays bit-for-bit."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringrift_tasks.rules.parity import replay_game, run_parity
from ringrift_tasks.rules.traces import iter_trace_games

REPO = Path(__file__).resolve().parents[2]
VENDORED = sorted((REPO / "tests" / "data" / "parity").glob("*.jsonl.gz"))
SHARED = REPO.parent / "shared" / "parity" / "traces"
PUBLIC = sorted(SHARED.glob("*.jsonl.gz")) if SHARED.is_dir() else []


@pytest.mark.parametrize("path", VENDORED, ids=[p.name.split(".")[0] for p in VENDORED])
def test_vendored_traces_replay_bit_for_bit(path: Path) -> None:
    lines: list[str] = []
    report = run_parity([path], echo=lines.append, workers=1)
    assert report.ok, "\n".join(lines)
    assert (
        lines[-1]
        == f"parity: {report.games}/{report.games} games, {report.moves}/{report.moves} moves"
    )


def test_vendored_set_covers_all_twelve_configs() -> None:
    configs = {next(iter_trace_games(p))["config"] for p in VENDORED}
    assert len(configs) == 12


@pytest.mark.skipif(not PUBLIC, reason="../shared/parity/traces not present in this checkout")
@pytest.mark.parametrize("path", PUBLIC, ids=[p.name.split(".")[0] for p in PUBLIC])
def test_full_public_trace_set_replays_bit_for_bit(path: Path) -> None:
    lines: list[str] = []
    report = run_parity([path], echo=lines.append, workers=1)
    assert report.ok, "\n".join(lines[-25:])


def test_a_tampered_digest_is_reported_with_game_and_step() -> None:
    game = next(iter_trace_games(VENDORED[0]))
    game["steps"][3]["digest"] = "0" * 64
    matched, div = replay_game(game)
    assert div is not None
    assert div.step == 3 and matched == 3
    assert "digest" in div.what
    assert div.seed == game["seed"]


def test_a_tampered_legal_list_is_reported() -> None:
    game = next(iter_trace_games(VENDORED[0]))
    game["steps"][0]["n_legal"] += 1
    _, div = replay_game(game)
    assert div is not None and div.step == 0 and "legal move list" in div.what
