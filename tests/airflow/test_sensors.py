"""The sensors' pokes against the real machine and folders (no scheduler needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringrift_tasks.config import load_config
from ringrift_tasks.records.shard import write_shard
from tests.training.games import heuristic_games


def test_resource_sensor_waits_while_a_limit_is_exceeded(
    loop_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringrift_airflow.sensors import ResourceSensor

    sensor = ResourceSensor(task_id="wait", checks=("disk", "memory"))
    assert sensor.mode == "reschedule" and sensor.poke({}) is True
    # Any real disk is more than 0.2% full: critical at 0.2%.
    monkeypatch.setenv("RINGRIFT__RESOURCES__DISK_WARNING_PCT", "0.1")
    monkeypatch.setenv("RINGRIFT__RESOURCES__DISK_CRITICAL_PCT", "0.2")
    assert sensor.poke({}) is False


def test_resource_sensor_skips_local_work_on_a_coordinator(
    loop_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException
    from ringrift_airflow.sensors import ResourceSensor

    monkeypatch.setenv("RINGRIFT_DISABLE_LOCAL_TASKS", "true")
    with pytest.raises(AirflowSkipException, match="RINGRIFT_DISABLE_LOCAL_TASKS"):
        ResourceSensor(task_id="wait").poke({})
    assert ResourceSensor(task_id="w2", checks=("disk",), local_work=False).poke({}) is True


def test_backpressure_sensor_holds_selfplay_over_the_shard_limit(loop_home: Path) -> None:
    from ringrift_airflow.sensors import BackpressureSensor

    sensor = BackpressureSensor(task_id="hold", max_unmerged=1)
    assert sensor.poke({}) is True
    incoming = load_config().paths.shards_incoming
    for g in heuristic_games(2, seed0=3):
        write_shard(incoming, [g], node="t")
    assert sensor.poke({}) is False
    with pytest.raises(ValueError, match="max_unmerged"):
        BackpressureSensor(task_id="bad", max_unmerged=-1)


def test_backpressure_sensor_holds_selfplay_while_shards_wait_on_the_nodes(
    loop_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from ringrift_airflow.sensors import BackpressureSensor

    from ringrift_tasks.store import open_store

    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("nodes:\n  - {name: gpu-1, host: 127.0.0.1, data_dir: /srv/ringrift}\n")
    monkeypatch.setenv("RINGRIFT__SYNC__HOSTS_FILE", str(hosts))
    monkeypatch.setenv("RINGRIFT__SYNC__MAX_NODE_BACKLOG", "4")
    sensor = BackpressureSensor(task_id="hold", max_unmerged=50)
    assert sensor.poke({}) is True
    with open_store(load_config().store_url) as store:
        # The last health probe saw five sealed shards waiting in the node's incoming.
        store.manifest.save_probe("gpu-1", probed_at=1.0, remote_backlog=5, remote_health={})
    assert sensor.poke({}) is False
    out = capfd.readouterr()
    assert (
        "holding self-play: 5 shards waiting on the nodes > limit 4 (gpu-1 5)" in out.out + out.err
    )
