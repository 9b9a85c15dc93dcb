"""The self-play concurrency controller: its dynamics on simulated plants (pure functions from
workers to utilisation), anti-windup and clamps, and the state that lets Airflow rounds
continue one control loop (resume, corrupt files, stale measurements)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ringrift_tasks.config import ConfigError, RingriftConfig, load_config
from ringrift_tasks.resources import sample_gpu_utilisation
from ringrift_tasks.selfplay.concurrency import (
    MAX_DT_S,
    STALE_WINDOW_S,
    ControlState,
    Decision,
    PidController,
    PidMemory,
    concurrency_round,
    decide_concurrency,
    load_state,
    record_window,
    state_path,
)

ROUND_S = 600.0  # the self-play DAG's schedule


def controller(**overrides: Any) -> PidController:
    settings: dict[str, Any] = dict(
        target_pct=70.0, kp=0.02, ki=0.00005, kd=1.0, min_workers=1, max_workers=32, bias=1.0
    )
    settings.update(overrides)
    return PidController(**settings)


def cores_plant(cores: int, background_pct: float = 5.0) -> Callable[[int], float]:
    """A machine whose self-play workers each keep one of ``cores`` CPUs busy."""
    return lambda workers: min(100.0, background_pct + 100.0 * workers / cores)


def simulate(
    pid: PidController, plant: Callable[[int], float], rounds: int, workers: int = 1
) -> tuple[list[int], list[float], list[PidMemory]]:
    """Each round measures the utilisation its workers caused; the next round's workers
    are the controller's answer. Returns workers, utilisation and memory per round."""
    memory = PidMemory()
    seen_workers, seen_util, memories = [], [], []
    for k in range(rounds):
        util = plant(workers)
        step = pid.step(memory, util, ROUND_S if k else 0.0)
        memory, workers = step.memory, step.workers
        seen_workers.append(workers)
        seen_util.append(util)
        memories.append(memory)
    return seen_workers, seen_util, memories


def cfg_at(home: Path, **selfplay: Any) -> RingriftConfig:
    return RingriftConfig.model_validate({"home": str(home), "selfplay": selfplay})


# --------------------------------------------------------------------------- the control law


@pytest.mark.parametrize("cores", [8, 16, 32])
def test_utilisation_settles_near_the_target_on_a_machine_of_many_cores(cores: int) -> None:
    workers, util, _ = simulate(controller(), cores_plant(cores), rounds=60)
    assert workers[0] < workers[-1]  # it scaled up from one worker
    assert abs(statistics.mean(util[-10:]) - 70.0) <= 100.0 / cores  # within one worker's load
    assert max(workers[-10:]) - min(workers[-10:]) <= 1


def test_workers_fall_when_the_machine_becomes_busier() -> None:
    pid = controller()
    memory = PidMemory()
    workers = 10
    quiet, busy = cores_plant(16), cores_plant(16, background_pct=40.0)
    for k in range(40):
        step = pid.step(memory, quiet(workers), ROUND_S if k else 0.0)
        memory, workers = step.memory, step.workers
    settled = workers
    for _ in range(40):
        step = pid.step(memory, busy(workers), ROUND_S)
        memory, workers = step.memory, step.workers
    assert workers <= settled - 4  # 35 more points of load is about 5.6 workers' worth
    assert abs(busy(workers) - 70.0) <= 100.0 / 16


def test_one_step_is_bias_plus_the_three_terms_rounded_to_whole_workers() -> None:
    pid = controller(kp=0.1, ki=0.001, kd=2.0, bias=2.0)
    step = pid.step(PidMemory(i_term=0.5, last_measured_pct=40.0), 50.0, 10.0)
    assert step.error == pytest.approx(20.0)
    assert step.p == pytest.approx(2.0)
    assert step.i == pytest.approx(0.5 + 0.001 * 20.0 * 10.0)
    assert step.d == pytest.approx(-2.0 * (50.0 - 40.0) / 10.0)
    assert step.output == pytest.approx(2.0 + 2.0 + 0.7 - 2.0)
    assert step.workers == 3  # 2.7 rounds to 3
    assert step.memory == PidMemory(step.i, 50.0)


def test_derivative_acts_on_the_measurement_so_a_new_target_gives_no_kick() -> None:
    memory = PidMemory(i_term=0.0, last_measured_pct=50.0)
    before = controller(target_pct=60.0).step(memory, 50.0, ROUND_S)
    after = controller(target_pct=90.0).step(memory, 50.0, ROUND_S)
    assert before.d == after.d == 0.0
    assert after.p > before.p


def test_rising_utilisation_pulls_the_output_down_through_d() -> None:
    step = controller().step(PidMemory(last_measured_pct=30.0), 60.0, 60.0)
    assert step.d == pytest.approx(-1.0 * 30.0 / 60.0)


def test_no_time_passed_adds_no_integral_and_no_derivative() -> None:
    memory = PidMemory(i_term=1.5, last_measured_pct=20.0)
    step = controller().step(memory, 60.0, 0.0)
    assert step.i == 1.5 and step.d == 0.0


