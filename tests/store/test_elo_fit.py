"""The batch Bradley-Terry fit (pure math of ringrift_tasks.evaluation.elo)."""

from __future__ import annotations

import math
import random

import pytest
from games import TRUE, synthetic_log
from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift_tasks.evaluation.elo import (
    EloFitError,
    fit_ratings,
    normalize_ranking,
    pairwise_results,
)


def _as_tuples(ratings):  # noqa: ANN001, ANN202
    return [(r.agent, r.elo, r.ci_low, r.ci_high, r.games) for r in ratings]


def test_random_is_pinned_at_the_anchor_with_a_zero_width_interval() -> None:
    ratings = {r.agent: r for r in fit_ratings(synthetic_log(1, 400))}
    assert ratings["random"].elo == 400.0
    assert ratings["random"].ci_low == ratings["random"].ci_high == 400.0


def test_without_the_anchor_agent_the_mean_is_pinned_at_1500() -> None:
    log = [m for m in synthetic_log(2, 600) if "random" not in m]
    ratings = fit_ratings(log)
    assert math.isclose(sum(r.elo for r in ratings) / len(ratings), 1500.0, abs_tol=1e-6)


def test_the_anchor_elo_is_a_parameter() -> None:
    ratings = {r.agent: r.elo for r in fit_ratings(synthetic_log(3, 300), anchor_elo=0.0)}
    assert ratings["random"] == 0.0


@given(st.randoms(use_true_random=False))
@settings(max_examples=25, deadline=None)
def test_any_permutation_of_the_log_gives_identical_ratings(rnd: random.Random) -> None:
    log = synthetic_log(4, 150) + synthetic_log(5, 60, players=3) + [["a", ["b", "random"]]]
    shuffled = log[:]
    rnd.shuffle(shuffled)
    # Permuting ties inside a tier is a permutation of the log's content too.
    shuffled = [[list(reversed(t)) if isinstance(t, list) else t for t in m] for m in shuffled]
    base, other = fit_ratings(log), fit_ratings(shuffled)
    assert [r.agent for r in base] == [r.agent for r in other]
    for a, b in zip(_as_tuples(base), _as_tuples(other), strict=True):
        assert a[4] == b[4]
        for x, y in zip(a[1:4], b[1:4], strict=True):
            assert abs(x - y) <= 1e-9


@pytest.mark.parametrize("players", [2, 3, 4])
def test_known_strengths_are_recovered_within_their_intervals(players: int) -> None:
    ratings = {r.agent: r for r in fit_ratings(synthetic_log(10 + players, 3000, players))}
    for agent, true in TRUE.items():
        r = ratings[agent]
        assert r.ci_low <= true <= r.ci_high, (agent, true, r)


def test_the_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    covered = total = 0
    for seed in range(60):
        for r in fit_ratings(synthetic_log(100 + seed, 400)):
            if r.agent != "random":
                covered += r.ci_low <= TRUE[r.agent] <= r.ci_high
                total += 1
    assert 0.88 <= covered / total <= 0.995


def test_intervals_narrow_with_more_games() -> None:
    small = {r.agent: r.ci_high - r.ci_low for r in fit_ratings(synthetic_log(7, 200))}
    large = {r.agent: r.ci_high - r.ci_low for r in fit_ratings(synthetic_log(7, 3200))}
    for agent in ("heuristic", "mcts_100", "mcts_500"):
        assert large[agent] < small[agent] / 2.5


def test_an_unbeaten_agent_gets_a_finite_rating_above_the_rest() -> None:
    log = [["champ", "random"]] * 20 + [["champ", "b"]] * 5 + [["b", "random"]] * 3
    ratings = {r.agent: r for r in fit_ratings(log)}
    assert math.isfinite(ratings["champ"].elo) and math.isfinite(ratings["champ"].ci_high)
    assert ratings["champ"].elo > ratings["b"].elo > 400.0


def test_a_draw_between_equals_gives_equal_ratings() -> None:
    ratings = fit_ratings([[["x", "y"]], ["x", "y"], ["y", "x"]])
    assert math.isclose(ratings[0].elo, ratings[1].elo, abs_tol=1e-9)
    assert math.isclose(ratings[0].elo, 1500.0, abs_tol=1e-9)


def test_a_multiplayer_match_decomposes_into_weighted_pairs() -> None:
    pairs = pairwise_results(normalize_ranking(["a", ["b", "c"], "d"]))
    w = 1 / 3
    assert sorted(pairs) == sorted(
        [("a", "b", w), ("a", "c", w), ("a", "d", w), ("b", "c", w / 2), ("c", "b", w / 2),
         ("b", "d", w), ("c", "d", w)]
    )  # fmt: skip


def test_games_counts_matches_per_agent() -> None:
    ratings = {r.agent: r.games for r in fit_ratings([["a", "b"], ["b", "c", "a"], ["a", "c"]])}
    assert ratings == {"a": 3, "b": 2, "c": 2}


@pytest.mark.parametrize(
    ("ranking", "message"),
    [(["a"], "at least two"), (["a", "a"], "appears twice"), (["a", []], "empty tier")],
)
def test_a_bad_ranking_is_named(ranking: list, message: str) -> None:
    with pytest.raises(EloFitError, match=message):
        fit_ratings([ranking])


def test_an_empty_log_has_no_ratings() -> None:
    assert fit_ratings([]) == []
