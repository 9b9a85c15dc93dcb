"""Resource guard: may new work start on this machine? (disk, memory, CPU, load, GPU memory)

Two layers. The *decision* functions (``decide_*``, :func:`level_for`) turn measured numbers
and :class:`~ringrift_tasks.config.ResourceLimits` into a :class:`ResourceStatus`; they are
pure, so thresholds are testable with exact numbers. The *sampling* functions (``sample_*``)
read psutil and NVML. The ``check_*`` functions, :func:`can_proceed`,
:func:`wait_for_resources`, :class:`ResourceGuard` and :func:`snapshot` combine the two.

Semantics follow the reference loop: a reading at or above a ``*_critical_pct`` threshold
(``>=``) is critical and blocks new work; at or above ``*_warning_pct`` it is a warning that is
logged but does not block; a load average per CPU at or above ``load_critical_factor`` is
critical; asking for more free GB than there is, is critical. A machine without an NVIDIA GPU or
driver is not an error: the GPU is reported unavailable and never blocks.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from ringrift_tasks.config import ResourceLimits, load_config

log = logging.getLogger(__name__)

GIB = 1024**3

DISK, MEMORY, CPU, LOAD, GPU_MEMORY = "disk", "memory", "cpu", "load", "gpu_memory"
ALL_CHECKS: tuple[str, ...] = (DISK, MEMORY, CPU, LOAD, GPU_MEMORY)
# The reference checks disk, memory and CPU/load by default and the GPU only when asked.
DEFAULT_CHECKS: tuple[str, ...] = (DISK, MEMORY, CPU, LOAD)


class Level(StrEnum):
    """How close a resource is to its limit; ordered ok < warning < critical."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.OK: 0, Level.WARNING: 1, Level.CRITICAL: 2}


@dataclass(frozen=True)
class ResourceStatus:
    """One resource's reading and verdict.

    ``percent``: used share in percent (for ``load``: the 1-minute load average per CPU x 100);
    None when the resource is unavailable. ``reason``: one human line. ``available``: False when
    the resource cannot be measured here (no GPU); such a status is level ok and never blocks.
    """

    resource: str
    level: Level
    percent: float | None
    reason: str
    free_gb: float | None = None
    total_gb: float | None = None
    available: bool = True

    @property
    def ok(self) -> bool:
        """True unless critical: a warning does not stop work."""
        return self.level is not Level.CRITICAL

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["level"] = str(self.level)
        return out


@dataclass(frozen=True)
class ResourceReport:
    """The verdict over several resources: ``ok`` and, when not ok, the reasons why."""

    statuses: tuple[ResourceStatus, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.statuses)

    @property
    def level(self) -> Level:
        return max((s.level for s in self.statuses), key=lambda lv: lv.rank, default=Level.OK)

    @property
    def reason(self) -> str:
        """The critical reasons joined by '; ' (empty when ok)."""
        return "; ".join(s.reason for s in self.statuses if not s.ok)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(s.reason for s in self.statuses if s.level is Level.WARNING)


# --------------------------------------------------------------------------- pure decisions


def level_for(percent: float, warning_pct: float | None, critical_pct: float) -> Level:
    """The level of a reading: critical at or above ``critical_pct``, warning at or above
    ``warning_pct`` (None: no warning level), else ok."""
    if percent >= critical_pct:
        return Level.CRITICAL
    if warning_pct is not None and percent >= warning_pct:
        return Level.WARNING
    return Level.OK


def _decide_space(
    resource: str,
    label: str,
    used_pct: float,
    free_gb: float,
    total_gb: float,
    warning_pct: float,
    critical_pct: float,
    required_gb: float,
) -> ResourceStatus:
    level = level_for(used_pct, warning_pct, critical_pct)
    reading = f"{label} {used_pct:.1f}% used, {free_gb:.1f} GB free of {total_gb:.1f} GB"
    if level is Level.CRITICAL:
        reason = f"{reading}: at or above the critical limit {critical_pct:g}%"
    elif free_gb < required_gb:
        level = Level.CRITICAL
        reason = f"{reading}: {required_gb:g} GB required"
    elif level is Level.WARNING:
        reason = f"{reading}: at or above the warning limit {warning_pct:g}%"
    else:
        reason = f"{reading}: ok"
    return ResourceStatus(resource, level, used_pct, reason, free_gb, total_gb)


