"""
### ringrift_training

Scheduled on the `ringrift://games/<config>` Assets (any of them): the configs whose games
arrived go through the training gate:

* `training_gate` (short-circuit): new games >= `training.min_new_games` since the last
  training, >= `training.min_interval_s` since then, data quality of the new games,
  resources. Each verdict is logged with its reason and recorded in the decision log;
  when no config passes, everything downstream is skipped.
* `wait_for_resources`: disk, memory, CPU, load and GPU memory, reschedule mode.
* `train` (one mapped task per config that passed; queue `cuda`, pool `gpu`): the trainer
  builds the window, trains (resuming from checkpoints on a retry: the run directory is
  keyed by this run), calibrates the value head and registers the candidate.
* `publish_candidates`: checks each candidate in the registry and emits
  `ringrift://candidates/<config>`, which schedules `ringrift_promotion`.

Params (manual runs): `config`, `force` (skip the gate's thresholds), `steps`, `batch_size`
(0: `training.steps` / `training.batch_size` of the loop config).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import AssetAny, dag, get_current_context, task
from ringrift_airflow.assets import (
    CANDIDATES_ALIAS,
    GAMES,
    candidate_asset,
    configs_of,
    games_asset,
)
from ringrift_airflow.loop import (
    DEFAULT_ARGS,
    START_DATE,
    config_param,
    count_param,
    flag_param,
    loop_config,
    open_loop_store,
    parse_time_configs,
    require_local_tasks,
    spawnable_main,
)
from ringrift_airflow.sensors import ResourceSensor


@dag(
    dag_id="ringrift_training",
    doc_md=__doc__,
    schedule=AssetAny(*(games_asset(c) for c in parse_time_configs())),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "training"],
    params={
        "config": config_param("Train only this config; empty: the configs with new games."),
        "force": flag_param("Train even if the gate's thresholds say no (logged as forced)."),
        "steps": count_param(
            0, 0, 10_000_000, "Training steps before curriculum scaling; 0: training.steps."
        ),
        "batch_size": count_param(
            0, 0, 65_536, "Samples per training step; 0: training.batch_size."
        ),
    },
)
def ringrift_training() -> None:
    @task.short_circuit(execution_timeout=timedelta(minutes=20))
    def training_gate(params: dict[str, Any]) -> list[str]:
        from ringrift_tasks.training.gate import training_gate as decide

        cfg = loop_config()
        require_local_tasks(cfg, "training")
        ctx = get_current_context()
        arrived = configs_of(ctx.get("triggering_asset_events") or {}, GAMES)
        configs = [params["config"]] if params["config"] else (arrived or list(cfg.configs))
        passed = []
        with open_loop_store(cfg) as store:
            for config in configs:
                verdict = decide(cfg, store, config, run_id=ctx["run_id"], force=params["force"])
                word = "TRAIN" if verdict.passed else "no training"
                print(f"training gate {config}: {word}: {verdict.reason}")
                if verdict.passed:
                    passed.append(config)
        if not passed:
            print(f"training gate: no config passed ({', '.join(configs)}); skipping training")
        return passed

    wait = ResourceSensor(
        task_id="wait_for_resources", checks=("disk", "memory", "cpu", "load", "gpu_memory")
    )

    @task(queue="cuda", pool="gpu", execution_timeout=timedelta(hours=4))
    def train(config: str, params: dict[str, Any]) -> dict[str, Any]:
        from ringrift_tasks.training.candidate import train_candidate

        cfg = loop_config()
        require_local_tasks(cfg, f"training {config}")
        with open_loop_store(cfg) as store, spawnable_main():
            result = train_candidate(
                cfg,
                store,
                config,
                get_current_context()["run_id"],
                steps=params["steps"] or cfg.training.steps,
                batch_size=params["batch_size"] or cfg.training.batch_size,
            )
        print(
            f"{config}: candidate {result.model_id[:12]} after {result.steps} steps, "
            f"calibration temperature {result.calibration_temperature:.3f}"
        )
        return {
            "config": config,
            "model_id": result.model_id,
            "steps": result.steps,
            "calibration_temperature": result.calibration_temperature,
            "metrics": result.metrics,
        }

    @task(outlets=[CANDIDATES_ALIAS], execution_timeout=timedelta(minutes=5))
    def publish_candidates(
        results: list[dict[str, Any]], *, outlet_events: Any = None
    ) -> list[str]:
        cfg = loop_config()
        published = []
        with open_loop_store(cfg) as store:
            for r in results:
                model = store.registry.get(r["model_id"])
                if model is None or model.config != r["config"]:
                    raise RuntimeError(
                        f"{r['config']}: candidate {r['model_id'][:12]} not registered"
                    )
                outlet_events[CANDIDATES_ALIAS].add(
                    candidate_asset(r["config"]),
                    extra={"model_id": r["model_id"], "status": model.status},
                )
                published.append(r["model_id"])
                print(f"{r['config']}: candidate {r['model_id'][:12]} ({model.status}) published")
        return published

    passed = training_gate()
    trained = train.expand(config=passed)
    passed >> wait >> trained
    publish_candidates(trained)


ringrift_training()
