"""Windows and samples: every decision becomes one sample with the recorded targets, bad
games are counted not hidden, and augmented samples stay legal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ringrift_tasks.ai.actions import encode_moves
from ringrift_tasks.ai.encoding import HISTORY_STEPS, PLANE_HISTORY, encode_state
from ringrift_tasks.ai.network import rank_targets
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.rules.moves import move_from_json
from ringrift_tasks.rules.state import new_game
from ringrift_tasks.rules.turn import apply_move, legal_moves
from ringrift_tasks.store import Store
from ringrift_tasks.training.dataset import (
    DatasetError,
    SampleSet,
    extract_samples,
    holdout_mask,
    load_window,
    window_games,
)
from ringrift_tasks.training.symmetry import board_symmetries, transform_state


def test_the_window_is_every_game_at_first_then_grows_sublinearly() -> None:
    assert window_games(0) == 0
    assert window_games(250) == 250
    sizes = [window_games(n) for n in (500, 1000, 10_000, 100_000)]
    assert sizes == sorted(sizes)
    assert all(250 < s < n for s, n in zip(sizes, (500, 1000, 10_000, 100_000), strict=True))
    with pytest.raises(DatasetError, match="exponent"):
        window_games(10, exponent=0)


def test_load_window_takes_the_newest_games_oldest_first(store: Store) -> None:
    window = load_window(store.pool, "square8_2p", 5)
    assert len(window.games) == 5 and window.pool_games == 12
    created = [g.created_at for g in window.games]
    assert created == sorted(created)
    newest = list(store.pool.iter_games("square8_2p", limit=5))
    assert {g.game_id for g in window.games} == {g.game_id for g in newest}
    assert window.describe()["games"] == 5


def _decisions(rec: GameRecord) -> list[tuple[object, list, int]]:
    s = new_game(rec.config)
    out = []
    for step, mj in enumerate(rec.moves):
        legal = legal_moves(s)
        if legal:
            out.append((s.copy(), legal, step))
        apply_move(s, move_from_json(mj, s.geo))
    return out


def test_every_decision_is_a_sample_with_the_recorded_targets(games: list[GameRecord]) -> None:
    rec = games[0]
    samples, stats = extract_samples([rec], history_steps=0)
    decisions = _decisions(rec)
    assert len(samples) == stats.samples == len(decisions)
    assert stats.samples_with_policy == len(decisions) and stats.bad_targets == 0
    for i, (s, legal, step) in enumerate(decisions):
        idx, probs = samples.legal(i)
        assert np.array_equal(idx, encode_moves(legal, s))
        target = rec.targets[step]
        expected = np.zeros(len(legal))
        for j, p in target.policy:
            expected[j] = p
        assert probs == pytest.approx(expected / expected.sum(), abs=1e-6)
        assert np.array_equal(
            samples.rank[i], rank_targets(list(rec.result.ranking), s.current_player, 2)
        )
        # Root values are rotated like the encoder: group 0 is the player to move.
        mover = s.current_player
        assert samples.root_value[i][0] == pytest.approx(target.values[mover - 1], abs=1e-6)
        planes, glob = encode_state(s)
        assert np.array_equal(samples.planes[i] / 10.0, planes.astype(np.float64).round(6))
        assert np.array_equal(samples.globals_[i], glob)


def test_history_planes_hold_the_previous_positions(games: list[GameRecord]) -> None:
    with_history, _ = extract_samples(games[:1], history_steps=HISTORY_STEPS)
    without, _ = extract_samples(games[:1], history_steps=0)
    assert not without.planes[:, PLANE_HISTORY:].any()
    assert with_history.planes[5:, PLANE_HISTORY:].any()
    assert np.array_equal(with_history.planes[:, :PLANE_HISTORY], without.planes[:, :PLANE_HISTORY])


def test_a_game_that_does_not_replay_is_left_out_and_counted(games: list[GameRecord]) -> None:
    good = games[1]
    moves = list(good.moves)
    moves[3] = moves[1]  # a placement on an occupied cell, or by the wrong player
    bad = dataclasses.replace(good, moves=tuple(moves), game_id="")
    samples, stats = extract_samples([bad, good], history_steps=0)
    assert stats.games == 2 and stats.games_used == 1
    assert stats.rejected[0][0] == bad.game_id and "step 3" in stats.rejected[0][1]
    assert samples.game_ids == (good.game_id,)


def test_a_target_that_does_not_fit_its_legal_list_trains_the_value_only(
    games: list[GameRecord],
) -> None:
    rec = games[2]
    targets = list(rec.targets)
    first = next(i for i, t in enumerate(targets) if t is not None)
    targets[first] = dataclasses.replace(targets[first], policy=((10_000, 1.0),))
    samples, stats = extract_samples(
        [dataclasses.replace(rec, targets=tuple(targets))], history_steps=0
    )
    assert stats.bad_targets == 1
    assert not samples.has_policy[0] and samples.has_policy[1:].all()


def test_a_window_without_samples_is_an_error() -> None:
    with pytest.raises(DatasetError, match="no training samples"):
        extract_samples([])


def test_samples_round_trip_through_their_file(games: list[GameRecord], tmp_path: Path) -> None:
    samples, _ = extract_samples(games[:3], history_steps=0)
    sha = samples.save(tmp_path / "s.npz")
    back = SampleSet.load(tmp_path / "s.npz", sha)
    assert back.game_ids == samples.game_ids and back.config == samples.config
    for name in ("planes", "legal_offsets", "legal_index", "legal_target", "rank", "root_value"):
        assert np.array_equal(getattr(back, name), getattr(samples, name))
    with pytest.raises(DatasetError, match="sha256"):
        SampleSet.load(tmp_path / "s.npz", "0" * 64)


def test_the_holdout_split_follows_the_game_and_not_the_window(games: list[GameRecord]) -> None:
    big, _ = extract_samples(games, history_steps=0)
    small, _ = extract_samples(games[4:], history_steps=0)
    held_big = {big.game_ids[g] for g in big.game[holdout_mask(big, 0.5)]}
    held_small = {small.game_ids[g] for g in small.game[holdout_mask(small, 0.5)]}
    assert held_small == held_big & set(small.game_ids)
    assert 0 < len(held_big) < len(games)


def test_augmented_samples_name_legal_moves_of_the_transformed_position(
    games: list[GameRecord],
) -> None:
    rec = games[3]
    samples, _ = extract_samples([rec], history_steps=0)
    syms = board_symmetries("square8")
    decisions = _decisions(rec)
    symmetric = samples.symmetric()
    assert symmetric.mean() > 0.8  # only line/territory choices are left unaugmented
    idx = np.arange(len(samples))
    ks = (idx % 7) + 1
    ks = np.where(symmetric, ks, 0)
    batch = samples.batch(idx, ks)
    for i, (s, _legal, _step) in enumerate(decisions):
        t = transform_state(s, syms.symmetries[int(ks[i])])
        legal_t = set(encode_moves(legal_moves(t), t).tolist())
        n = int(batch.legal_mask[i].sum())
        assert set(batch.legal_index[i, :n].tolist()) == legal_t
        planes_t, _ = encode_state(t)
        assert np.allclose(batch.planes[i].numpy(), planes_t)
        assert float(batch.policy_target[i].sum()) == pytest.approx(1.0, abs=1e-5)