def decide_disk(
    used_pct: float,
    free_gb: float,
    total_gb: float,
    limits: ResourceLimits,
    required_gb: float = 0.0,
    path: Path | str = "",
) -> ResourceStatus:
    """Disk verdict from its usage (percent, GB) and the GB the caller needs free."""
    label = f"disk {path}" if str(path) else "disk"
    return _decide_space(
        DISK,
        label,
        used_pct,
        free_gb,
        total_gb,
        limits.disk_warning_pct,
        limits.disk_critical_pct,
        required_gb,
    )


def decide_memory(
    used_pct: float,
    available_gb: float,
    total_gb: float,
    limits: ResourceLimits,
    required_gb: float = 0.0,
) -> ResourceStatus:
    """Memory verdict from its usage (percent, GB available) and the GB the caller needs."""
    return _decide_space(
        MEMORY,
        "memory",
        used_pct,
        available_gb,
        total_gb,
        limits.memory_warning_pct,
        limits.memory_critical_pct,
        required_gb,
    )


def decide_cpu(cpu_pct: float, limits: ResourceLimits) -> ResourceStatus:
    """CPU utilisation verdict (percent over all CPUs). A critical limit of 100% switches
    the refusal off: utilisation never exceeds 100%, so that limit could only mean "refuse a
    saturated machine", which happens whenever anything else runs and which the load
    check already judges by queue length."""
    level = level_for(cpu_pct, limits.cpu_warning_pct, limits.cpu_critical_pct)
    if level is Level.CRITICAL and limits.cpu_critical_pct >= 100.0:
        level = Level.WARNING
    limit = {
        Level.CRITICAL: f": at or above the critical limit {limits.cpu_critical_pct:g}%",
        Level.WARNING: f": at or above the warning limit {limits.cpu_warning_pct:g}%",
        Level.OK: ": ok",
    }[level]
    return ResourceStatus(CPU, level, cpu_pct, f"cpu {cpu_pct:.1f}% busy{limit}")


def decide_load(load_1m: float, cpu_count: int, limits: ResourceLimits) -> ResourceStatus:
    """Load verdict: critical when the 1-minute load average per CPU is at or above
    ``load_critical_factor`` (the reference has no warning level for load)."""
    per_cpu = load_1m / max(cpu_count, 1)
    level = level_for(per_cpu, None, limits.load_critical_factor)
    reading = f"load average {load_1m:.2f} over {cpu_count} CPUs = {per_cpu:.2f} per CPU"
    if level is Level.CRITICAL:
        reason = f"{reading}: at or above the limit {limits.load_critical_factor:g}"
    else:
        reason = f"{reading}: ok"
    return ResourceStatus(LOAD, level, per_cpu * 100.0, reason)


@dataclass(frozen=True)
class GpuReading:
    """Memory of one GPU, in bytes."""

    index: int
    name: str
    used_bytes: int
    total_bytes: int

    @property
    def used_pct(self) -> float:
        return 100.0 * self.used_bytes / self.total_bytes if self.total_bytes else 0.0


def decide_gpu_memory(
    gpus: list[GpuReading] | None,
    limits: ResourceLimits,
    required_gb: float = 0.0,
    unavailable_reason: str = "no GPU",
) -> ResourceStatus:
    """GPU memory verdict for the fullest GPU; ``gpus=None`` or empty means no usable GPU,
    reported as unavailable (level ok: an absent GPU never blocks)."""
    if not gpus:
        return ResourceStatus(
            GPU_MEMORY, Level.OK, None, f"gpu unavailable: {unavailable_reason}", available=False
        )
    statuses = [
        _decide_space(
            GPU_MEMORY,
            f"gpu {g.index} ({g.name}) memory",
            g.used_pct,
            (g.total_bytes - g.used_bytes) / GIB,
            g.total_bytes / GIB,
            limits.gpu_memory_warning_pct,
            limits.gpu_memory_critical_pct,
            required_gb,
        )
        for g in gpus
    ]
    # The worst GPU decides; with equal levels, the fullest one is the more telling.
    return max(statuses, key=lambda s: (s.level.rank, s.percent or 0.0))


# --------------------------------------------------------------------------- sampling


