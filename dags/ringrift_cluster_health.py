"""
### ringrift_cluster_health

Every 5 minutes: a resource snapshot of this node (disk, memory, CPU, load, GPU memory,
each against the `resources` limits of the config), logged with its level and returned
as the task's XCom for the UI. Worker nodes join here once the node inventory lands; until
then the coordinator's own machine is the only node reported.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from ringrift_airflow.loop import DEFAULT_ARGS, START_DATE, loop_config


@dag(
    dag_id="ringrift_cluster_health",
    doc_md=__doc__,
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ringrift", "health"],
)
def ringrift_cluster_health() -> None:
    @task(execution_timeout=timedelta(minutes=2))
    def local_node() -> dict[str, Any]:
        import socket

        from ringrift_tasks.resources import snapshot

        cfg = loop_config()
        snap = snapshot(cfg.resources, cfg.home)
        print(f"{socket.gethostname()}: {snap['level']} {snap['reason'] or 'all resources ok'}")
        for name in ("disk", "memory", "cpu", "load", "gpu_memory"):
            print(f"  {snap[name]['reason']}")
        return {"node": socket.gethostname(), **snap}

    local_node()


ringrift_cluster_health()
