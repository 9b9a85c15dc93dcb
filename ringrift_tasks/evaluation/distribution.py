"""Model bookkeeping: what is best for a config, leases held by running jobs, pruning.

**Best.** ``best_model(store, config)`` answers every node's question "what is best for
config X": the model id (the sha256 of the model file, its content hash), the checksum to
verify a fetched copy with (``sha256:<hex>``), its size and the coordinator's path.
``write_best_manifest`` writes the answer for all configs as one JSON file (atomically),
for nodes that sync files rather than query the store.

**Leases.** A job that uses a model file (a tournament, a self-play run, a gate) holds a
lease on it: a small JSON file ``<models_dir>/leases/<model_id>.<job>.lease`` with the job
name, host, pid and an expiry (Unix seconds). ``model_lease(...)`` takes one for a
``with`` block; a long job calls ``Lease.renew``. An expired lease no longer counts, so
a killed job pins its models for at most its ``ttl_s``. Files were chosen over a table so
that a job on any node sharing the models directory can hold one without a store
connection and without a schema change.

**Pruning.** ``prune_archived`` deletes the files of archived models of a config beyond
the ``keep`` most recently archived, never the best, never the rollback target (the best's
predecessor) and never a leased one; it only deletes files inside ``models_dir``. The
registry rows stay (their history and evidence are the record); their files are gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.atomic import atomic_write_text

if TYPE_CHECKING:
    from ringrift_tasks.store import ModelVersion, Store

LEASE_DIR = "leases"
DEFAULT_LEASE_TTL_S = 6 * 3600.0
_JOB = re.compile(r"[^A-Za-z0-9_.-]+")


class DistributionError(ValueError):
    """A model file that does not match its id, or a bad lease/prune request."""


def file_sha256(path: Path) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class BestModel:
    """The answer to "what is best for ``config``": fetch ``path`` (or the file named
    ``<model_id>.safetensors`` from any peer) and check it against ``checksum``."""

    config: str
    model_id: str
    checksum: str
    bytes: int
    path: str
    promoted_at: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def best_model(store: Store, config: str, *, verify: bool = False) -> BestModel | None:
    """The best model of ``config`` or None. With ``verify`` the local file is hashed and
    ``DistributionError`` raised when it is missing or not the registered content."""
    best = store.registry.best(config)
    if best is None:
        return None
    if verify:
        path = Path(best.path)
        if not path.is_file():
            raise DistributionError(f"{config}: best model file {path} is missing")
        actual = file_sha256(path)
        if actual != best.model_id:
            raise DistributionError(
                f"{config}: best model file {path} has sha256 {actual[:12]}, "
                f"registered as {best.model_id[:12]}"
            )
    return BestModel(
        config, best.model_id, f"sha256:{best.model_id}", best.bytes, best.path, best.promoted_at
    )


def write_best_manifest(store: Store, configs: Sequence[str], path: Path) -> Path:
    """Write ``{"configs": {config: BestModel or null}, "written_at": t}`` to ``path``
    atomically (sorted keys, so unchanged content gives unchanged bytes but the time)."""
    data = {
        "configs": {
            c: (None if (b := best_model(store, c)) is None else b.to_json()) for c in configs
        },
        "written_at": time.time(),
    }
    atomic_write_text(Path(path), json.dumps(data, sort_keys=True, indent=2) + "\n")
    return Path(path)


# --------------------------------------------------------------------------- leases


@dataclass
class Lease:
    """A running job's claim on a model file (see the module doc)."""

    model_id: str
    job: str
    host: str
    pid: int
    expires_at: float
    path: Path = field(repr=False)

    def renew(self, ttl_s: float = DEFAULT_LEASE_TTL_S, *, now: float | None = None) -> None:
        """Push the expiry to ``now + ttl_s``."""
        self.expires_at = (time.time() if now is None else now) + ttl_s
        self._write()

    def release(self) -> None:
        """Drop the lease (a no-op when already gone)."""
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        atomic_write_text(self.path, json.dumps(data, sort_keys=True) + "\n")