def _existing_ancestor(path: Path) -> Path:
    # The data home may not exist yet; the disk it will live on is its nearest existing parent.
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def sample_disk(path: Path | str) -> tuple[float, float, float]:
    """(used percent, free GB, total GB) of the filesystem holding ``path`` (or its nearest
    existing parent)."""
    usage = psutil.disk_usage(str(_existing_ancestor(Path(path))))
    return float(usage.percent), usage.free / GIB, usage.total / GIB


def sample_memory() -> tuple[float, float, float]:
    """(used percent, available GB, total GB) of system memory."""
    mem = psutil.virtual_memory()
    return float(mem.percent), mem.available / GIB, mem.total / GIB


def sample_cpu(interval_s: float | None = 0.1) -> float:
    """CPU utilisation in percent over ``interval_s`` seconds (blocking); ``None`` measures
    since this process's previous call, without blocking (the first such call reads 0)."""
    return float(psutil.cpu_percent(interval=interval_s))


def sample_load() -> tuple[float, int]:
    """(1-minute load average, logical CPU count)."""
    return os.getloadavg()[0], psutil.cpu_count(logical=True) or 1


class _Nvml:
    """NVML initialised once per process (re-initialised after a fork); remembers why not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._error: str | None = None

    def readings(self) -> tuple[list[GpuReading] | None, str]:
        """The GPUs' memory, or (None, why not)."""
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._error = os.getpid(), None
                try:
                    import pynvml

                    pynvml.nvmlInit()
                except ImportError as exc:
                    self._error = f"nvidia-ml-py not installed ({exc})"
                except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
                    self._error = f"NVML not available ({type(exc).__name__}: {exc})"
            if self._error is not None:
                return None, self._error
            import pynvml

            try:
                out = []
                for i in range(pynvml.nvmlDeviceGetCount()):
                    handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                    info = pynvml.nvmlDeviceGetMemoryInfo(handle)
                    name = pynvml.nvmlDeviceGetName(handle)
                    name = name.decode() if isinstance(name, bytes) else str(name)
                    out.append(GpuReading(i, name, int(info.used), int(info.total)))
            except Exception as exc:  # a GPU that fell off the bus must not crash the guard
                return None, f"NVML query failed ({type(exc).__name__}: {exc})"
            if not out:
                return None, "NVML reports no GPU"
            return out, ""


_NVML = _Nvml()


def sample_gpus() -> tuple[list[GpuReading] | None, str]:
    """Memory of every NVIDIA GPU via NVML, or ``(None, reason)`` where there is none."""
    return _NVML.readings()


def sample_gpu_utilisation() -> tuple[float | None, str]:
    """Mean compute utilisation of the NVIDIA GPUs in percent, as NVML last sampled it (its
    window is a fraction of a second to a second), or ``(None, reason)`` where there is none."""
    gpus, why = _NVML.readings()  # initialises NVML in this process, or says why it cannot
    if gpus is None:
        return None, why
    import pynvml

    try:
        rates = [
            float(
                pynvml.nvmlDeviceGetUtilizationRates(pynvml.nvmlDeviceGetHandleByIndex(g.index)).gpu
            )
            for g in gpus
        ]
    except Exception as exc:  # a GPU that fell off the bus must not crash the caller
        return None, f"NVML utilisation query failed ({type(exc).__name__}: {exc})"
    return sum(rates) / len(rates), ""


# --------------------------------------------------------------------------- checks


def _limits(limits: ResourceLimits | None) -> ResourceLimits:
    return limits if limits is not None else load_config().resources


def _path(path: Path | str | None) -> Path:
    return Path(path) if path is not None else load_config().home


def check_disk_space(
    path: Path | str | None = None,
    limits: ResourceLimits | None = None,
    required_gb: float = 0.0,
) -> ResourceStatus:
    """Disk status of the filesystem holding ``path`` (default: the config's data home).
    ``limits`` default to the loaded config's ``resources``."""
    where = _path(path)
    return decide_disk(*sample_disk(where), _limits(limits), required_gb, where)


def check_memory(limits: ResourceLimits | None = None, required_gb: float = 0.0) -> ResourceStatus:
    """System memory status; critical also when less than ``required_gb`` GB is available."""
    return decide_memory(*sample_memory(), _limits(limits), required_gb)


