"""The resource guard: exact threshold decisions, and real sampling on this machine."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from ringrift_tasks.config import ResourceLimits
from ringrift_tasks.resources import (
    DISK,
    MEMORY,
    GpuReading,
    Level,
    ResourceGuard,
    can_proceed,
    check_cpu,
    check_disk_space,
    check_gpu_memory,
    check_load,
    check_memory,
    check_resources,
    decide_cpu,
    decide_disk,
    decide_gpu_memory,
    decide_load,
    decide_memory,
    level_for,
    sample_gpus,
    snapshot,
    wait_for_resources,
)

DEFAULTS = ResourceLimits()
# Limits this machine always meets for disk and memory, so "ok" paths are testable for real.
LOOSE = ResourceLimits(
    disk_warning_pct=99.0,
    disk_critical_pct=100.0,
    memory_warning_pct=99.0,
    memory_critical_pct=100.0,
    cpu_warning_pct=99.9,
    cpu_critical_pct=100.0,
    load_critical_factor=1000.0,
)
HUGE_GB = 1e9


# --------------------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (0.0, Level.OK),
        (64.9, Level.OK),
        (65.0, Level.WARNING),
        (69.99, Level.WARNING),
        (70.0, Level.CRITICAL),
        (100.0, Level.CRITICAL),
    ],
)
def test_disk_levels_use_at_or_above(percent: float, level: Level) -> None:
    assert decide_disk(percent, 100.0, 500.0, DEFAULTS).level is level


@pytest.mark.parametrize(
    ("percent", "level"),
    [(69.9, Level.OK), (70.0, Level.WARNING), (79.9, Level.WARNING), (80.0, Level.CRITICAL)],
)
def test_memory_cpu_levels_use_at_or_above(percent: float, level: Level) -> None:
    assert decide_memory(percent, 10.0, 64.0, DEFAULTS).level is level
    assert decide_cpu(percent, DEFAULTS).level is level


def test_a_cpu_critical_limit_of_100_never_refuses_a_saturated_machine() -> None:
    saturated = decide_cpu(100.0, LOOSE)
    assert saturated.level is Level.WARNING and "warning limit 99.9%" in saturated.reason
    assert decide_cpu(100.0, ResourceLimits(cpu_critical_pct=99.5)).level is Level.CRITICAL


@pytest.mark.parametrize(
    ("load", "cpus", "level"),
    [(11.9, 8, Level.OK), (12.0, 8, Level.CRITICAL), (1.49, 1, Level.OK), (1.5, 1, Level.CRITICAL)],
)
def test_load_is_critical_at_factor_times_cpus(load: float, cpus: int, level: Level) -> None:
    status = decide_load(load, cpus, DEFAULTS)
    assert status.level is level
    assert status.percent == pytest.approx(100.0 * load / cpus)


def test_level_for_without_warning_threshold() -> None:
    assert level_for(50.0, None, 60.0) is Level.OK
    assert level_for(60.0, None, 60.0) is Level.CRITICAL


def test_warning_does_not_block_but_critical_does() -> None:
    warning = decide_disk(66.0, 100.0, 500.0, DEFAULTS)
    critical = decide_disk(71.0, 100.0, 500.0, DEFAULTS)
    assert warning.ok and "warning limit 65%" in warning.reason
    assert not critical.ok and "critical limit 70%" in critical.reason


def test_too_little_free_space_for_the_request_is_critical() -> None:
    status = decide_disk(10.0, 3.0, 500.0, DEFAULTS, required_gb=5.0, path="/data")
    assert status.level is Level.CRITICAL
    assert "disk /data" in status.reason and "5 GB required" in status.reason
    assert decide_memory(10.0, 3.0, 64.0, DEFAULTS, required_gb=2.0).ok


def test_gpu_levels_from_memory_bytes() -> None:
    gib = 1024**3
    gpus = [GpuReading(0, "A", 10 * gib, 80 * gib), GpuReading(1, "B", 56 * gib, 80 * gib)]
    status = decide_gpu_memory(gpus, DEFAULTS)
    assert status.level is Level.WARNING  # 70% on gpu 1: the fullest decides
    assert status.percent == pytest.approx(70.0) and "gpu 1 (B)" in status.reason
    full = [GpuReading(0, "A", 64 * gib, 80 * gib)]
    assert decide_gpu_memory(full, DEFAULTS).level is Level.CRITICAL
    assert decide_gpu_memory(gpus[:1], DEFAULTS, required_gb=100.0).level is Level.CRITICAL


def test_no_gpu_is_unavailable_not_an_error() -> None:
    status = decide_gpu_memory(None, DEFAULTS, unavailable_reason="no driver")
    assert status.ok and not status.available and status.percent is None
    assert status.reason == "gpu unavailable: no driver"


# --------------------------------------------------------------------------- real sampling


def test_real_disk_memory_cpu_load_readings_are_in_range(tmp_path: Path) -> None:
    disk = check_disk_space(tmp_path, DEFAULTS)
    memory = check_memory(DEFAULTS)
    cpu = check_cpu(DEFAULTS, interval_s=0.05)
    load = check_load(DEFAULTS)
    for status in (disk, memory, cpu):
        assert status.percent is not None and 0.0 <= status.percent <= 100.0
        assert status.level in (Level.OK, Level.WARNING, Level.CRITICAL) and status.reason
    assert disk.total_gb is not None and 0 < disk.free_gb <= disk.total_gb
    assert memory.total_gb is not None and 0 < memory.free_gb <= memory.total_gb
    assert load.percent is not None and load.percent >= 0.0


def test_disk_of_a_path_not_yet_created_is_its_parents_disk(tmp_path: Path) -> None:
    status = check_disk_space(tmp_path / "not" / "yet", DEFAULTS)
    assert status.total_gb == check_disk_space(tmp_path, DEFAULTS).total_gb


def test_gpu_reading_matches_what_nvml_says() -> None:
    gpus, why = sample_gpus()
    status = check_gpu_memory(DEFAULTS)
    if gpus is None:  # this machine: no NVIDIA driver
        assert not status.available and status.ok and why in status.reason
    else:
        assert status.available and 0.0 <= (status.percent or 0.0) <= 100.0


def test_can_proceed_with_loose_limits_is_true(tmp_path: Path) -> None:
    assert can_proceed(limits=LOOSE, path=tmp_path, checks=(DISK, MEMORY))


def test_can_proceed_with_huge_requirements_is_false_with_a_reason(tmp_path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="ringrift_tasks.resources"):
        assert not can_proceed(disk_required_gb=HUGE_GB, limits=LOOSE, path=tmp_path)
    assert "GB required" in caplog.text
    report = check_resources(0, HUGE_GB, LOOSE, tmp_path, checks=(DISK, MEMORY))
    assert not report.ok and report.reason.startswith("memory ") and "GB required" in report.reason


def test_unknown_check_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown resource check"):
        check_resources(limits=LOOSE, path=tmp_path, checks=("disk", "network"))


def test_wait_for_resources_times_out_and_logs_each_wait(tmp_path, caplog) -> None:
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="ringrift_tasks.resources"):
        ok = wait_for_resources(
            timeout=0.3,
            poll_s=0.05,
            mem_required_gb=HUGE_GB,
            limits=LOOSE,
            path=tmp_path,
            checks=(DISK, MEMORY),
        )
    elapsed = time.monotonic() - start
    assert ok is False
    assert 0.3 <= elapsed < 5.0
    waits = [r for r in caplog.records if r.message.startswith("waiting for resources")]
    assert len(waits) >= 2 and all("GB required" in r.message for r in waits)
    assert "timed out" in caplog.records[-1].message


def test_wait_for_resources_returns_at_once_when_available(tmp_path: Path) -> None:
    start = time.monotonic()
    assert wait_for_resources(timeout=30, poll_s=10, limits=LOOSE, path=tmp_path, checks=(DISK,))
    assert time.monotonic() - start < 5.0


def test_guard_reports_ok_and_rechecks_inside_a_loop(tmp_path: Path) -> None:
    with ResourceGuard(LOOSE, path=tmp_path, checks=(DISK, MEMORY)) as guard:
        assert guard.ok and guard.reason == ""
        assert all(guard.check() for _ in range(3))


def test_guard_says_why_it_is_not_ok(tmp_path: Path) -> None:
    with ResourceGuard(LOOSE, path=tmp_path, disk_required_gb=HUGE_GB) as guard:
        assert not guard.ok
        assert "GB required" in guard.reason and guard.reason.startswith("disk ")
        assert not guard.check()


def test_snapshot_has_every_reading(tmp_path: Path) -> None:
    snap = snapshot(DEFAULTS, tmp_path)
    for key in ("disk", "memory", "cpu", "load", "gpu_memory"):
        assert snap[key]["level"] in ("ok", "warning", "critical")
    assert snap["cpu_count"] >= 1 and snap["limits"]["disk_critical_pct"] == 70.0
    assert isinstance(snap["ok"], bool) and isinstance(snap["gpus"], list)
