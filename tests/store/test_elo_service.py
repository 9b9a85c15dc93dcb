"""The Elo service on a real store: append-only, idempotent log and fitted ratings."""

from __future__ import annotations

import random

import pytest
from games import TRUE, synthetic_log

from ringrift_tasks.evaluation.elo import fit_ratings
from ringrift_tasks.store import Match, MatchConflictError, Store, get_elo_service


def _record_log(store: Store, config: str, log: list[list[str]], order: list[int]) -> None:
    for i in order:
        ranking = log[i]
        seats = [a for tier in ranking for a in ([tier] if isinstance(tier, str) else tier)]
        store.elo.record_match(f"{config}-m{i:05d}", config, seats, ranking, source="test")


def test_record_match_is_idempotent_on_match_id(store: Store) -> None:
    assert store.elo.record_match("m1", "square8_2p", ["a", "b"], ["b", "a"], played_at=5.0)
    assert not store.elo.record_match("m1", "square8_2p", ["a", "b"], ["b", "a"], played_at=9.0)
    assert store.elo.count("square8_2p") == 1
    (m,) = store.elo.matches("square8_2p")
    assert (m.participants, m.ranking, m.played_at) == (("a", "b"), (("b",), ("a",)), 5.0)


def test_a_match_id_reused_for_another_result_is_an_error(store: Store) -> None:
    store.elo.record_match("m1", "square8_2p", ["a", "b"], ["a", "b"])
    with pytest.raises(MatchConflictError, match="m1"):
        store.elo.record_match("m1", "square8_2p", ["a", "b"], ["b", "a"])


def test_a_ranking_must_list_exactly_the_participants(store: Store) -> None:
    with pytest.raises(ValueError, match="does not list the participants"):
        store.elo.record_match("m1", "square8_2p", ["a", "b"], ["a", "c"])
    assert store.elo.count() == 0


def test_ties_and_seats_are_stored_as_given(store: Store) -> None:
    store.elo.record_match("m1", "square8_4p", ["d", "c", "b", "a"], ["a", ["c", "b"], "d"])
    (m,) = store.elo.matches("square8_4p")
    assert m.participants == ("d", "c", "b", "a")
    assert m.ranking == (("a",), ("b", "c"), ("d",))


def test_ratings_do_not_depend_on_the_order_matches_arrive_in(store: Store) -> None:
    log = synthetic_log(21, 120) + synthetic_log(22, 40, players=4)
    order = list(range(len(log)))
    _record_log(store, "square8_2p", log, order)
    random.Random(5).shuffle(order)
    _record_log(store, "hex8_2p", log, order)
    a, b = store.elo.ratings("square8_2p"), store.elo.ratings("hex8_2p")
    assert [r.agent for r in a] == [r.agent for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.games == y.games
        assert abs(x.elo - y.elo) <= 1e-9
        assert abs(x.ci_low - y.ci_low) <= 1e-9 and abs(x.ci_high - y.ci_high) <= 1e-9
    assert a == fit_ratings(log)


def test_ratings_recover_known_strengths_anchored_at_random(store: Store) -> None:
    # One fixed draw; each 95% interval misses about 1 time in 20, which
    # test_elo_fit.test_the_intervals_cover_the_truth_about_95_percent_of_the_time measures.
    log = synthetic_log(32, 1500)
    store.elo.record_matches(
        Match.build(f"m{i}", "square8_2p", sorted(r), r, source="test") for i, r in enumerate(log)
    )
    ratings = {r.agent: r for r in store.elo.ratings("square8_2p")}
    assert ratings["random"].elo == 400.0
    for agent, true in TRUE.items():
        assert ratings[agent].ci_low <= true <= ratings[agent].ci_high


def test_record_matches_counts_only_new_ones(store: Store) -> None:
    ms = [Match.build(f"m{i}", "square8_2p", ["a", "b"], ["a", "b"]) for i in range(5)]
    assert store.elo.record_matches(ms[:3]) == 3
    assert store.elo.record_matches(ms) == 2


def test_ranking_from_seats_maps_a_game_result_to_agents() -> None:
    assert Match.ranking_from_seats(["x", "y", "z"], [3, 1, 2]) == ["z", "x", "y"]


def test_get_elo_service_returns_one_service_per_url(store_url: str) -> None:
    s1 = get_elo_service(store_url, anchor_elo=400.0)
    assert get_elo_service(store_url, anchor_elo=400.0) is s1
    s1.record_match("m1", "square8_2p", ["random", "x"], ["x", "random"])
    assert {r.agent for r in s1.ratings("square8_2p")} == {"random", "x"}
