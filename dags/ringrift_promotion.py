"""
### ringrift_promotion

Scheduled on the `ringrift://candidates/<config>` Assets: the newest candidate of each
config that announced one plays the promotion gate against the config's best model (a
sequential test over head-to-head games, resumable from the Elo log; a config without a
best takes its first candidate as bootstrap). On acceptance the registry moves the best
pointer in one transaction (cooldown and daily cap enforced there).

`publish_best` then writes the best-model manifest (`<home>/models/best.json`, what nodes
fetch) and emits `ringrift://best/<config>` for each promoted config. Pool `tournament`.
`push_to_nodes` uploads the best models to every worker node of the inventory (verified,
atomic rename, keep-N pruning; skipped when nothing was promoted or there are no nodes; a
node that is down gets them on its next data-sync pass).

Params (manual runs): `config`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import AssetAny, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from ringrift_airflow.assets import BEST_ALIAS, CANDIDATES, best_asset, candidate_asset, configs_of
from ringrift_airflow.loop import (
    DEFAULT_ARGS,
    START_DATE,
    config_param,
    loop_config,
    open_loop_store,
    parse_time_configs,
    require_local_tasks,
    spawnable_main,
)
from ringrift_airflow.sensors import ResourceSensor


@dag(
    dag_id="ringrift_promotion",
    doc_md=__doc__,
    schedule=AssetAny(*(candidate_asset(c) for c in parse_time_configs())),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "evaluation"],
    params={"config": config_param("Gate only this config; empty: configs with a new candidate.")},
)
def ringrift_promotion() -> None:
    @task(execution_timeout=timedelta(minutes=5))
    def candidates(params: dict[str, Any]) -> list[dict[str, str]]:
        cfg = loop_config()
        require_local_tasks(cfg, "promotion gate")
        arrived = configs_of(get_current_context().get("triggering_asset_events") or {}, CANDIDATES)
        configs = [params["config"]] if params["config"] else (arrived or list(cfg.configs))
        out = []
        with open_loop_store(cfg) as store:
            for config in configs:
                newest = store.registry.candidates(config)
                if not newest:
                    print(f"{config}: no candidate to gate")
                    continue
                out.append({"config": config, "candidate_id": newest[0].model_id})
                print(f"{config}: gating candidate {newest[0].model_id[:12]}")
        return out

    wait = ResourceSensor(task_id="wait_for_resources")

    @task(pool="tournament", execution_timeout=timedelta(hours=3))
    def promotion_gate(candidate: dict[str, str]) -> dict[str, Any]:
        from ringrift_tasks.evaluation.promotion import run_promotion_gate

        cfg = loop_config()
        require_local_tasks(cfg, f"promotion gate {candidate['config']}")
        with open_loop_store(cfg) as store, spawnable_main():
            result = run_promotion_gate(cfg, store, candidate["config"], candidate["candidate_id"])
        verdict = "PROMOTED" if result.promoted else "not promoted"
        print(f"{candidate['config']}: {candidate['candidate_id'][:12]} {verdict}: {result.reason}")
        return {**candidate, "promoted": result.promoted, "reason": result.reason}

    @task(outlets=[BEST_ALIAS], execution_timeout=timedelta(minutes=10))
    def publish_best(results: list[dict[str, Any]], *, outlet_events: Any = None) -> str | None:
        from ringrift_tasks.evaluation.distribution import write_best_manifest

        promoted = [r for r in results if r["promoted"]]
        if not promoted:
            print("no promotion: the best models stay as they are")
            return None
        cfg = loop_config()
        with open_loop_store(cfg) as store:
            path = write_best_manifest(store, cfg.configs, cfg.paths.models / "best.json")
        for r in promoted:
            outlet_events[BEST_ALIAS].add(
                best_asset(r["config"]), extra={"model_id": r["candidate_id"]}
            )
            print(f"{r['config']}: best is now {r['candidate_id'][:12]}; manifest {path}")
        return str(path)

    @task(pool="sync", execution_timeout=timedelta(minutes=30))
    def push_to_nodes(manifest: str | None) -> dict[str, Any]:
        from ringrift_airflow.ssh import node_credentials

        from ringrift_tasks.sync.cluster import sync_cluster

        if manifest is None:
            raise AirflowSkipException("no promotion: no model to push to the nodes")
        cfg = loop_config()
        with open_loop_store(cfg) as store:
            report = sync_cluster(cfg, store, "models", node_credentials)
        if not report.nodes:
            msg = "no worker nodes in the inventory (sync.hosts_file): nothing to push"
            print(msg)
            raise AirflowSkipException(msg)
        summary = report.summary()
        for node, d in summary["nodes"].items():
            # A node that is down or skipped gets the model on its next data-sync pass.
            state = d["skipped"] or d["error"] or "ok"
            print(f"{node}: {state}; {d.get('models', {})}")
        return summary

    found = candidates()
    gated = promotion_gate.expand(candidate=found)
    found >> wait >> gated
    push_to_nodes(publish_best(gated))


ringrift_promotion()
