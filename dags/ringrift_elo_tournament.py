"""
### ringrift_elo_tournament

Hourly: the full round robin of each enabled config (best model, recent candidates and
the baselines, `tournament.games` games), then a refit of the config's Elo ladder and its
trend plots under `<home>/artifacts`.

The tournament id comes from the run's logical hour (`data_interval_start`), so
`airflow backfill create --dag-id ringrift_elo_tournament --from-date ... --to-date ...`
runs the tournaments of past hours, and running an hour again plays only the matches
missing from its log (none once it completed). No catchup by default. Pool `tournament`.

Params (manual runs): `config`, `games` (0: `tournament.games`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task
from ringrift_airflow.loop import (
    DEFAULT_ARGS,
    START_DATE,
    config_param,
    count_param,
    logical_time,
    loop_config,
    open_loop_store,
    parse_time_cron,
    require_local_tasks,
    spawnable_main,
)
from ringrift_airflow.sensors import ResourceSensor


@dag(
    dag_id="ringrift_elo_tournament",
    doc_md=__doc__,
    schedule=parse_time_cron("tournament", "0 * * * *"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "evaluation"],
    params={
        "config": config_param("Only this config; empty: every enabled config."),
        "games": count_param(0, 0, 100_000, "Games per config; 0: tournament.games."),
    },
)
def ringrift_elo_tournament() -> None:
    wait = ResourceSensor(task_id="wait_for_resources")

    @task(pool="tournament", execution_timeout=timedelta(hours=2))
    def elo_tournament(params: dict[str, Any]) -> list[dict[str, Any]]:
        from ringrift_tasks.evaluation.tournament import run_full_tournament

        cfg = loop_config()
        require_local_tasks(cfg, "Elo tournament")
        when = logical_time(get_current_context())
        configs = [params["config"]] if params["config"] else None
        with open_loop_store(cfg) as store, spawnable_main():
            results = run_full_tournament(
                cfg, store, when, configs=configs, games=params["games"] or None
            )
        out = []
        for r in results:
            played, already = len(r.report.played), len(r.report.already)
            top = ", ".join(f"{x.agent} {x.elo:.0f}" for x in r.ratings[:4])
            print(f"{r.tournament_id}: {played} games played, {already} already logged; {top}")
            out.append(
                {
                    "tournament_id": r.tournament_id,
                    "config": r.config,
                    "played": played,
                    "already": already,
                    "scheduled": r.scheduled,
                }
            )
        return out

    @task(execution_timeout=timedelta(minutes=20))
    def trend_artifacts(results: list[dict[str, Any]]) -> dict[str, list[str]]:
        from ringrift_tasks.evaluation.trends import write_trend_artifacts

        cfg = loop_config()
        written = {}
        with open_loop_store(cfg) as store:
            for r in results:
                paths = write_trend_artifacts(
                    store,
                    r["config"],
                    cfg.paths.artifacts,
                    anchor_elo=cfg.tournament.random_anchor_elo,
                    baselines=cfg.tournament.baselines,
                )
                written[r["config"]] = [str(p) for p in paths.values()]
        return written

    results = elo_tournament()
    wait >> results
    trend_artifacts(results)


ringrift_elo_tournament()