def check_cpu(
    limits: ResourceLimits | None = None, interval_s: float | None = 0.1
) -> ResourceStatus:
    """CPU utilisation status, measured over ``interval_s`` seconds (see :func:`sample_cpu`)."""
    return decide_cpu(sample_cpu(interval_s), _limits(limits))


def check_load(limits: ResourceLimits | None = None) -> ResourceStatus:
    """Load-average status (1-minute load per CPU against ``load_critical_factor``)."""
    return decide_load(*sample_load(), _limits(limits))


def check_gpu_memory(
    limits: ResourceLimits | None = None, required_gb: float = 0.0
) -> ResourceStatus:
    """GPU memory status of the fullest GPU; ``available=False`` (level ok) without a GPU."""
    gpus, why = sample_gpus()
    return decide_gpu_memory(gpus, _limits(limits), required_gb, why)


def check_resources(
    disk_required_gb: float = 0.0,
    mem_required_gb: float = 0.0,
    limits: ResourceLimits | None = None,
    path: Path | str | None = None,
    *,
    checks: Iterable[str] = DEFAULT_CHECKS,
    gpu_required_gb: float = 0.0,
    cpu_interval_s: float | None = 0.1,
) -> ResourceReport:
    """Check the named resources (``checks``, a subset of :data:`ALL_CHECKS`) and return the
    combined report. Config is read at most once per call, only for what was not passed in."""
    wanted = tuple(checks)
    unknown = sorted(set(wanted) - set(ALL_CHECKS))
    if unknown:
        raise ValueError(f"unknown resource check(s) {unknown}: expected some of {ALL_CHECKS}")
    if limits is None or (path is None and DISK in wanted):
        cfg = load_config()
        limits = limits if limits is not None else cfg.resources
        path = path if path is not None else cfg.home
    statuses: list[ResourceStatus] = []
    if DISK in wanted:
        statuses.append(check_disk_space(path, limits, disk_required_gb))
    if MEMORY in wanted:
        statuses.append(check_memory(limits, mem_required_gb))
    if CPU in wanted:
        statuses.append(check_cpu(limits, cpu_interval_s))
    if LOAD in wanted:
        statuses.append(check_load(limits))
    if GPU_MEMORY in wanted:
        statuses.append(check_gpu_memory(limits, gpu_required_gb))
    return ResourceReport(tuple(statuses))


def can_proceed(
    disk_required_gb: float = 0.0,
    mem_required_gb: float = 0.0,
    limits: ResourceLimits | None = None,
    path: Path | str | None = None,
    *,
    checks: Iterable[str] = DEFAULT_CHECKS,
    gpu_required_gb: float = 0.0,
) -> bool:
    """True when no checked resource is critical (see :func:`check_resources`); the reason
    is logged at INFO when not."""
    report = check_resources(
        disk_required_gb,
        mem_required_gb,
        limits,
        path,
        checks=checks,
        gpu_required_gb=gpu_required_gb,
    )
    if not report.ok:
        log.info("resources not available: %s", report.reason)
    return report.ok


def wait_for_resources(
    timeout: float = 300.0,
    poll_s: float = 10.0,
    disk_required_gb: float = 0.0,
    mem_required_gb: float = 0.0,
    limits: ResourceLimits | None = None,
    path: Path | str | None = None,
    *,
    checks: Iterable[str] = DEFAULT_CHECKS,
    gpu_required_gb: float = 0.0,
) -> bool:
    """Poll every ``poll_s`` seconds until resources allow work (True) or ``timeout`` seconds
    have passed (False). Each wait is logged at INFO with the reason; a timeout at WARNING."""
    checks = tuple(checks)
    if limits is None or path is None:
        cfg = load_config()
        limits = limits if limits is not None else cfg.resources
        path = path if path is not None else cfg.home
    start = time.monotonic()
    while True:
        report = check_resources(
            disk_required_gb,
            mem_required_gb,
            limits,
            path,
            checks=checks,
            gpu_required_gb=gpu_required_gb,
        )
        if report.ok:
            return True
        elapsed = time.monotonic() - start
        remaining = timeout - elapsed
        if remaining <= 0:
            log.warning(
                "resource wait timed out after %.1fs (limit %.1fs): %s",
                elapsed,
                timeout,
                report.reason,
            )
            return False
        log.info("waiting for resources (%.1fs of %.1fs): %s", elapsed, timeout, report.reason)
        time.sleep(min(poll_s, remaining))


