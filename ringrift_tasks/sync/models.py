"""Pushing each config's best model to every worker node, verified, atomically.

Stateless reconciliation: each pass lists what a node holds and makes it right, so a node
that was down (or whose breaker was open) simply gets the model on its next healthy pass.
On a node, config ``c``'s models live in ``<data_dir>/models/<c>/`` as the coordinator
keeps them: ``<model_id>.safetensors`` (the id is the sha256 of the file) and its card
``<model_id>.json``. ``<data_dir>/models/best.json`` says what is best, in the format of
``evaluation.distribution.write_best_manifest`` with paths on the node.

For one node and config a pass:

1. leaves a best whose file is there with the registered size alone ("current"; with
   ``verify_existing`` its bytes are read back and hashed too, and a bad copy re-sent);
2. otherwise uploads it to a dot-named temp file in the same folder (readers skip dot
   names), reads the temp file back over SFTP and hashes it (shell-independent: no
   ``sha256sum`` on the node is needed), checks size and sha256, and only then renames it
   into place with ``posix-rename`` (atomic on the node; a mismatch deletes the temp file
   and is reported, nothing is renamed);
3. prunes: keeps the best plus the ``keep - 1`` most recent other models, never a model a
   job on the node holds a lease on (``<data_dir>/models/leases``, see
   ``evaluation.distribution``), and deletes stale temp files of crashed uploads;
4. then rewrites the node's ``best.json`` (same upload, verify, rename), only when what it
   says changes. A config that failed keeps its previous entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ringrift_tasks.evaluation.distribution import LEASE_DIR, DistributionError, file_sha256
from ringrift_tasks.sync import breaker as brk
from ringrift_tasks.sync.hosts import Inventory, Node
from ringrift_tasks.sync.nodepass import CredentialSource, NodeOutcome, run_on_nodes
from ringrift_tasks.sync.transport import NodeConnection, SshSettings

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store.db import Store

log = logging.getLogger(__name__)

MODEL_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
UPLOAD_SUFFIX = ".upload"
NODE_MANIFEST = "best.json"
_MODEL_NAME = re.compile(r"^([0-9a-f]{64})\.safetensors$")
# progress(node name, remote temp path, bytes the node has acknowledged so far)
UploadProgress = Callable[[str, str, int], None]


class ModelPushError(RuntimeError):
    """One model could not be placed on one node; the message names both and why."""


class ChecksumMismatch(ModelPushError):
    """The bytes that arrived on the node are not the bytes that were sent."""


@dataclass(frozen=True)
class ModelsSyncSettings:
    """How to talk SSH, when to give up on a node, how many models a node keeps per config.

    ``keep``: models kept per config on a node, the best included (>= 1).
    ``verify_existing``: also read back and hash a best the node already has.
    ``stale_upload_s``: age after which a leftover temp upload is deleted (seconds).
    """

    ssh: SshSettings = field(default_factory=SshSettings)
    breaker: brk.BreakerPolicy = field(default_factory=brk.BreakerPolicy)
    keep: int = 3
    verify_existing: bool = False
    stale_upload_s: float = 3600.0
    chunk_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"models keep must be >= 1 (the best is always kept), got {self.keep}")
        if self.chunk_bytes < 1:
            raise ValueError(f"models chunk_bytes must be >= 1, got {self.chunk_bytes}")

    @classmethod
    def from_config(cls, cfg: RingriftConfig, **overrides: Any) -> ModelsSyncSettings:
        """Settings from the loop config's ``sync`` section (``overrides`` win)."""
        s = cfg.sync
        base: dict[str, Any] = {
            "ssh": SshSettings(
                known_hosts=s.known_hosts or SshSettings().known_hosts,
                connect_timeout_s=s.connect_timeout_s,
            ),
            "breaker": brk.BreakerPolicy(s.breaker_failures, float(s.breaker_cooldown_s)),
        }
        base.update(overrides)
        return cls(**base)


@dataclass(frozen=True)
class LocalBest:
    """A config's best model on the coordinator, hashed once per pass."""

    config: str
    model_id: str
    bytes: int
    path: Path
    card: Path | None
    card_sha256: str | None
    promoted_at: float | None


