"""What every RingRift DAG shares: task defaults, Params, and the run-time entry points.

DAG files read the loop config at parse time only for structure (which configs exist);
tasks call :func:`loop_config` and :func:`open_loop_store` at run time for values, so a
changed ``config/ringrift.yaml`` or environment takes effect on the next task.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSkipException

from ringrift_tasks.config import RingriftConfig, load_config
from ringrift_tasks.rules.state import ALL_CONFIGS

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

log = logging.getLogger(__name__)

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
CONFIG_NAMES: list[str] = [c.name for c in ALL_CONFIGS]

# Every task may be retried once after a minute unless it says otherwise; a task that hangs
# is killed after its execution_timeout (set per task: a merge and a training differ).
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "ringrift",
    "retries": 1,
    "retry_delay": timedelta(minutes=1),
    "execution_timeout": timedelta(minutes=30),
}


def config_param(description: str = "Board config; empty: every enabled config.") -> Param:
    """Optional config name, one of the 12 (validated by Airflow in the UI and the CLI)."""
    return Param(
        None,
        type=["null", "string"],
        enum=[None, *CONFIG_NAMES],
        title="Config",
        description=description,
    )


def count_param(default: int, minimum: int, maximum: int, description: str) -> Param:
    return Param(default, type="integer", minimum=minimum, maximum=maximum, description=description)


def flag_param(description: str) -> Param:
    return Param(False, type="boolean", description=description)


def parse_time_configs() -> list[str]:
    """The enabled configs, for a DAG's structure (its Asset schedule). A broken config
    file must not break every DAG's import: fall back to all 12 and let tasks report it."""
    try:
        return list(load_config().configs)
    except Exception as exc:  # ConfigError; tasks raise it properly at run time
        log.warning("loop config unreadable at parse time (%s); scheduling on all configs", exc)
        return list(CONFIG_NAMES)


def parse_time_cron(section: str, default: str) -> str:
    """The cron of a tournament DAG (``shadow`` or ``tournament`` section of the loop
    config), read when the DAG is parsed; ``default`` when the config cannot be read (the
    tasks then report the config error)."""
    try:
        return str(getattr(load_config(), section).cron)
    except Exception as exc:  # ConfigError; tasks raise it properly at run time
        log.warning("loop config unreadable at parse time (%s); %s cron %s", exc, section, default)
        return default


def loop_config() -> RingriftConfig:
    """The loop config, read now (a ConfigError fails the task with its message)."""
    return load_config()


def open_loop_store(cfg: RingriftConfig) -> Store:
    from ringrift_tasks.store.db import open_store

    return open_store(cfg.store_url)


def require_local_tasks(cfg: RingriftConfig, what: str) -> None:
    """Skip the task (state skipped, reason in the log) on a coordinator that runs no
    self-play/training/evaluation (``RINGRIFT_DISABLE_LOCAL_TASKS``)."""
    if cfg.flags.disable_local_tasks:
        msg = f"{what} skipped: RINGRIFT_DISABLE_LOCAL_TASKS is set (coordinator-only node)"
        log.info(msg)
        raise AirflowSkipException(msg)


def selected_configs(cfg: RingriftConfig, param: str | None) -> list[str]:
    """``param`` if given (any of the 12), else the enabled configs."""
    return [param] if param else list(cfg.configs)


def logical_time(ctx: Any) -> datetime:
    """The time a run stands for: its data interval start (a backfilled hour), else its
    logical date, else when it was due (manual runs in Airflow 3 may have no logical date)."""
    return ctx.get("data_interval_start") or ctx.get("logical_date") or ctx["dag_run"].run_after


@contextmanager
def spawnable_main() -> Iterator[None]:
    """Let the library start worker processes ("spawn") from inside an Airflow task.

    A spawned child re-runs the parent's ``__main__`` by path; in a task that is the
    ``airflow`` script, whose import needs the metadata DB that Airflow 3 denies to task
    processes, so every child dies before playing. Hiding the path for the duration makes
    the children import only what they unpickle (``ringrift_tasks`` functions)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path
