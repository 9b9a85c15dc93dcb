"""How a worker node is doing: reachability, disk, memory, load, GPUs, shard backlog.

The best source is the node itself: nodes have the project installed, so
:func:`node_health` runs ``ringrift status --json`` over SSH (with ``RINGRIFT_HOME`` set
to the node's data directory) and reads the resource figures the node's own guard sees.
When that cannot run (no shell, the command missing, a broken install, a timeout) it falls
back to what SFTP alone tells, with the reason kept in ``status_error``:

- disk: the ``statvfs@openssh.com`` SFTP extension (OpenSSH serves it; paramiko has no
  call for it, so the request is sent as a raw extended request);
- memory and load: ``/proc/meminfo`` and ``/proc/loadavg`` read as files (Linux nodes);
- GPUs: unknown without the command.

The backlog -- sealed shards waiting in the node's ``shards/incoming`` -- is always
counted from the listing, and the node's ``models/best.json`` says which models it runs.

:func:`probe_nodes` probes every node its circuit breaker admits and keeps the result in
the node's health row (``SyncManifest.save_probe``): the RingRift page shows it and the
backpressure sensor counts the shards waiting there. :func:`probe_cluster` does the same
with the loop config's inventory and settings; :func:`health_line` is one node's log line.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

from ringrift_tasks.sync import breaker as brk
from ringrift_tasks.sync.hosts import Inventory
from ringrift_tasks.sync.models import node_manifest_path
from ringrift_tasks.sync.nodepass import CredentialSource, NodeOutcome, run_on_nodes
from ringrift_tasks.sync.transport import NodeConnection, SshSettings

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store
    from ringrift_tasks.store.manifest import NodeHealth

DEFAULT_STATUS_COMMAND = "ringrift status --json"
GIB = float(1 << 30)
_SEALED_SHARD = re.compile(r"^[0-9a-f]{64}\.shard$")
# The health DAG probes every node within its 5 minutes: a node whose status command hangs
# falls back to SFTP after this long (seconds).
CLUSTER_STATUS_TIMEOUT_S = 60.0
# The status JSON is small; anything much larger is not what we asked for.
_MAX_STATUS_BYTES = 4 << 20


class StatusUnavailable(RuntimeError):
    """The node's ``ringrift status --json`` could not be used; the message says why."""


