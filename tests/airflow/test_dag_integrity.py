"""Every DAG file imports on real Airflow 3.3 and has the shape the loop depends on:
task ids, schedules, Assets, pools, queues, retries, timeouts, Params."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import DAGS

EXPECTED_TASKS = {
    "ringrift_selfplay": {
        "wait_for_resources",
        "backpressure",
        "plan_cpu",
        "plan_cuda",
        "play",
        "play_neural",
    },
    "ringrift_data_sync": {"pull_node", "collect"},
    "ringrift_training": {"training_gate", "wait_for_resources", "train", "publish_candidates"},
    "ringrift_shadow_tournament": {"wait_for_resources", "shadow"},
    "ringrift_promotion": {
        "candidates",
        "wait_for_resources",
        "promotion_gate",
        "publish_best",
        "push_to_nodes",
    },
    "ringrift_elo_tournament": {"wait_for_resources", "elo_tournament", "trend_artifacts"},
    "ringrift_cluster_health": {"local_node", "worker_nodes"},
    "ringrift_maintenance": {
        "prune_models",
        "optimize_store",
        "clean_quarantine",
        "disk_check",
        "parity_check",
    },
}
# task id -> (pool, queue) where it is not the default pool / queue
PLACEMENT = {
    ("ringrift_selfplay", "play"): ("selfplay", "default"),
    ("ringrift_selfplay", "play_neural"): ("selfplay", "cuda"),
    ("ringrift_data_sync", "pull_node"): ("sync", "default"),
    ("ringrift_data_sync", "collect"): ("sync", "default"),
    ("ringrift_promotion", "push_to_nodes"): ("sync", "default"),
    ("ringrift_training", "train"): ("gpu", "cuda"),
    ("ringrift_shadow_tournament", "shadow"): ("tournament", "default"),
    ("ringrift_promotion", "promotion_gate"): ("tournament", "default"),
    ("ringrift_elo_tournament", "elo_tournament"): ("tournament", "default"),
}
# DAGs whose runs do heavy local work behind a ResourceSensor
GUARDED = {
    "ringrift_selfplay": "plan_cpu",
    "ringrift_training": "train",
    "ringrift_shadow_tournament": "shadow",
    "ringrift_promotion": "promotion_gate",
    "ringrift_elo_tournament": "elo_tournament",
}


def test_every_dag_file_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    files = {p.stem for p in DAGS.glob("*.py")}
    assert set(dagbag.dag_ids) == set(EXPECTED_TASKS) == files


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_TASKS))
def test_dag_has_its_tasks_docs_tags_and_utc_start(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    assert set(dag.task_ids) == EXPECTED_TASKS[dag_id]
    assert dag.doc_md and dag_id in dag.doc_md
    assert "ringrift" in dag.tags
    assert dag.start_date.utcoffset() == timedelta(0) and dag.start_date.tzinfo is not None
    assert dag.catchup is False


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_TASKS))
def test_every_task_retries_and_has_a_timeout(dagbag: Any, dag_id: str) -> None:
    for task in dagbag.get_dag(dag_id).tasks:
        assert task.retries >= 1, task.task_id
        assert task.execution_timeout is not None and task.execution_timeout > timedelta(0)


def test_tasks_run_in_their_pools_and_queues(dagbag: Any) -> None:
    for dag_id in EXPECTED_TASKS:
        for task in dagbag.get_dag(dag_id).tasks:
            want = PLACEMENT.get((dag_id, task.task_id), ("default_pool", "default"))
            assert (task.pool, task.queue) == want, (dag_id, task.task_id)


def test_heavy_tasks_wait_behind_a_resource_sensor_in_reschedule_mode(dagbag: Any) -> None:
    for dag_id, heavy in GUARDED.items():
        dag = dagbag.get_dag(dag_id)
        sensor = dag.get_task("wait_for_resources")
        assert type(sensor).__name__ == "ResourceSensor"
        assert sensor.mode == "reschedule" and sensor.soft_fail
        assert "wait_for_resources" in dag.get_task(heavy).get_flat_relative_ids(upstream=True)
    selfplay = dagbag.get_dag("ringrift_selfplay")
    assert type(selfplay.get_task("backpressure")).__name__ == "BackpressureSensor"
    assert selfplay.get_task("backpressure").mode == "reschedule"


def test_schedules(dagbag: Any) -> None:
    def tt(dag_id: str) -> Any:
        return dagbag.get_dag(dag_id).timetable

    assert tt("ringrift_data_sync").delta == timedelta(seconds=60)
    assert dagbag.get_dag("ringrift_data_sync").max_active_runs == 1
    assert tt("ringrift_shadow_tournament").expression == "*/15 * * * *"
    assert tt("ringrift_elo_tournament").expression == "0 * * * *"
    assert tt("ringrift_cluster_health").delta == timedelta(minutes=5)
    assert tt("ringrift_maintenance").expression == "0 0 * * *"
    for dag_id in EXPECTED_TASKS:
        assert tt(dag_id).timezone if hasattr(tt(dag_id), "timezone") else True
    assert tt("ringrift_elo_tournament").timezone.name in ("UTC", str(UTC))


def test_tournament_crons_come_from_the_loop_config(
    airflow_setup: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RINGRIFT__SHADOW__CRON", "*/5 * * * *")
    monkeypatch.setenv("RINGRIFT__TOURNAMENT__CRON", "30 */2 * * *")
    bag = DagBag(str(DAGS))
    assert not bag.import_errors, bag.import_errors
    assert bag.get_dag("ringrift_shadow_tournament").timetable.expression == "*/5 * * * *"
    assert bag.get_dag("ringrift_elo_tournament").timetable.expression == "30 */2 * * *"


def _uris(condition: Any) -> set[str]:
    return {a.uri for a in condition.objects}


def test_asset_scheduling_links_sync_training_and_promotion(dagbag: Any) -> None:
    training = dagbag.get_dag("ringrift_training")
    promotion = dagbag.get_dag("ringrift_promotion")
    assert _uris(training.timetable.asset_condition) == {"ringrift://games/square8_2p"}
    assert _uris(promotion.timetable.asset_condition) == {"ringrift://candidates/square8_2p"}
    outlets = {
        ("ringrift_data_sync", "collect"): "ringrift-games",
        ("ringrift_training", "publish_candidates"): "ringrift-candidates",
        ("ringrift_promotion", "publish_best"): "ringrift-best",
    }
    for (dag_id, task_id), alias in outlets.items():
        task = dagbag.get_dag(dag_id).get_task(task_id)
        assert [o.name for o in task.outlets] == [alias]


def test_training_gate_is_a_short_circuit(dagbag: Any) -> None:
    gate = dagbag.get_dag("ringrift_training").get_task("training_gate")
    assert "ShortCircuit" in type(gate).__name__


def test_params_are_validated(dagbag: Any) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    def check(dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        params = dagbag.get_dag(dag_id).params
        merged = params.__class__(dict(params.items()))
        merged.update(conf)  # Airflow validates each value as it is set...
        return merged.validate()  # ...and the whole set at run creation

    assert check("ringrift_elo_tournament", {}) == {"config": None, "games": 0}
    assert check("ringrift_elo_tournament", {"config": "hex8_3p", "games": 2})["games"] == 2
    for dag_id, bad in [
        ("ringrift_elo_tournament", {"config": "square9_2p"}),
        ("ringrift_elo_tournament", {"games": -1}),
        ("ringrift_selfplay", {"games": "many"}),
        ("ringrift_selfplay", {"agent": "alphazero"}),
        ("ringrift_training", {"force": "yes please"}),
    ]:
        with pytest.raises(ParamValidationError, match=next(iter(bad))):
            check(dag_id, bad)


def test_dag_files_import_only_the_task_sdk() -> None:
    for path in DAGS.glob("*.py"):
        text = Path(path).read_text()
        assert "airflow.decorators" not in text and "Dataset" not in text, path.name
        for line in text.splitlines():
            if line.startswith(("from airflow", "import airflow")):
                assert line.startswith("from airflow.sdk"), (path.name, line)
