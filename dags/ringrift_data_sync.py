"""
### ringrift_data_sync

Every 60 s: first `pull_node`, one mapped task per worker node of the inventory
(`sync.hosts_file`, read when the DAG is parsed; none: the task is skipped), runs a
`full` node pass over SSH: pull its sealed shards into the pool exactly once, push the
current best models to it (so a node that was down catches up), merge its Elo match
files. A node whose circuit breaker is open is *skipped* with the reason in the log; a
node that fails fails its task only (the breaker counts it). SSH keys come from the
Airflow Connection `ringrift_ssh_<node>` / `ringrift_ssh` (or the node's `ssh_conn_id`),
else the environment.

Then `collect` (whatever the nodes did): the sealed shards in the local incoming folder
(written by local self-play), verify each, replay-validate every game, merge
idempotently into the game pool (a crash between merge and move costs only a re-check),
move the shard to `merged` or, when it fails, to `quarantine` with its reason.

Emits `ringrift://games/<config>` for each config that received new games (and only
those), which schedules `ringrift_training`. One run at a time, no catchup; pool `sync`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from ringrift_airflow.assets import GAMES_ALIAS, games_asset
from ringrift_airflow.cluster import parse_time_nodes
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
        # One quick retry (a blip); beyond that the next run, a minute later, tries again
        # and the node's circuit breaker counts the failures.
        retries=1,
        retry_delay=timedelta(seconds=20),
        execution_timeout=timedelta(minutes=15),
        map_index_template="{{ node_name }}",
    )
    def pull_node(node: str, *, outlet_events: Any = None) -> dict[str, Any]:
        from ringrift_airflow.ssh import node_credentials

        from ringrift_tasks.sync.cluster import sync_cluster

        get_current_context()["node_name"] = node  # type: ignore[typeddict-unknown-key]
        cfg = loop_config()
        with open_loop_store(cfg) as store:
            report = sync_cluster(cfg, store, "full", node_credentials, nodes=[node])
        skipped = report.skipped_reason(node)
        if skipped is not None:
            print(f"{node}: skipped: {skipped}")
            raise AirflowSkipException(f"{node}: {skipped}")
        for config, added in sorted(report.added_per_config.items()):
            if added > 0:
                outlet_events[GAMES_ALIAS].add(games_asset(config), extra={"games": added})
                print(f"{config}: {added} new games from {node} -> {games_asset(config).uri}")
        summary = report.summary()["nodes"][node]
        for line in summary["failures"]:
            print(f"{node}: {line}")
        print(f"{node}: {summary}")
        # A node that broke off fails its task; bad content (quarantined, rejected) was
        # set aside and counted, and the task succeeds so its asset events go out.
        if summary["error"] is not None:
            raise RuntimeError(f"{node}: {summary['error']}")
        return summary

    @task(
        pool="sync",
        outlets=[GAMES_ALIAS],
        trigger_rule=TriggerRule.ALL_DONE,  # local shards merge whatever the nodes did
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

    pull_node.expand(node=parse_time_nodes()) >> collect()


ringrift_data_sync()
