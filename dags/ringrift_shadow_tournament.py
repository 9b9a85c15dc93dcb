"""
### ringrift_shadow_tournament

Every 15 minutes: for each enabled config with a candidate, a quick round robin of the
newest candidate against the best model and the baselines (`shadow.games_per_config`
games), after a parity check of a sample of the candidate's games. The games go into the
Elo log (match ids keyed by the run's logical time, so a rerun plays only what is missing)
and the config's ratings are refitted. Pool `tournament`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task
from ringrift_airflow.loop import (
    DEFAULT_ARGS,
    START_DATE,
    config_param,
    logical_time,
    loop_config,
    open_loop_store,
    parse_time_cron,
    require_local_tasks,
    spawnable_main,
)
from ringrift_airflow.sensors import ResourceSensor


@dag(
    dag_id="ringrift_shadow_tournament",
    doc_md=__doc__,
    schedule=parse_time_cron("shadow", "*/15 * * * *"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "evaluation"],
    params={"config": config_param("Only this config; empty: every enabled config.")},
)
def ringrift_shadow_tournament() -> None:
    wait = ResourceSensor(task_id="wait_for_resources")

    @task(pool="tournament", execution_timeout=timedelta(hours=1))
    def shadow(params: dict[str, Any]) -> list[dict[str, Any]]:
        from ringrift_tasks.evaluation.tournament import run_shadow_tournament

        cfg = loop_config()
        require_local_tasks(cfg, "shadow tournament")
        configs = [params["config"]] if params["config"] else None
        with open_loop_store(cfg) as store, spawnable_main():
            results = run_shadow_tournament(
                cfg, store, logical_time(get_current_context()), configs=configs
            )
        out = []
        for r in results:
            played, already = len(r.report.played), len(r.report.already)
            line = r.skipped or f"{played} games played, {already} already logged"
            print(f"{r.tournament_id}: {line}")
            out.append(
                {
                    "tournament_id": r.tournament_id,
                    "config": r.config,
                    "skipped": r.skipped,
                    "scheduled": r.scheduled,
                    "played": played,
                    "already": already,
                }
            )
        return out

    wait >> shadow()


ringrift_shadow_tournament()