@pytest.mark.parametrize(("util", "expected"), [(0.0, 6), (100.0, 2)])
def test_output_is_clamped_to_the_worker_range(util: float, expected: int) -> None:
    pid = controller(kp=1.0, ki=0.01, min_workers=2, max_workers=6, bias=3.0)
    memory = PidMemory()
    for _ in range(20):
        step = pid.step(memory, util, ROUND_S)
        memory = step.memory
        assert 2.0 <= step.output <= 6.0
    assert step.workers == expected


def test_integral_does_not_wind_up_while_the_target_is_out_of_reach() -> None:
    pid = controller(max_workers=4)
    weak = cores_plant(64)  # four workers reach 11 %: the target is out of reach
    _, _, memories = simulate(pid, weak, rounds=200)
    assert all(m.i_term <= 4 - 1.0 for m in memories)  # never more than can move the output
    # The machine turns out to be small: the first round that sees it overloaded backs off.
    step = pid.step(memories[-1], cores_plant(2)(4), ROUND_S)
    assert step.workers < 4
    workers, util, _ = simulate(pid, cores_plant(4), rounds=30, workers=step.workers)
    assert abs(statistics.mean(util[-10:]) - 70.0) <= 25.0


def test_a_saturated_output_stops_integrating_in_the_direction_of_the_error() -> None:
    pid = controller(kp=1.0, ki=0.01, max_workers=4)
    pinned = pid.step(PidMemory(i_term=1.0), 10.0, ROUND_S)  # P alone is 60 workers
    assert pinned.workers == 4 and pinned.i == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measured_pct": 101.0, "dt_s": 1.0}, "measured utilisation must be in [0, 100]"),
        ({"measured_pct": float("nan"), "dt_s": 1.0}, "measured utilisation"),
        ({"measured_pct": 50.0, "dt_s": -1.0}, "dt must be a finite number of seconds >= 0"),
    ],
)
def test_a_bad_step_input_is_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        controller().step(PidMemory(), **kwargs)


def test_a_bad_controller_setting_is_named() -> None:
    with pytest.raises(ValueError, match="min_workers=5, max_workers=2"):
        controller(min_workers=5, max_workers=2)
    with pytest.raises(ValueError, match="kd must be a finite number >= 0"):
        controller(kd=-1.0)


def test_config_rejects_min_workers_above_max_workers() -> None:
    with pytest.raises(ConfigError, match=r"min_workers \(5\) must be <= max_workers \(2\)"):
        load_config(
            env={"RINGRIFT__SELFPLAY__MIN_WORKERS": "5", "RINGRIFT__SELFPLAY__MAX_WORKERS": "2"}
        )


def test_controller_from_config_starts_at_workers_clamped_to_the_range(tmp_path: Path) -> None:
    pid = PidController.from_config(cfg_at(tmp_path, workers=8, min_workers=1, max_workers=3))
    assert (pid.bias, pid.min_workers, pid.max_workers) == (3.0, 1, 3)
    assert pid.target_pct == 70.0


def test_decision_line_names_reading_target_workers_and_terms() -> None:
    d = Decision("cpu", 2, 1, 75.0, 41.2, "last round: 312 s, 1 worker", 0.9, 0.2, -0.1)
    assert d.line == (
        "concurrency: cpu 41% (last round: 312 s, 1 worker) target 75% -> workers 2 "
        "(was 1; P +0.90 I +0.20 D -0.10)"
    )
    held = Decision("gpu", 1, None, 70.0, None, "sampled now: no GPU")
    assert (
        held.line
        == "concurrency: gpu unmeasured (sampled now: no GPU) -> workers 1 (first round; held)"
    )


# --------------------------------------------------------------------------- rounds and state


def test_rounds_continue_one_control_loop_through_the_state_file(tmp_path: Path) -> None:
    cfg = cfg_at(tmp_path, concurrency_kp=0.05, concurrency_ki=0.0002, max_workers=8)
    pid = PidController.from_config(cfg)
    plant = cores_plant(8)
    t = 1_000_000.0
    record_window(cfg, "cpu", plant(1), 300.0, 1, ended_at=t - 1)  # a round already played
    memory, last_step, workers = PidMemory(), None, 1
    for k in range(6):
        now = t + k * ROUND_S
        decision = decide_concurrency(cfg, "cpu", now=now)
        # The same loop kept in memory: the file carried everything across rounds.
        dt = 0.0 if last_step is None else now - last_step
        expected = pid.step(memory, plant(workers), dt)
        assert decision.workers == expected.workers
        assert (decision.p, decision.i, decision.d) == pytest.approx(
            (expected.p, expected.i, expected.d)
        )
        assert decision.was == (None if k == 0 else workers)
        assert decision.source == f"last round: 300 s, {workers} worker" + (
            "s" if workers > 1 else ""
        )
        memory, last_step, workers = expected.memory, now, expected.workers
        record_window(cfg, "cpu", plant(workers), 300.0, workers, ended_at=now + 300.0)
    assert workers > 1
    saved = json.loads(state_path(cfg, "cpu").read_text())
    assert saved["version"] == 1 and saved["workers"] == workers