@dataclass
class NodeModelsReport:
    """What a pass did on one node: per config the model uploaded or found current, the
    files pruned (``<config>/<file name>``), per-config errors, bytes sent."""

    node: str
    uploaded: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    bytes_sent: int = 0
    manifest_written: bool = False


@dataclass
class ModelsSyncReport:
    """Per node outcome of one push pass, and the bests it pushed (config -> model id)."""

    best: dict[str, str | None] = field(default_factory=dict)
    local_errors: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, NodeOutcome[NodeModelsReport]] = field(default_factory=dict)

    @property
    def uploaded(self) -> int:
        return sum(len(o.result.uploaded) for o in self.nodes.values() if o.result)

    @property
    def failed_nodes(self) -> list[str]:
        """Nodes that failed, or where some config failed."""
        return [
            n
            for n, o in self.nodes.items()
            if o.error is not None or (o.result is not None and o.result.errors)
        ]

    @property
    def skipped_nodes(self) -> dict[str, str]:
        return {n: o.reason or "" for n, o in self.nodes.items() if o.skipped}


def node_models_dir(node: Node, config: str) -> str:
    """Where config ``config``'s models live on ``node``."""
    return f"{node.data_dir}/models/{config}"


def node_manifest_path(node: Node) -> str:
    """The node's best-model manifest."""
    return f"{node.data_dir}/models/{NODE_MANIFEST}"


def local_bests(store: Store, configs: Sequence[str]) -> tuple[list[LocalBest], dict[str, str]]:
    """The best model of each config that has one, its file hashed against its id.

    Returns the bests and, per config whose file is missing or not its registered
    content, the error (such a best is never pushed).
    """
    bests: list[LocalBest] = []
    errors: dict[str, str] = {}
    for config in configs:
        best = store.registry.best(config)
        if best is None:
            continue
        path = Path(best.path)
        try:
            if not path.is_file():
                raise DistributionError(f"{config}: best model file {path} is missing")
            actual = file_sha256(path)
            if actual != best.model_id:
                raise DistributionError(
                    f"{config}: best model file {path} hashes to {actual[:12]}, "
                    f"registered as {best.model_id[:12]}"
                )
        except (OSError, DistributionError) as exc:
            errors[config] = str(exc)
            log.error("not pushing %s: %s", config, exc)
            continue
        card = path.with_suffix(CARD_SUFFIX)
        bests.append(
            LocalBest(
                config,
                best.model_id,
                path.stat().st_size,
                path,
                card if card.is_file() else None,
                file_sha256(card) if card.is_file() else None,
                best.promoted_at,
            )
        )
    return bests, errors


# --------------------------------------------------------------------------- one file


