"""
### ringrift_selfplay

Keeps self-play running: every 10 minutes a round of games is shared out over the
enabled configs by their curriculum weights (configs whose best model lags get more games;
the shares are logged), then each config plays its share in one mapped task, writing
sealed shards into the incoming folder for `ringrift_data_sync`.

* the best model of a config plays with neural search on the `cuda` queue once the config
  has one (`selfplay.agent: best`, the default: the loop feeds on its own best model); until
  then, or with `agent=heuristic`, the heuristic plays on the default queue;
* `wait_for_resources` (disk, memory, CPU, load) and `backpressure` (too many unmerged
  shards) hold the round in reschedule mode and skip it when they time out;
* pool `selfplay`; a retry replays the same seeds, so the sync merges no duplicates;
* the number of worker processes comes from a PID controller steering CPU utilisation (GPU
  for `play_neural`) toward `selfplay.concurrency_target_pct`; each play task logs its
  `concurrency: ...` decision and the utilisation it measured for the next round.

Params: `games` (per round, all configs together; default `selfplay.games_per_round`),
`agent` (default `selfplay.agent`), `config` (one config only).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, Literal

from airflow.sdk import Param, dag, get_current_context, task
from ringrift_airflow.loop import (
    DEFAULT_ARGS,
    START_DATE,
    config_param,
    count_param,
    loop_config,
    open_loop_store,
    require_local_tasks,
    spawnable_main,
)
from ringrift_airflow.sensors import BackpressureSensor, ResourceSensor

PLAY_TIMEOUT = timedelta(hours=2)


def _seed(run_id: str, config: str) -> int:
    # The same run and config always replay the same games: a retry duplicates nothing.
    return int.from_bytes(hashlib.sha256(f"{run_id}:{config}".encode()).digest()[:4], "big")


def _play(assignment: dict[str, Any], resource: Literal["cpu", "gpu"]) -> dict[str, Any]:
    from ringrift_tasks.selfplay.concurrency import concurrency_round
    from ringrift_tasks.selfplay.worker import selfplay_from_config

    cfg = loop_config()
    require_local_tasks(cfg, f"self-play {assignment['config']}")
    run_id = get_current_context()["run_id"]
    with spawnable_main(), concurrency_round(cfg, resource) as rnd:
        print(rnd.decision.line)
        report = selfplay_from_config(
            cfg,
            assignment["config"],
            assignment["games"],
            assignment["agent_spec"],
            seed=_seed(run_id, assignment["config"]),
            workers=rnd.decision.workers,
        )
    print(rnd.window_line)
    return {
        "config": assignment["config"],
        "games": report.games,
        "moves": report.moves,
        "shards": [p.name for p in report.shards],
        "stopped": {str(k): v for k, v in report.stopped.items()},
        "elapsed_s": round(report.elapsed_s, 2),
        "workers": rnd.decision.workers,
        "concurrency": rnd.decision.line,
    }


@dag(
    dag_id="ringrift_selfplay",
    doc_md=__doc__,
    schedule=timedelta(minutes=10),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "selfplay"],
    params={
        "games": count_param(
            0, 0, 100_000, "Games this round, over all configs; 0: selfplay.games_per_round."
        ),
        "agent": Param(
            "",
            type="string",
            enum=["", "heuristic", "best"],
            description="heuristic, or each config's best model (neural search, cuda queue); "
            "empty: selfplay.agent of the loop config (best).",
        ),
        "config": config_param("Play only this config; empty: every enabled config."),
    },
)
def ringrift_selfplay() -> None:
    wait = ResourceSensor(task_id="wait_for_resources")
    hold = BackpressureSensor(task_id="backpressure", max_unmerged=50)

    @task(execution_timeout=timedelta(minutes=5))
    def plan(params: dict[str, Any], neural: bool) -> list[dict[str, Any]]:
        """This round's shares (all logged); returns those for one queue: neural agents
        go to `cuda`, the heuristic to the default queue."""
        from ringrift_tasks.selfplay.plan import plan_selfplay

        cfg = loop_config()
        require_local_tasks(cfg, "self-play plan")
        with open_loop_store(cfg) as store:
            assignments = plan_selfplay(
                cfg,
                store,
                params["games"] or cfg.selfplay.games_per_round,
                agent=params["agent"] or cfg.selfplay.agent,
                configs=[params["config"]] if params["config"] else None,
                model_sims=cfg.selfplay.model_sims,
            )
        for a in assignments:
            queue = "cuda" if a.neural else "default"
            print(f"share {a.config}: {a.games} games, w={a.weight:.3f}, {a.agent_spec} ({queue})")
        return [a.as_dict() for a in assignments if a.neural == neural]

    @task(pool="selfplay", execution_timeout=PLAY_TIMEOUT)
    def play(assignment: dict[str, Any]) -> dict[str, Any]:
        return _play(assignment, "cpu")

    @task(pool="selfplay", queue="cuda", execution_timeout=PLAY_TIMEOUT)
    def play_neural(assignment: dict[str, Any]) -> dict[str, Any]:
        return _play(assignment, "gpu")

    cpu = plan.override(task_id="plan_cpu")(neural=False)
    cuda = plan.override(task_id="plan_cuda")(neural=True)
    wait >> hold >> [cpu, cuda]
    play.expand(assignment=cpu)
    play_neural.expand(assignment=cuda)


ringrift_selfplay()