def acquire_lease(
    models_dir: Path,
    model_id: str,
    job: str,
    *,
    ttl_s: float = DEFAULT_LEASE_TTL_S,
    now: float | None = None,
) -> Lease:
    """Write (or renew) the lease of ``job`` on ``model_id``; returns it."""
    slug = _JOB.sub("_", job).strip("_")
    if not slug or ttl_s <= 0:
        raise DistributionError(f"lease: job {job!r} and ttl_s={ttl_s} (need a name and > 0)")
    path = Path(models_dir) / LEASE_DIR / f"{model_id}.{slug}.lease"
    lease = Lease(model_id, job, socket.gethostname(), os.getpid(), 0.0, path)
    lease.renew(ttl_s, now=now)
    return lease


@contextmanager
def model_lease(
    models_dir: Path, model_id: str, job: str, *, ttl_s: float = DEFAULT_LEASE_TTL_S
) -> Iterator[Lease]:
    """Hold a lease on ``model_id`` for the ``with`` block."""
    lease = acquire_lease(models_dir, model_id, job, ttl_s=ttl_s)
    try:
        yield lease
    finally:
        lease.release()


def active_leases(models_dir: Path, *, now: float | None = None) -> dict[str, list[Lease]]:
    """Unexpired leases by model id (unreadable lease files count as active: a half-read
    claim must not let a model be deleted)."""
    now = time.time() if now is None else now
    out: dict[str, list[Lease]] = {}
    folder = Path(models_dir) / LEASE_DIR
    if not folder.is_dir():
        return out
    for f in sorted(folder.glob("*.lease")):
        model_id = f.name.split(".", 1)[0]
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            lease = Lease(d["model_id"], d["job"], d["host"], int(d["pid"]), d["expires_at"], f)
        except (OSError, ValueError, KeyError, TypeError):
            lease = Lease(model_id, "?", "?", 0, float("inf"), f)
        if lease.expires_at > now:
            out.setdefault(lease.model_id, []).append(lease)
    return out


# --------------------------------------------------------------------------- pruning


def archived_models(store: Store, config: str) -> list[ModelVersion]:
    """Archived (former best) models of ``config``, most recently archived first."""
    ids: set[str] = set()
    for h in store.registry.history(config):
        ids.add(h["model_id"])
        if h["previous_id"]:
            ids.add(h["previous_id"])
    models = [m for i in ids if (m := store.registry.get(i)) is not None]
    archived = [m for m in models if m.status == "archived"]
    archived.sort(key=lambda m: (-(m.archived_at or 0.0), m.model_id))
    return archived


def rollback_target(store: Store, config: str) -> str | None:
    """The model a rollback of ``config`` would restore (the best's predecessor), or None."""
    best = store.registry.best(config)
    if best is None:
        return None
    for h in reversed(store.registry.history(config)):
        if h["kind"] == "promote" and h["model_id"] == best.model_id:
            return str(h["previous_id"]) if h["previous_id"] else None
    return None


@dataclass
class PruneReport:
    """What ``prune_archived`` did: model ids whose files were removed, kept (within
    ``keep``), and protected with the reason (best, rollback target, leased, outside)."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    protected: dict[str, str] = field(default_factory=dict)
    freed_bytes: int = 0


def prune_archived(
    store: Store,
    config: str,
    keep: int,
    *,
    models_dir: Path,
    now: float | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Delete the files of ``config``'s archived models beyond the ``keep`` newest."""
    if keep < 0:
        raise DistributionError(f"prune: keep={keep} must be >= 0")
    root = Path(models_dir).resolve()
    best = store.registry.best(config)
    protect = {}
    if best is not None:
        protect[best.model_id] = "best"
    target = rollback_target(store, config)
    if target is not None:
        protect.setdefault(target, "rollback target")
    for model_id in active_leases(root, now=now):
        protect.setdefault(model_id, "leased by a running job")
    report = PruneReport()
    for i, m in enumerate(archived_models(store, config)):
        if i < keep:
            report.kept.append(m.model_id)
            continue
        if m.model_id in protect:
            report.protected[m.model_id] = protect[m.model_id]
            continue
        path = Path(m.path).resolve()
        if not path.is_relative_to(root):
            report.protected[m.model_id] = f"file {path} is outside {root}"
            continue
        files = [path, path.with_suffix(".json")]
        if not dry_run:
            for f in files:
                if f.is_file():
                    report.freed_bytes += f.stat().st_size
                    f.unlink()
        report.removed.append(m.model_id)
    return report