def remote_sha256(conn: NodeConnection, path: str, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of a node's file, read back over SFTP (pipelined reads)."""
    h = hashlib.sha256()
    with conn.sftp.open(path, "rb") as fh:
        size = int(fh.stat().st_size or 0)
        fh.prefetch(size)
        while data := fh.read(chunk):
            h.update(data)
    return h.hexdigest()


def _blocks(source: Path | bytes, chunk: int) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for i in range(0, len(source), chunk):
            yield source[i : i + chunk]
        return
    with open(source, "rb") as fh:
        while block := fh.read(chunk):
            yield block


def put_verified(
    conn: NodeConnection,
    source: Path | bytes,
    remote: str,
    sha256: str,
    *,
    chunk: int = 1 << 20,
    progress: UploadProgress | None = None,
) -> int:
    """Place ``source`` (a local file or bytes) at ``remote`` on the node, atomically.

    The bytes go to a dot-named temp file beside ``remote``; after each ``chunk`` the node
    is asked for the file's size (so ``progress`` reports bytes the node has, and a
    link that drops loses one chunk); then the temp file is read back and hashed, and
    renamed onto ``remote`` only if its sha256 is ``sha256``. Raises
    :class:`ChecksumMismatch` (temp file deleted) otherwise. Returns the bytes sent.
    """
    folder, name = remote.rsplit("/", 1)
    tmp = f"{folder}/.{name}.{secrets.token_hex(4)}{UPLOAD_SUFFIX}"
    sent = 0
    try:
        with conn.sftp.open(tmp, "wb") as dst:
            dst.set_pipelined(True)
            for block in _blocks(source, chunk):
                dst.write(block)
                sent += len(block)
                dst.flush()
                # A synchronous fstat: the server answers it after the writes before it.
                acked = int(dst.stat().st_size or 0)
                if progress is not None:
                    progress(conn.node.name, tmp, acked)
        have = int(conn.sftp.stat(tmp).st_size or 0)
        digest = remote_sha256(conn, tmp, chunk)
        if digest != sha256:
            raise ChecksumMismatch(
                f"{conn.node.name}: {remote}: checksum mismatch after upload: the node has "
                f"{have} bytes hashing to {digest[:16]}..., sent {sent} bytes, expected "
                f"{sha256[:16]}...; temp file deleted, nothing renamed"
            )
        conn.rename(tmp, remote)
    except BaseException:
        try:
            conn.sftp.remove(tmp)
        except OSError:
            pass  # never created, or the link is gone: a later pass removes stale temps
        raise
    return sent


# --------------------------------------------------------------------------- one node


def _leased(conn: NodeConnection, now: float) -> set[str]:
    """Model ids some job on the node holds an unexpired lease on (an unreadable lease
    file counts: a half-written claim must not let its model be deleted)."""
    folder = f"{conn.node.data_dir}/models/{LEASE_DIR}"
    out: set[str] = set()
    for a in conn.listdir(folder):
        if not a.filename.endswith(".lease"):
            continue
        model_id = a.filename.split(".", 1)[0]
        try:
            d = json.loads(conn.read_text(f"{folder}/{a.filename}"))
            if float(d["expires_at"]) > now:
                out.add(str(d["model_id"]))
        except (OSError, ValueError, KeyError, TypeError):
            out.add(model_id)
    return out


class _NodeModels:
    """One reconciliation of one connected node."""

    def __init__(
        self,
        conn: NodeConnection,
        bests: list[LocalBest],
        configs: Sequence[str],
        settings: ModelsSyncSettings,
        now: float,
        progress: UploadProgress | None,
    ) -> None:
        self.conn = conn
        self.node = conn.node
        self.bests = bests
        self.configs = configs
        self.s = settings
        self.now = now
        self.progress = progress
        self.report = NodeModelsReport(conn.node.name)

    def run(self) -> NodeModelsReport:
        leased = _leased(self.conn, self.now)
        placed: dict[str, LocalBest] = {}
        for best in self.bests:
            try:
                self._place(best)
                placed[best.config] = best
            except ModelPushError as exc:
                self.report.errors[best.config] = str(exc)
                log.warning("%s: %s", self.node.name, exc)
                continue
            self._prune(best, leased)
        self._write_manifest(placed)
        return self.report

    def _place(self, best: LocalBest) -> None:
        folder = node_models_dir(self.node, best.config)
        self.conn.makedirs(folder)
        entries = {a.filename: a for a in self.conn.listdir(folder)}
        name = f"{best.model_id}{MODEL_SUFFIX}"
        have = entries.get(name)
        current = have is not None and int(have.st_size or 0) == best.bytes
        if current and self.s.verify_existing:
            current = remote_sha256(self.conn, f"{folder}/{name}") == best.model_id
            if not current:
                log.warning(
                    "%s: %s/%s is corrupt on the node: sending it again",
                    self.node.name,
                    best.config,
                    name,
                )
        if current:
            self.report.current[best.config] = best.model_id
        else:
            self.report.bytes_sent += put_verified(
                self.conn,
                best.path,
                f"{folder}/{name}",
                best.model_id,
                chunk=self.s.chunk_bytes,
                progress=self.progress,
            )
            self.report.uploaded[best.config] = best.model_id
        card = f"{best.model_id}{CARD_SUFFIX}"
        if best.card is not None and best.card_sha256 is not None and card not in entries:
            self.report.bytes_sent += put_verified(
                self.conn, best.card, f"{folder}/{card}", best.card_sha256
            )

    def _prune(self, best: LocalBest, leased: set[str]) -> None:
        folder = node_models_dir(self.node, best.config)
        models: list[tuple[float, str]] = []
        for a in self.conn.listdir(folder):
            fname = a.filename
            if fname.startswith(".") and fname.endswith(UPLOAD_SUFFIX):
                if (a.st_mtime or 0) < self.now - self.s.stale_upload_s:
                    self.conn.remove(f"{folder}/{fname}")
                    self.report.pruned.append(f"{best.config}/{fname}")
                continue
            m = _MODEL_NAME.match(fname)
            if m and m[1] != best.model_id and stat.S_ISREG(a.st_mode or 0):
                models.append((float(a.st_mtime or 0), m[1]))
        # Newest first; the best is kept outside this list, so keep - 1 others stay.
        models.sort(key=lambda t: (-t[0], t[1]))
        for model_id in [mid for _, mid in models[self.s.keep - 1 :]]:
            if model_id in leased:
                continue
            for suffix in (MODEL_SUFFIX, CARD_SUFFIX):
                path = f"{folder}/{model_id}{suffix}"
                if self.conn.exists(path):
                    self.conn.remove(path)
                    self.report.pruned.append(f"{best.config}/{model_id}{suffix}")

    def _write_manifest(self, placed: dict[str, LocalBest]) -> None:
        path = node_manifest_path(self.node)
        previous: dict[str, Any] = {}
        try:
            previous = dict(json.loads(self.conn.read_text(path)).get("configs") or {})
        except FileNotFoundError:
            pass
        except (ValueError, AttributeError) as exc:
            log.warning("%s: unreadable %s (rewriting it): %s", self.node.name, path, exc)
        configs: dict[str, Any] = {}
        for config in self.configs:
            b = placed.get(config)
            if b is None:
                # Not placed now: a failed config keeps what the node already had.
                configs[config] = previous.get(config)
                continue
            configs[config] = {
                "config": config,
                "model_id": b.model_id,
                "checksum": f"sha256:{b.model_id}",
                "bytes": b.bytes,
                "path": f"{node_models_dir(self.node, config)}/{b.model_id}{MODEL_SUFFIX}",
                "promoted_at": b.promoted_at,
            }
        if configs == {c: previous.get(c) for c in self.configs} and previous:
            return
        data = {"configs": configs, "written_at": self.now}
        blob = (json.dumps(data, sort_keys=True, indent=2) + "\n").encode("utf-8")
        self.conn.makedirs(path.rsplit("/", 1)[0])
        put_verified(self.conn, blob, path, hashlib.sha256(blob).hexdigest())
        self.report.manifest_written = True


def reconcile_node(
    conn: NodeConnection,
    bests: list[LocalBest],
    configs: Sequence[str],
    settings: ModelsSyncSettings,
    *,
    now: float | None = None,
    progress: UploadProgress | None = None,
) -> NodeModelsReport:
    """Make one connected node hold ``bests`` (see the module doc); returns what it did.

    A config whose model cannot be placed is reported in ``errors`` and the others go on;
    a broken connection raises (the caller counts it against the node's breaker).
    """
    when = time.time() if now is None else now
    return _NodeModels(conn, bests, configs, settings, when, progress).run()


def push_models(
    store: Store,
    inventory: Inventory,
    configs: Sequence[str],
    settings: ModelsSyncSettings,
    credentials: CredentialSource,
    *,
    nodes: list[str] | None = None,
    clock: Callable[[], float] = time.time,
    progress: UploadProgress | None = None,
) -> ModelsSyncReport:
    """One push pass: every node (or those named in ``nodes``) its breaker admits gets the
    best model of each of ``configs`` that has one. Returns the per-node report."""
    bests, local_errors = local_bests(store, configs)
    report = ModelsSyncReport(
        best={c: next((b.model_id for b in bests if b.config == c), None) for c in configs},
        local_errors=local_errors,
    )

    def work(conn: NodeConnection) -> NodeModelsReport:
        return reconcile_node(conn, bests, configs, settings, now=clock(), progress=progress)

    report.nodes = run_on_nodes(
        store,
        inventory,
        work,
        credentials=credentials,
        ssh=settings.ssh,
        policy=settings.breaker,
        nodes=nodes,
        clock=clock,
        what="model push",
    )
    return report
