"""
### ringrift_maintenance

Daily housekeeping, each chore its own task (they run side by side):

* `prune_models`: delete the files of archived models beyond the newest `keep_models` per
  config (never the best, its rollback target, or a model leased by a running job);
* `optimize_store`: `VACUUM` and `ANALYZE` the stores;
* `clean_quarantine`: remove quarantined shards older than `quarantine_days`;
* `disk_check`: fails (red in the grid) when the data home's disk is critical;
* `parity_check`: replays the newest `parity_games` games of each config; fails when the
  failure rate is above `training.max_parity_failure_rate`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from ringrift_airflow.loop import (
    DEFAULT_ARGS,
    START_DATE,
    count_param,
    loop_config,
    open_loop_store,
)


@dag(
    dag_id="ringrift_maintenance",
    doc_md=__doc__,
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "maintenance"],
    params={
        "keep_models": count_param(5, 0, 1000, "Archived model files kept per config."),
        "quarantine_days": count_param(7, 0, 3650, "Days a quarantined shard is kept."),
        "parity_games": count_param(20, 0, 10_000, "Newest games per config replayed."),
    },
)
def ringrift_maintenance() -> None:
    @task(execution_timeout=timedelta(minutes=30))
    def prune_models(params: dict[str, Any]) -> dict[str, Any]:
        from ringrift_tasks.evaluation.distribution import prune_archived

        cfg = loop_config()
        out = {}
        with open_loop_store(cfg) as store:
            for config in cfg.configs:
                r = prune_archived(
                    store, config, params["keep_models"], models_dir=cfg.paths.models
                )
                print(f"{config}: removed {len(r.removed)} model files, {r.freed_bytes} bytes")
                out[config] = {"removed": r.removed, "freed_bytes": r.freed_bytes}
        return out

    @task(execution_timeout=timedelta(hours=1))
    def optimize_store() -> str:
        from ringrift_tasks.maintenance import optimize_store as optimize

        cfg = loop_config()
        with open_loop_store(cfg) as store:
            done = optimize(store)
        print(done)
        return done

    @task(execution_timeout=timedelta(minutes=15))
    def clean_quarantine(params: dict[str, Any]) -> dict[str, Any]:
        from ringrift_tasks.maintenance import DAY_S
        from ringrift_tasks.maintenance import clean_quarantine as clean

        cfg = loop_config()
        r = clean(cfg.paths.quarantine, params["quarantine_days"] * DAY_S)
        print(f"quarantine: removed {len(r.removed)} files ({r.freed_bytes} bytes), kept {r.kept}")
        return {"removed": r.removed, "kept": r.kept, "freed_bytes": r.freed_bytes}

    @task(execution_timeout=timedelta(minutes=5))
    def disk_check() -> dict[str, Any]:
        from ringrift_tasks.resources import check_disk_space

        cfg = loop_config()
        status = check_disk_space(cfg.home, cfg.resources)
        print(status.reason)
        if not status.ok:
            raise RuntimeError(f"disk critical: {status.reason}")
        return status.as_dict()

    @task(execution_timeout=timedelta(hours=1))
    def parity_check(params: dict[str, Any]) -> dict[str, Any]:
        from ringrift_tasks.maintenance import parity_sample

        cfg = loop_config()
        with open_loop_store(cfg) as store:
            r = parity_sample(store, cfg.configs, params["parity_games"])
        checked = sum(r.checked.values())
        for config, failures in r.failures.items():
            for line in failures[:5]:
                print(f"{config}: parity failure {line}")
        rate = r.failed / checked if checked else 0.0
        print(f"parity: {r.failed} of {checked} sampled games fail to replay ({rate:.1%})")
        if rate > cfg.training.max_parity_failure_rate:
            raise RuntimeError(
                f"parity failure rate {rate:.2f} > {cfg.training.max_parity_failure_rate:.2f}"
            )
        return {"checked": r.checked, "failures": r.failures}

    prune_models()
    optimize_store()
    clean_quarantine()
    disk_check()
    parity_check()


ringrift_maintenance()
