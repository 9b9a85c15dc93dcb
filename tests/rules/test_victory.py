"""Victory conditions, game end, host LPS rounds and the result record (rules/victory.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringrift_tasks.rules import victory as V
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, LpsTracker, new_game
from ringrift_tasks.rules.traces import iter_trace_games
from ringrift_tasks.rules.view import state_from_view

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "parity" / "traces"
VENDORED = REPO / "tests" / "data" / "parity"


def _game(config: str = "square8_2p") -> GameState:
    s = new_game(config)
    s.phase = "movement"
    return s


def _c(s: GameState, key: str) -> int:
    return s.geo.cell_of_key(key)


def _empty_hands(s: GameState) -> None:
    for p in range(1, s.num_players + 1):
        s.rings_in_hand[p] = 0


# --- evaluate_victory -------------------------------------------------------------------


def test_no_victory_at_game_start() -> None:
    assert V.evaluate_victory(new_game("square8_2p")) is None


def test_ring_elimination_uses_credited_eliminations_at_threshold() -> None:
    s = _game()
    s.stacks[_c(s, "0,0")] = (1,)
    s.stacks[_c(s, "7,7")] = (2,)
    s.eliminated[2] = s.victory_threshold
    v = V.evaluate_victory(s)
    assert v == V.Victory(2, "ring_elimination", "ring_elimination")


def test_ring_elimination_below_threshold_is_not_a_win() -> None:
    s = _game()
    s.stacks[_c(s, "0,0")] = (1,)
    s.stacks[_c(s, "7,7")] = (2,)
    s.eliminated[2] = s.victory_threshold - 1
    s.board_eliminated[2] = s.victory_threshold  # the board counter is not consulted
    assert V.evaluate_victory(s) is None


def test_ring_elimination_first_seat_wins_when_two_qualify() -> None:
    s = _game("square8_3p")
    s.eliminated[2] = s.victory_threshold
    s.eliminated[3] = s.victory_threshold + 5
    assert V.evaluate_victory(s).winner == 2


def test_territory_control_counts_collapsed_spaces_not_the_counter() -> None:
    s = _game()
    s.stacks[_c(s, "0,0")] = (1,)
    s.stacks[_c(s, "7,7")] = (2,)
    cells = [c for c in range(s.geo.n_cells) if c not in s.stacks][: s.territory_victory_minimum]
    for c in cells:
        s.collapsed[c] = 1
    s.territory[1] = 0  # stale counter: the engine counts collapsedSpaces
    v = V.evaluate_victory(s)
    assert (v.winner, v.termination, v.engine_reason) == (
        1,
        "territory_control",
        "territory_control",
    )


def test_territory_needs_more_than_all_opponents_together() -> None:
    s = _game("square8_3p")  # minimum = 64 // 3 + 1 = 22
    s.stacks[_c(s, "0,0")] = (1,)
    s.stacks[_c(s, "0,1")] = (2,)
    free = [c for c in range(s.geo.n_cells) if c not in s.stacks]
    for c in free[:22]:
        s.collapsed[c] = 1
    for c in free[22:34]:
        s.collapsed[c] = 2
    for c in free[34:44]:
        s.collapsed[c] = 3  # opponents 12 + 10 = 22: not strictly fewer than 22
    assert V.evaluate_victory(s) is None
    del s.collapsed[free[43]]  # opponents now 21 < 22
    assert V.evaluate_victory(s).winner == 1


def test_territory_below_minimum_is_not_a_win_even_if_dominant() -> None:
    s = _game()
    s.stacks[_c(s, "0,0")] = (1,)
    s.stacks[_c(s, "7,7")] = (2,)
    for c in range(s.territory_victory_minimum - 1):
        if c not in s.stacks:
            s.collapsed[c] = 1
    assert V.evaluate_victory(s) is None


def test_early_lps_when_only_one_controller_and_nobody_else_has_rings() -> None:
    s = _game()
    _empty_hands(s)
    s.stacks[_c(s, "3,3")] = (1, 1)
    v = V.evaluate_victory(s)
    assert v == V.Victory(1, "last_player_standing", "last_player_standing")


def test_early_lps_blocked_by_a_buried_opponent_ring() -> None:
    s = _game()
    _empty_hands(s)
    s.stacks[_c(s, "3,3")] = (1, 2)  # player 2 still has a ring (buried)
    assert V.evaluate_victory(s) is None


def test_early_lps_blocked_by_opponent_rings_in_hand() -> None:
    s = _game()
    _empty_hands(s)
    s.rings_in_hand[2] = 1
    s.stacks[_c(s, "3,3")] = (1,)
    assert V.evaluate_victory(s) is None


def test_blocked_stacks_of_two_players_are_not_terminal() -> None:
    s = _game()
    _empty_hands(s)
    s.stacks[_c(s, "0,0")] = (1,)
    s.stacks[_c(s, "7,7")] = (2,)
    # Both stacks walled in by collapsed spaces: still not a victory (forced elimination
    # resolves such positions, not evaluateVictory).
    for cell in (_c(s, "0,0"), _c(s, "7,7")):
        for nb in s.geo.neighbors[cell]:
            if nb >= 0:
                s.collapsed[nb] = 1 if cell == _c(s, "0,0") else 2
    assert V.evaluate_victory(s) is None


def test_bare_board_with_a_placeable_ring_in_hand_is_not_over() -> None:
    s = _game()
    _empty_hands(s)
    s.rings_in_hand[2] = 1
    s.eliminated[1] = 3
    assert V.evaluate_victory(s) is None


def test_bare_board_ladder_territory_first() -> None:
    s = _game()
    _empty_hands(s)
    s.collapsed[_c(s, "0,0")] = 2
    s.eliminated[1] = 10
    assert V.evaluate_victory(s) == V.Victory(2, "territory_control", "territory_control")


def test_bare_board_ladder_eliminated_rings_on_territory_tie() -> None:
    s = _game()
    _empty_hands(s)
    s.collapsed[_c(s, "0,0")] = 1
    s.collapsed[_c(s, "0,1")] = 2
    s.eliminated[1] = 4
    s.eliminated[2] = 5
    assert V.evaluate_victory(s) == V.Victory(2, "ring_elimination", "ring_elimination")


def test_bare_board_ladder_markers_then_last_player_standing() -> None:
    s = _game()
    _empty_hands(s)
    s.eliminated[1] = s.eliminated[2] = 4
    s.markers[_c(s, "2,2")] = 1
    assert V.evaluate_victory(s) == V.Victory(1, "last_player_standing", "last_player_standing")


def test_bare_board_ladder_last_actor_breaks_a_full_tie() -> None:
    s = _game("square8_3p")
    _empty_hands(s)
    s.current_player = 1
    assert V.evaluate_victory(s, last_actor=2).winner == 2
    # Without a history the reference falls back to the seat before the current player.
    assert V.evaluate_victory(s).winner == 3
    s.turn_moves = [Move("no_territory_action", 1, None)]
    assert V.evaluate_victory(s).winner == 1


def test_bare_board_stalemate_counts_rings_in_hand_as_eliminated() -> None:
    s = _game()
    _empty_hands(s)
    # No placement anywhere: the only free cells are two corners walled in by collapsed
    # spaces (31 each, a territory tie below the territory minimum).
    keep = {_c(s, "0,0"), _c(s, "7,7")}
    others = [c for c in range(s.geo.n_cells) if c not in keep]
    for i, c in enumerate(others):
        s.collapsed[c] = 1 + i % 2
    s.rings_in_hand[2] = 3
    s.eliminated[1] = 2
    v = V.evaluate_victory(s)
    assert v == V.Victory(2, "ring_elimination", "ring_elimination", True)


# --- apply_victory and the forced-elimination quirk -------------------------------------


def test_apply_victory_changes_only_status_winner_and_phase() -> None:
    s = _game()
    s.current_player = 2
    s.must_move_from = _c(s, "3,3")
    s.chain_capture_pos = _c(s, "4,4")
    V.apply_victory(s, V.Victory(1, "territory_control", "territory_control"))
    assert (s.status, s.winner, s.phase) == ("completed", 1, "game_over")
    assert s.current_player == 2
    assert s.must_move_from == _c(s, "3,3")
    assert s.chain_capture_pos == _c(s, "4,4")


def test_forced_elimination_game_end_moves_to_next_player_with_rings() -> None:
    s = _game("square8_3p")
    _empty_hands(s)
    s.stacks[_c(s, "0,0")] = (1, 3)  # player 2 has nothing left: skipped
    V.apply_victory(s, V.Victory(1, "last_player_standing", "last_player_standing"))
    V.fsm_turn_end_after_forced_elimination(s, mover=1)
    assert (s.phase, s.current_player, s.status, s.winner) == ("ring_placement", 3, "completed", 1)


# --- host LPS rounds --------------------------------------------------------------------


def test_lps_tracking_first_turn_starts_a_round() -> None:
    lps = LpsTracker()
    V.update_lps_tracking(lps, 2, [1, 2], True)
    assert (lps.round_index, lps.current_round_first_player, lps.actor_mask) == (1, 2, {2: True})


def test_lps_tracking_counts_consecutive_exclusive_rounds() -> None:
    lps = LpsTracker()
    for _ in range(3):
        V.update_lps_tracking(lps, 1, [1, 2], True)
        V.update_lps_tracking(lps, 2, [1, 2], False)
    V.update_lps_tracking(lps, 1, [1, 2], True)
    assert lps.round_index == 4
    assert lps.exclusive_player_for_completed_round == 1
    assert (lps.consecutive_exclusive_rounds, lps.consecutive_exclusive_player) == (3, 1)
    assert lps.actor_mask == {1: True}


def test_lps_tracking_round_with_two_actors_resets_the_streak() -> None:
    lps = LpsTracker(3, 1, {1: True, 2: True}, 1, 2, 1)
    V.update_lps_tracking(lps, 1, [1, 2], False)
    assert lps.exclusive_player_for_completed_round is None
    assert (lps.consecutive_exclusive_rounds, lps.consecutive_exclusive_player) == (0, None)
    assert (lps.round_index, lps.actor_mask) == (4, {1: False})


def test_lps_tracking_restarts_when_the_first_player_lost_his_material() -> None:
    lps = LpsTracker(5, 2, {2: False, 3: True}, 3, 2, 3)
    V.update_lps_tracking(lps, 3, [1, 3], True)
    assert (lps.round_index, lps.current_round_first_player) == (6, 3)
    assert lps.exclusive_player_for_completed_round is None
    assert (lps.consecutive_exclusive_rounds, lps.consecutive_exclusive_player) == (2, 3)
    assert lps.actor_mask == {3: True}


def test_lps_tracking_ignores_a_player_without_material() -> None:
    lps = LpsTracker(2, 1, {1: True}, None, 0, None)
    V.update_lps_tracking(lps, 2, [1], False)
    assert lps == LpsTracker(2, 1, {1: True}, None, 0, None)


def _lps_position() -> GameState:
    """Player 1 has a mobile stack; player 2 only a ring buried under it (no real action)."""
    s = new_game("square8_2p")
    _empty_hands(s)
    s.stacks[_c(s, "3,3")] = (1, 2)
    s.phase = "ring_placement"
    s.current_player = 1
    return s


def test_has_real_action_counts_moves_but_not_buried_rings() -> None:
    s = _lps_position()
    assert V.has_real_action(s, 1)
    assert not V.has_real_action(s, 2)


def test_has_real_action_counts_a_placement() -> None:
    s = new_game("square8_2p")
    assert V.has_real_action(s, 2)


def test_lps_hook_ignores_moves_that_do_not_start_a_new_turn() -> None:
    s = _lps_position()
    assert V.update_lps_after_move(s, mover=1) is None
    assert s.lps == LpsTracker()
    s.phase = "movement"
    assert V.update_lps_after_move(s, mover=2) is None
    assert s.lps == LpsTracker()


def test_lps_hook_declares_lps_rounds_after_three_exclusive_rounds() -> None:
    s = _lps_position()
    s.lps = LpsTracker(3, 1, {1: True, 2: False}, 1, 2, 1)
    v = V.update_lps_after_move(s, mover=2)
    assert v == V.Victory(1, "lps_rounds", None)
    assert (s.status, s.winner, s.phase, s.current_player) == ("completed", 1, "game_over", 1)
    assert s.lps.consecutive_exclusive_rounds == 3


def test_lps_hook_needs_the_candidate_to_be_the_player_to_move() -> None:
    s = _lps_position()
    s.current_player = 2
    s.lps = LpsTracker(3, 2, {2: False, 1: True}, 1, 3, 1)
    assert V.update_lps_after_move(s, mover=1) is None
    assert s.status == "active"


# --- result record ----------------------------------------------------------------------


def test_ranking_tiebreaks_territory_then_eliminated_then_rings_then_number() -> None:
    s = _game("square8_4p")
    s.winner = 4
    _empty_hands(s)
    s.territory[1:] = [5, 5, 5, 9]
    s.eliminated[1:] = [3, 3, 4, 0]
    s.rings_in_hand[1] = 1  # player 1 has more rings remaining than player 2
    assert V.ranking(s) == [4, 3, 1, 2]


def test_scores_count_all_rings_of_a_colour_and_controlled_stacks() -> None:
    s = _game()
    s.stacks[_c(s, "0,0")] = (1, 2, 2)
    s.stacks[_c(s, "1,0")] = (2,)
    s.markers[_c(s, "2,0")] = 2
    sc = V.player_scores(s)
    assert sc["1"]["ringsOnBoard"] == 1 and sc["1"]["stacksControlled"] == 1
    assert sc["2"]["ringsOnBoard"] == 3 and sc["2"]["stacksControlled"] == 1
    assert sc["2"]["markers"] == 1 and sc["1"]["markers"] == 0


def _trace_files() -> list[Path]:
    # The vendored first games (all debug) are enough and much smaller than the full set.
    for folder in (VENDORED, SHARED):
        files = sorted(folder.glob("*.jsonl.gz")) if folder.is_dir() else []
        if files:
            return files
    return []


@pytest.mark.skipif(not _trace_files(), reason="no parity traces in this checkout")
def test_final_states_of_debug_games_give_the_recorded_verdict_and_result() -> None:
    checked = 0
    for path in _trace_files():
        for game in iter_trace_games(path):
            if not game.get("debug"):
                break  # debug games come first in every file
            steps, res = game["steps"], game["result"]
            s = state_from_view(steps[-1]["snapshot"])
            last_actor = steps[-2]["move"]["player"] if len(steps) > 1 else None
            v = V.evaluate_victory(s, last_actor=last_actor)
            if res["termination"] == "lps_rounds":
                assert v is None
            else:
                assert v is not None
                assert (v.winner, v.termination, v.engine_reason) == (
                    res["winner"],
                    res["termination"],
                    res["engine_reason"],
                )
            out = V.game_result(s, res["termination"], res["engine_reason"], moves=len(steps))
            assert out == res, f"{game['config']} game {game['game_index']}"
            checked += 1
    assert checked > 0