@dataclass
class RemoteHealth:
    """One node's health. ``via``: ``status`` (the node's own report) or ``sftp`` (the
    fallback; ``status_error`` says why). Sizes in GiB, shares in percent; None: unknown."""

    node: str
    via: str
    backlog: int
    disk_free_gb: float | None = None
    disk_total_gb: float | None = None
    disk_used_pct: float | None = None
    memory_used_pct: float | None = None
    load_1m: float | None = None
    gpus: list[dict[str, Any]] | None = None
    level: str | None = None
    reason: str | None = None
    status_error: str | None = None
    best: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_status(conn: NodeConnection, command: str, timeout_s: float) -> dict[str, Any]:
    """Run ``RINGRIFT_HOME=<data_dir> <command>`` on the node and parse its JSON output.

    Raises :class:`StatusUnavailable` for a non-zero exit (127: not installed), a timeout,
    a session refused by the server, or output that is not a JSON object.
    """
    line = f"RINGRIFT_HOME={shlex.quote(conn.node.data_dir)} {command}"
    try:
        _, stdout, stderr = conn.client.exec_command(line, timeout=timeout_s)
        out = stdout.read(_MAX_STATUS_BYTES + 1)
        err = stderr.read(64 << 10)
        rc = stdout.channel.recv_exit_status()
    except (OSError, EOFError) as exc:  # socket.timeout is an OSError
        raise StatusUnavailable(
            f"{command!r} did not finish: {type(exc).__name__}: {exc}"
        ) from None
    except Exception as exc:  # paramiko.SSHException: the server refused an exec channel
        raise StatusUnavailable(f"cannot run {command!r}: {type(exc).__name__}: {exc}") from None
    if rc != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        what = "not found on the node" if rc == 127 else f"exited with {rc}"
        raise StatusUnavailable(f"{command!r} {what}: {tail[0][:300]}")
    try:
        data = json.loads(out)
    except ValueError as exc:
        raise StatusUnavailable(f"{command!r} printed no JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StatusUnavailable(f"{command!r} printed {type(data).__name__}, not an object")
    return data


def sftp_statvfs(conn: NodeConnection, path: str) -> tuple[float, float] | None:
    """``(total, free for unprivileged users)`` bytes of the file system holding ``path``,
    via the ``statvfs@openssh.com`` extension; None when the server does not offer it."""
    try:
        t, msg = conn.sftp._request(CMD_EXTENDED, "statvfs@openssh.com", path)
    except OSError:
        return None  # unsupported extension or no such path: the server says so
    if t != CMD_EXTENDED_REPLY or msg is None:
        return None
    # struct statvfs of the extension: 11 uint64 (bsize, frsize, blocks, bfree, bavail, ...)
    _bsize, frsize, blocks, _bfree, bavail = (msg.get_int64() for _ in range(5))
    return float(frsize * blocks), float(frsize * bavail)


def _proc_memory_pct(conn: NodeConnection) -> float | None:
    try:
        text = conn.read_text("/proc/meminfo")
    except OSError:
        return None
    kb = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kb[key] = int(parts[0])
    total, avail = kb.get("MemTotal"), kb.get("MemAvailable")
    if not total or avail is None:
        return None
    return round(100.0 * (total - avail) / total, 1)


def _proc_load(conn: NodeConnection) -> float | None:
    try:
        return float(conn.read_text("/proc/loadavg").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _backlog(conn: NodeConnection) -> int:
    return sum(1 for a in conn.listdir(conn.node.incoming_dir) if _SEALED_SHARD.match(a.filename))


def _best(conn: NodeConnection) -> dict[str, str]:
    try:
        data = json.loads(conn.read_text(node_manifest_path(conn.node)))
        return {
            c: str(b["model_id"]) for c, b in (data.get("configs") or {}).items() if b is not None
        }
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError, KeyError, TypeError):
        return {}


def _from_status(h: RemoteHealth, data: dict[str, Any]) -> None:
    res = data.get("resources") or {}
    disk = res.get("disk") or {}
    h.disk_free_gb = disk.get("free_gb")
    h.disk_total_gb = disk.get("total_gb")
    h.disk_used_pct = disk.get("percent")
    h.memory_used_pct = (res.get("memory") or {}).get("percent")
    h.load_1m = res.get("load_1m")
    h.gpus = list(res.get("gpus") or [])
    h.level = res.get("level")
    h.reason = res.get("reason") or None


def node_health(
    conn: NodeConnection,
    *,
    status_command: str | None = DEFAULT_STATUS_COMMAND,
    timeout_s: float = 120.0,
) -> RemoteHealth:
    """The health of the connected node (see the module doc); ``status_command`` None
    skips the remote command and uses SFTP only."""
    h = RemoteHealth(conn.node.name, via="sftp", backlog=_backlog(conn), best=_best(conn))
    if status_command:
        try:
            _from_status(h, run_status(conn, status_command, timeout_s))
            h.via = "status"
            return h
        except StatusUnavailable as exc:
            h.status_error = str(exc)
    vfs = sftp_statvfs(conn, conn.node.data_dir)
    if vfs is not None:
        total, free = vfs
        h.disk_total_gb = round(total / GIB, 2)
        h.disk_free_gb = round(free / GIB, 2)
        h.disk_used_pct = round(100.0 * (total - free) / total, 1) if total else None
    h.memory_used_pct = _proc_memory_pct(conn)
    h.load_1m = _proc_load(conn)
    return h


def probe_nodes(
    store: Store,
    inventory: Inventory,
    *,
    credentials: CredentialSource,
    ssh: SshSettings,
    policy: brk.BreakerPolicy,
    nodes: list[str] | None = None,
    status_command: str | None = DEFAULT_STATUS_COMMAND,
    timeout_s: float = 120.0,
    clock: Callable[[], float] = time.time,
) -> dict[str, NodeOutcome[RemoteHealth]]:
    """:func:`node_health` of every node (or those named) its breaker admits; the
    reachability and breaker outcome are recorded in the node's sync health row, and a
    node that answered gets its figures saved there too (``SyncManifest.save_probe``).
    A node that could not be probed keeps its last figures: ``probed_at`` says how old."""

    def work(conn: NodeConnection) -> RemoteHealth:
        h = node_health(conn, status_command=status_command, timeout_s=timeout_s)
        store.manifest.save_probe(
            h.node, probed_at=clock(), remote_backlog=h.backlog, remote_health=h.to_json()
        )
        return h

    return run_on_nodes(
        store,
        inventory,
        work,
        credentials=credentials,
        ssh=ssh,
        policy=policy,
        nodes=nodes,
        clock=clock,
        what="health probe",
    )


def node_backlog(outcomes: dict[str, NodeOutcome[RemoteHealth]]) -> dict[str, int]:
    """Sealed shards waiting on each probed node (for the backpressure sensor)."""
    return {n: o.result.backlog for n, o in outcomes.items() if o.result is not None}


@dataclass(frozen=True)
class ClusterHealth:
    """One probe of the cluster: each node's outcome and its health row after it."""

    outcomes: dict[str, NodeOutcome[RemoteHealth]]
    stored: dict[str, NodeHealth]

    def lines(self) -> list[str]:
        """One log line per node (:func:`health_line`), or one saying there is none."""
        if not self.outcomes:
            return ["no worker nodes in the inventory (sync.hosts_file): nothing to probe"]
        return [health_line(o, self.stored[n]) for n, o in self.outcomes.items()]

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures per node (for the task's XCom): reachable (None: not tried),
        the error or the reason it was skipped, breaker, shards waiting, the figures."""
        out: dict[str, Any] = {}
        for n, o in self.outcomes.items():
            out[n] = {
                "reachable": None if o.skipped else self.stored[n].reachable,
                "skipped": o.reason if o.skipped else None,
                "error": o.error,
                "breaker": o.breaker,
                "remote_backlog": None if o.result is None else o.result.backlog,
                "health": None if o.result is None else o.result.to_json(),
            }
        return out


def probe_cluster(
    cfg: RingriftConfig,
    store: Store,
    credentials: CredentialSource | None = None,
    *,
    nodes: list[str] | None = None,
    inventory: Inventory | None = None,
    status_command: str | None = DEFAULT_STATUS_COMMAND,
) -> ClusterHealth:
    """:func:`probe_nodes` over the config's inventory (``sync.hosts_file``) with its SSH
    settings and breaker policy; ``credentials`` default to the environment / ssh-agent.
    No nodes: an empty report. ``KeyError`` for a node the inventory does not know."""
    from ringrift_tasks.sync.games import GamesSyncSettings, inventory_from_config
    from ringrift_tasks.sync.transport import credentials_from_env

    inv = inventory_from_config(cfg) if inventory is None else inventory
    settings = GamesSyncSettings.from_config(cfg)
    outcomes = probe_nodes(
        store,
        inv,
        credentials=credentials if credentials is not None else credentials_from_env(),
        ssh=settings.ssh,
        policy=settings.breaker,
        nodes=nodes,
        status_command=status_command,
        timeout_s=CLUSTER_STATUS_TIMEOUT_S,
    )
    return ClusterHealth(outcomes, {n: store.manifest.health(n) for n in outcomes})


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _pct(value: Any) -> str:
    return "?" if value is None else f"{float(value):.0f}%"


def gpu_summary(gpus: list[dict[str, Any]] | None) -> str:
    """``GPU`` part of a health line: each GPU's memory in use, ``none`` or ``unknown``."""
    if gpus is None:
        return "GPU unknown"
    if not gpus:
        return "GPU none"
    return "GPU " + ", ".join(
        f"{g.get('index', '?')} {g.get('name', '?')} mem {_pct(g.get('used_pct'))}" for g in gpus
    )


def figures_line(figures: dict[str, Any]) -> str:
    """Disk, memory, load and GPUs of a stored probe (``RemoteHealth.to_json()``), one line."""
    free = figures.get("disk_free_gb")
    disk = f"disk {_pct(figures.get('disk_used_pct'))} used"
    if free is not None:
        disk += f" ({float(free):.1f} GiB free)"
    load = figures.get("load_1m")
    return ", ".join(
        (
            disk,
            f"memory {_pct(figures.get('memory_used_pct'))}",
            f"load {'?' if load is None else f'{float(load):.2f}'}",
            gpu_summary(figures.get("gpus")),
        )
    )


def health_line(outcome: NodeOutcome[RemoteHealth], stored: NodeHealth) -> str:
    """One node's line for the cluster-health log: reachable or not (with the error), its
    figures, the shards waiting on it, its breaker. ``stored``: its health row after the
    probe (failures in a row; the last figures of a node that did not answer)."""
    breaker = f"breaker {outcome.breaker}"
    if stored.consecutive_failures:
        breaker += f" ({stored.consecutive_failures} failure(s) in a row)"
    h = outcome.result
    if h is not None:
        via = "" if h.status_error is None else f" [sftp only: {h.status_error}]"
        return (
            f"{outcome.node}: reachable, {figures_line(h.to_json())}, "
            f"remote backlog {h.backlog} shard(s), {breaker}{via}"
        )
    if outcome.skipped:
        head = f"{outcome.node}: not probed, {outcome.reason}"
    else:
        head = f"{outcome.node}: UNREACHABLE ({outcome.error})"
    last = (
        "never probed"
        if stored.probed_at is None
        else f"last probe at {_utc(stored.probed_at)}: "
        f"{figures_line(stored.remote_health or {})}, "
        f"remote backlog {stored.remote_backlog} shard(s)"
    )
    return f"{head}, {breaker}; {last}"
