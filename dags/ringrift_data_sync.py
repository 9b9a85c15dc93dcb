"""
### ringrift_data_sync

Every 60 s: collect the sealed shards in the incoming folder (written by local self-play
and, once node sync lands, pulled from the workers), verify each, replay-validate every
game, merge idempotently into the game pool (a crash between merge and move costs only a
re-check), move the shard to `merged` or, when it fails, to `quarantine` with its reason.

Emits `ringrift://games/<config>` for each config that received new games (and only
those), which schedules `ringrift_training`. One run at a time, no catchup; pool `sync`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from ringrift_airflow.assets import GAMES_ALIAS, games_asset
from ringrift_airflow.loop import DEFAULT_ARGS, START_DATE, loop_config, open_loop_store


@dag(
    dag_id="ringrift_data_sync",
    doc_md=__doc__,
    schedule=timedelta(seconds=60),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "sync"],
)
def ringrift_data_sync() -> None:
    @task(
        pool="sync",
        outlets=[GAMES_ALIAS],
        retries=2,
        retry_delay=timedelta(seconds=20),
        execution_timeout=timedelta(minutes=15),
    )
    def collect(*, outlet_events: Any = None) -> dict[str, Any]:
        from ringrift_tasks.sync.collect import collect_shards

        cfg = loop_config()
        p = cfg.paths
        with open_loop_store(cfg) as store:
            report = collect_shards(store, p.shards_incoming, p.shards_merged, p.quarantine)
        for config, added in sorted(report.added_per_config.items()):
            if added > 0:
                outlet_events[GAMES_ALIAS].add(games_asset(config), extra={"games": added})
                print(f"{config}: {added} new games -> {games_asset(config).uri}")
        print(
            f"merged {report.shards_merged} shards ({report.games_added} games, "
            f"{report.duplicates} duplicates), quarantined {report.shards_quarantined}"
        )
        return {
            "shards_merged": report.shards_merged,
            "shards_quarantined": report.shards_quarantined,
            "games_added": report.games_added,
            "duplicates": report.duplicates,
            "added_per_config": report.added_per_config,
            "quarantined": report.quarantined,
        }

    collect()


ringrift_data_sync()
