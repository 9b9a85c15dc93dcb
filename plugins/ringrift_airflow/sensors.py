"""Sensors in front of heavy tasks: wait for resources, hold self-play under backpressure.

Both run in ``reschedule`` mode: between pokes the sensor gives its worker slot back, so a
machine short of memory is not also short of slots. A sensor that waited ``timeout``
seconds is skipped (``soft_fail``) with the last reason in its log, and the heavy task
behind it is skipped too; the next scheduled run tries again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator

from ringrift_airflow.loop import loop_config, open_loop_store, require_local_tasks

DEFAULT_POKE_S = 30.0
DEFAULT_TIMEOUT_S = 1800.0


class ResourceSensor(BaseSensorOperator):
    """Succeeds when none of ``checks`` (disk, memory, cpu, load, gpu_memory) is critical
    under the config's ``resources`` limits and the required GB are free.

    ``local_work``: the guarded task is self-play/training/evaluation, so a coordinator-only
    node (``RINGRIFT_DISABLE_LOCAL_TASKS``) skips it here.
    """

    ui_color = "#f4e1c1"

    def __init__(
        self,
        *,
        checks: Sequence[str] = ("disk", "memory", "cpu", "load"),
        disk_required_gb: float = 0.0,
        mem_required_gb: float = 0.0,
        gpu_required_gb: float = 0.0,
        local_work: bool = True,
        mode: str = "reschedule",
        poke_interval: float = DEFAULT_POKE_S,
        timeout: float = DEFAULT_TIMEOUT_S,
        soft_fail: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 1)
        kwargs.setdefault("execution_timeout", timedelta(seconds=timeout + 300))
        super().__init__(
            mode=mode, poke_interval=poke_interval, timeout=timeout, soft_fail=soft_fail, **kwargs
        )
        self.checks = tuple(checks)
        self.disk_required_gb = disk_required_gb
        self.mem_required_gb = mem_required_gb
        self.gpu_required_gb = gpu_required_gb
        self.local_work = local_work

    def poke(self, context: Any) -> bool:
        from ringrift_tasks.resources import check_resources

        cfg = loop_config()
        if self.local_work:
            require_local_tasks(cfg, f"{self.task_id}: resource wait")
        report = check_resources(
            self.disk_required_gb,
            self.mem_required_gb,
            cfg.resources,
            cfg.home,
            checks=self.checks,
            gpu_required_gb=self.gpu_required_gb,
        )
        for warning in report.warnings:
            self.log.warning("resource warning: %s", warning)
        if report.ok:
            self.log.info("resources ok (%s)", ", ".join(self.checks))
            return True
        self.log.info("waiting for resources: %s", report.reason)
        return False


class BackpressureSensor(BaseSensorOperator):
    """Holds self-play while more than ``max_unmerged`` sealed shards wait in incoming,
    while more than the config's ``sync.max_node_backlog`` wait on the worker nodes (as
    their stored health last saw them), or (``max_pending`` set) while every config has
    more untrained games than that."""

    ui_color = "#e8d7f1"

    def __init__(
        self,
        *,
        max_unmerged: int = 50,
        max_pending: int | None = None,
        mode: str = "reschedule",
        poke_interval: float = DEFAULT_POKE_S,
        timeout: float = DEFAULT_TIMEOUT_S,
        soft_fail: bool = True,
        **kwargs: Any,
    ) -> None:
        if max_unmerged < 0:
            raise ValueError(f"max_unmerged must be >= 0, got {max_unmerged}")
        kwargs.setdefault("retries", 1)
        kwargs.setdefault("execution_timeout", timedelta(seconds=timeout + 300))
        super().__init__(
            mode=mode, poke_interval=poke_interval, timeout=timeout, soft_fail=soft_fail, **kwargs
        )
        self.max_unmerged = max_unmerged
        self.max_pending = max_pending

    def poke(self, context: Any) -> bool:
        from ringrift_tasks.sync.backlog import backpressure_reason

        cfg = loop_config()
        with open_loop_store(cfg) as store:
            reason = backpressure_reason(cfg, store, self.max_unmerged, self.max_pending)
        if reason is None:
            self.log.info(
                "no backpressure (limits: %d unmerged shards, %d shards waiting on the nodes)",
                self.max_unmerged,
                cfg.sync.max_node_backlog,
            )
            return True
        self.log.info("holding self-play: %s", reason)
        return False