@dataclass
class ResourceGuard:
    """Context manager around a unit of work::

        with ResourceGuard(cfg.resources, path=cfg.home) as guard:
            if not guard.ok:
                return guard.reason          # why not, in one line
            for game in ...:
                if not guard.check():        # re-sample between games
                    break

    On entry it checks once (or waits up to ``wait_timeout`` seconds when that is > 0).
    ``check()`` re-samples and updates ``ok``/``reason``/``report``; inside loops the CPU is
    measured without blocking (since the previous check). Self-play workers, which themselves
    keep the CPU busy, should pass ``checks=(DISK, MEMORY)``.
    """

    limits: ResourceLimits | None = None
    path: Path | str | None = None
    disk_required_gb: float = 0.0
    mem_required_gb: float = 0.0
    gpu_required_gb: float = 0.0
    checks: tuple[str, ...] = DEFAULT_CHECKS
    wait_timeout: float = 0.0
    poll_s: float = 10.0
    ok: bool = field(default=False, init=False)
    reason: str = field(default="not checked yet", init=False)
    report: ResourceReport = field(default_factory=lambda: ResourceReport(()), init=False)

    def __post_init__(self) -> None:
        self.checks = tuple(self.checks)
        if self.limits is None or self.path is None:
            cfg = load_config()
            self.limits = self.limits if self.limits is not None else cfg.resources
            self.path = self.path if self.path is not None else cfg.home

    def __enter__(self) -> ResourceGuard:
        if self.wait_timeout > 0:
            wait_for_resources(
                self.wait_timeout,
                self.poll_s,
                self.disk_required_gb,
                self.mem_required_gb,
                self.limits,
                self.path,
                checks=self.checks,
                gpu_required_gb=self.gpu_required_gb,
            )
        self._update(cpu_interval_s=0.1)
        if not self.ok:
            log.warning("resource limits exceeded: %s", self.reason)
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def check(self) -> bool:
        """Re-sample; True when work may go on. Cheap enough to call between games."""
        self._update(cpu_interval_s=None)
        return self.ok

    def _update(self, cpu_interval_s: float | None) -> None:
        self.report = check_resources(
            self.disk_required_gb,
            self.mem_required_gb,
            self.limits,
            self.path,
            checks=self.checks,
            gpu_required_gb=self.gpu_required_gb,
            cpu_interval_s=cpu_interval_s,
        )
        self.ok = self.report.ok
        self.reason = self.report.reason


def snapshot(
    limits: ResourceLimits | None = None, path: Path | str | None = None
) -> dict[str, Any]:
    """Every reading as a JSON-ready dict for the CLI and the status page::

    {"ok": bool, "level": "ok"|"warning"|"critical", "reason": str,
     "disk"|"memory"|"cpu"|"load"|"gpu_memory": ResourceStatus.as_dict(),
     "gpus": [{"index", "name", "used_pct", "used_gb", "total_gb"}, ...],
     "cpu_count": int, "load_1m": float, "path": str, "limits": {...}}
    """
    if limits is None or path is None:
        cfg = load_config()
        limits = limits if limits is not None else cfg.resources
        path = path if path is not None else cfg.home
    gpus, why = sample_gpus()
    load_1m, cpu_count = sample_load()
    statuses = (
        check_disk_space(path, limits),
        check_memory(limits),
        check_cpu(limits),
        decide_load(load_1m, cpu_count, limits),
        decide_gpu_memory(gpus, limits, 0.0, why),
    )
    report = ResourceReport(statuses)
    out: dict[str, Any] = {s.resource: s.as_dict() for s in statuses}
    out.update(
        ok=report.ok,
        level=str(report.level),
        reason=report.reason,
        gpus=[
            {
                "index": g.index,
                "name": g.name,
                "used_pct": g.used_pct,
                "used_gb": g.used_bytes / GIB,
                "total_gb": g.total_bytes / GIB,
            }
            for g in gpus or []
        ],
        cpu_count=cpu_count,
        load_1m=load_1m,
        path=str(path),
        limits=limits.model_dump(),
    )
    return out
