"""
### ringrift_cluster_health

Every 5 minutes: a resource snapshot of this node (disk, memory, CPU, load, GPU memory,
each against the `resources` limits of the config), logged with its level and returned
as the task's XCom for the UI.

Then `worker_nodes` probes every node of the inventory (`sync.hosts_file`) over SSH: the
node's own `ringrift status --json` (else what SFTP alone tells) gives disk, memory, load
and GPUs, and its `shards/incoming` listing the shards waiting there. One log line per
node; the figures are kept in the node's health row, where the RingRift page shows them
and the self-play backpressure sensor counts the waiting shards. A node whose circuit
breaker is open is reported, not probed; an unreachable node is logged and counted by its
breaker, and the task still succeeds (this is a report). SSH keys come from the Airflow
Connection `ringrift_ssh_<node>` / `ringrift_ssh` (or the node's `ssh_conn_id`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from ringrift_airflow.loop import DEFAULT_ARGS, START_DATE, loop_config, open_loop_store


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

    @task(execution_timeout=timedelta(minutes=4))
    def worker_nodes() -> dict[str, Any]:
        from ringrift_airflow.ssh import node_credentials

        from ringrift_tasks.sync.remote_health import probe_cluster

        cfg = loop_config()
        with open_loop_store(cfg) as store:
            report = probe_cluster(cfg, store, node_credentials)
        for line in report.lines():
            print(line)
        return report.summary()

    local_node()
    worker_nodes()


ringrift_cluster_health()