def test_a_long_pause_counts_as_at_most_max_dt_in_the_integral(tmp_path: Path) -> None:
    cfg = cfg_at(tmp_path, concurrency_kp=0.0, concurrency_kd=0.0, max_workers=64)
    t = 2_000_000.0
    record_window(cfg, "cpu", 20.0, 300.0, 1, ended_at=t)
    first = decide_concurrency(cfg, "cpu", now=t + 1)
    record_window(cfg, "cpu", 20.0, 300.0, 1, ended_at=t + 50 * 3600.0)
    later = decide_concurrency(cfg, "cpu", now=t + 50 * 3600.0 + 1)
    assert later.i - first.i == pytest.approx(cfg.selfplay.concurrency_ki * 50.0 * MAX_DT_S)


def test_no_recent_round_means_sampling_the_machine_now(tmp_path: Path) -> None:
    cfg = cfg_at(tmp_path)
    t = 3_000_000.0
    record_window(cfg, "cpu", 55.0, 300.0, 1, ended_at=t - STALE_WINDOW_S - 1)
    decision = decide_concurrency(cfg, "cpu", now=t)
    assert decision.source == "sampled now"
    assert decision.measured_pct is not None and 0.0 <= decision.measured_pct <= 100.0
    assert decision.was is None and decision.line.startswith("concurrency: cpu ")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"version": 99, "resource": "cpu"}), "version 99, expected 1"),
        (
            json.dumps(
                {
                    "version": 1,
                    "resource": "cpu",
                    "memory": {"i_term": "lots", "last_measured_pct": None},
                    "workers": 2,
                    "stepped_at": None,
                    "window": None,
                }
            ),
            "memory.i_term: expected a finite number, got 'lots'",
        ),
        (json.dumps({"version": 1, "resource": "cpu"}), "missing or malformed field"),
    ],
)
def test_an_unusable_state_file_is_reported_moved_aside_and_control_restarts(
    tmp_path: Path, content: str, why: str
) -> None:
    cfg = cfg_at(tmp_path)
    path = state_path(cfg, "cpu")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    decision = decide_concurrency(cfg, "cpu")
    assert (
        why in decision.note and "moved to selfplay_concurrency_cpu.json.corrupt" in decision.note
    )
    assert decision.note in decision.line
    assert decision.was is None  # restarted: no previous decision
    assert path.with_name(path.name + ".corrupt").read_text() == content
    state, note = load_state(path, "cpu")  # the fresh file is usable
    assert note == "" and state.workers == decision.workers


def test_state_of_the_other_resource_is_not_read_as_this_ones(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(ControlState(workers=3).to_json("gpu"))
    state, note = load_state(path, "cpu")
    assert state == ControlState() and "resource 'gpu', expected 'cpu'" in note


def test_a_round_measures_its_own_load_for_the_next_decision(tmp_path: Path) -> None:
    cfg = cfg_at(tmp_path)
    with concurrency_round(cfg, "cpu") as first:
        sum(i * i for i in range(300_000))  # the round's work
    assert first.window_line.startswith("concurrency: cpu ")
    assert f"with {first.decision.workers} worker" in first.window_line
    state, _ = load_state(state_path(cfg, "cpu"), "cpu")
    assert state.window is not None and 0.0 <= state.window.pct <= 100.0
    assert state.window.workers == first.decision.workers
    second = decide_concurrency(cfg, "cpu")
    assert second.source.startswith("last round: ")
    assert second.measured_pct == state.window.pct and second.was == first.decision.workers


def test_a_round_that_fails_records_no_measurement(tmp_path: Path) -> None:
    cfg = cfg_at(tmp_path)
    with pytest.raises(RuntimeError, match="worker died"):
        with concurrency_round(cfg, "cpu"):
            raise RuntimeError("worker died")
    state, _ = load_state(state_path(cfg, "cpu"), "cpu")
    assert state.window is None and state.workers is not None


def test_gpu_round_holds_the_workers_where_gpu_utilisation_cannot_be_read(
    tmp_path: Path,
) -> None:
    cfg = cfg_at(tmp_path, workers=2, max_workers=4)
    pct, why = sample_gpu_utilisation()
    decision = decide_concurrency(cfg, "gpu")
    if pct is None:  # this machine: no GPU or no driver
        assert decision.measured_pct is None and decision.workers == 2
        assert decision.line == (
            f"concurrency: gpu unmeasured (sampled now: {why}) -> workers 2 (first round; held)"
        )
    else:  # a GPU machine steers by it
        assert decision.measured_pct is not None and decision.source == "sampled now"


def test_record_window_rejects_a_reading_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must be in \[0, 100\] %, got 140"):
        record_window(cfg_at(tmp_path), "cpu", 140.0, 10.0, 1)
