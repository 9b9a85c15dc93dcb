"""Elo trends from the match log, best-model generations, win rates, plots; game stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringrift_tasks.evaluation.game_stats import (
    game_stats,
    model_generation,
    plot_game_stats,
    stats_by_generation,
    write_stats_artifacts,
)
from ringrift_tasks.evaluation.match import model_agent_name
from ringrift_tasks.evaluation.promotion import promote
from ringrift_tasks.evaluation.trends import (
    best_generations,
    elo_trend,
    time_slices,
    win_rates,
    write_trend_artifacts,
)
from ringrift_tasks.records.game_record import GameRecord, GameResult
from ringrift_tasks.store import Match, Store

from .conftest import ModelMaker

PNG = b"\x89PNG\r\n\x1a\n"
H = 3600.0


def _log(store: Store) -> list[Match]:
    """Hour 1: a and random even. Hour 2: a beats random every time."""
    out = []
    for i in range(20):
        ranking = ["a", "random"] if i % 2 else ["random", "a"]
        out.append(Match.build(f"h1-{i}", "square8_2p", ["a", "random"], ranking, played_at=i))
    for i in range(20):
        out.append(
            Match.build(f"h2-{i}", "square8_2p", ["a", "random"], ["a", "random"], played_at=H + i)
        )
    store.elo.record_matches(out)
    return out


def test_time_slices_end_at_the_last_match_and_are_bounded() -> None:
    assert time_slices(0.0, 2.5 * H, H) == [H, 2 * H, 2.5 * H]
    assert len(time_slices(0.0, 1e9, 1.0)) == 200


def test_the_trend_refits_the_log_at_each_slice(store: Store) -> None:
    _log(store)
    points = elo_trend(store.elo.matches("square8_2p"), times=[100.0, 2 * H])
    a = {p.t: p for p in points if p.agent == "a"}
    assert a[100.0].elo == pytest.approx(400.0, abs=1.0) and a[100.0].games == 20
    assert a[2 * H].elo > 500.0 and a[2 * H].games == 40
    assert all(p.elo == 400.0 for p in points if p.agent == "random")
    assert a[2 * H].ci_low < a[2 * H].elo < a[2 * H].ci_high


def test_win_rates_count_head_to_head_scores(store: Store) -> None:
    log = _log(store)
    assert win_rates(log, "a") == {"random": (0.75, 40)}
    three = Match.build("m", "square8_3p", ["a", "b", "c"], [["a", "b"], "c"])
    assert win_rates([three], "a") == {"b": (0.5, 1), "c": (1.0, 1)}


def test_trend_artifacts_are_pngs_with_generations_of_the_best(
    store: Store, make_model: ModelMaker, tmp_path: Path
) -> None:
    m1, m2 = make_model(store), make_model(store)
    for i, m in enumerate((m1, m2)):
        promote(store, "square8_2p", m.model_id, {}, cooldown_s=0, max_per_day=9, now=1e9 + i)
    n2 = model_agent_name(m2.model_id)
    store.elo.record_matches(
        Match.build(f"g{i}", "square8_2p", [n2, "random"], [n2, "random"], played_at=i)
        for i in range(6)
    )
    gens = best_generations(store, "square8_2p")
    assert [g.model_id for g in gens] == [m1.model_id, m2.model_id]
    assert gens[0].rating is None and gens[1].rating.elo > 400.0
    written = write_trend_artifacts(store, "square8_2p", tmp_path / "art", step_s=1.0)
    assert set(written) == {"trend", "generations", "win_rates"}
    for path in written.values():
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 1000
    assert not list((tmp_path / "art").glob("*.tmp"))


def _rec(config: str, winner: int | None, moves: int, agents: tuple[str, ...]) -> GameRecord:
    term = "move_cap" if winner is None else "territory_control"
    ranking = tuple(range(1, len(agents) + 1))
    return GameRecord(
        config, moves, tuple({"m": i} for i in range(moves)),
        GameResult(winner, term, ranking), agents, "n", 0.0,
    )  # fmt: skip


def test_game_stats_count_lengths_reasons_and_seat_wins() -> None:
    model = "mcts:model=/m/" + "ab" * 32 + ".safetensors,sims=100"
    recs = [
        _rec("square8_2p", 1, 10, ("random", "random")),
        _rec("square8_2p", 1, 20, ("random", "random")),
        _rec("square8_2p", 2, 30, (model, "random")),
        _rec("square8_2p", None, 40, (model, "random")),
        _rec("hex8_3p", 3, 5, ("random",) * 3),
    ]
    stats = game_stats(recs)
    s = stats["square8_2p"]
    assert s.games == 4 and s.decided == 3
    assert s.seat_wins == [2, 1]
    assert s.seat_win_rates == pytest.approx([2 / 3, 1 / 3])
    assert s.first_seat_advantage == pytest.approx(2 / 3 - 1 / 2)
    assert s.terminations == {"territory_control": 3, "move_cap": 1}
    assert s.length_summary()["median"] == 25 and s.length_summary()["max"] == 40
    assert stats["hex8_3p"].seat_wins == [0, 0, 1]
    assert model_generation(recs[2]) == "ab" * 32
    gens = stats_by_generation(recs)
    assert gens[("square8_2p", "ab" * 32)].games == 2


def test_game_stats_plots_from_the_pool(store: Store, tmp_path: Path) -> None:
    from ringrift_tasks.ai.agent import agent_from_spec
    from ringrift_tasks.selfplay.play import play_game

    games = [
        play_game("square8_2p", [agent_from_spec("random")] * 2, s, source="n") for s in range(4)
    ]
    store.pool.insert_records(games)
    written = write_stats_artifacts(store, tmp_path / "art")
    assert list(written) == ["square8_2p"]
    assert written["square8_2p"].read_bytes().startswith(PNG)
    one = plot_game_stats(game_stats(games)["square8_2p"], tmp_path / "one.png")
    assert one.read_bytes().startswith(PNG)
