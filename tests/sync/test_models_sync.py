"""Pushing the best models to real sshd nodes: verified, atomic, pruned, caught up later."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ringrift_tasks.store import ModelVersion, Store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.models import ModelsSyncSettings, push_models
from ringrift_tasks.sync.transport import SshSettings
from tests.sync.conftest import credentials, inventory
from tests.sync.sshd import SshCluster, SshdNode

CONFIG = "square8_2p"
Promote = Callable[[], ModelVersion]


@pytest.fixture
def promote(store: Store, tmp_path: Path) -> Promote:
    """Register a new tiny real model of square8_2p and make it the best (each call: a
    different network)."""
    from ringrift_tasks.ai.model_file import ModelCard, save_model
    from ringrift_tasks.ai.network import build_model, default_model_config

    folder = tmp_path / "coordinator-models"
    count = iter(range(1000))

    def make() -> ModelVersion:
        n = next(count)
        net = build_model(default_model_config("square8", blocks=1, channels=8), seed=n)
        path, sha = save_model(net, ModelCard(config=CONFIG, model_config=net.config), folder)
        store.registry.register(sha, CONFIG, path=str(path), bytes=path.stat().st_size)
        outcome = store.registry.promote(
            CONFIG, sha, {"test": n}, cooldown_s=0, max_per_day=1000, now=1000.0 + n
        )
        assert outcome.promoted, outcome.reason
        best = store.registry.best(CONFIG)
        assert best is not None
        return best

    return make


def models_settings(cluster: SshCluster, **kw: object) -> ModelsSyncSettings:
    base: dict[str, object] = {
        "ssh": SshSettings(known_hosts=cluster.known_hosts, connect_timeout_s=5.0),
        "breaker": BreakerPolicy(failures=2, cooldown_s=60.0),
    }
    base.update(kw)
    return ModelsSyncSettings(**base)  # type: ignore[arg-type]


def node_folder(node: SshdNode) -> Path:
    return node.data_dir / "models" / CONFIG


def node_files(node: SshdNode) -> list[str]:
    folder = node_folder(node)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def node_best(node: SshdNode) -> dict[str, object] | None:
    data = json.loads((node.data_dir / "models" / "best.json").read_text())
    return data["configs"][CONFIG]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_best_model_reaches_every_node_verified_with_its_card_and_manifest(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    a, b = cluster.add("node-a"), cluster.add("node-b")
    best = promote()
    inv = inventory(cluster)

    report = push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))

    assert report.failed_nodes == [] and report.uploaded == 2
    for node in (a, b):
        outcome = report.nodes[node.name]
        assert outcome.result is not None
        assert outcome.result.uploaded == {CONFIG: best.model_id}
        # Exactly the model and its card: no temp file left behind.
        assert node_files(node) == [f"{best.model_id}.json", f"{best.model_id}.safetensors"]
        copy = node_folder(node) / f"{best.model_id}.safetensors"
        assert sha256(copy) == best.model_id
        assert node_best(node) == {
            "config": CONFIG,
            "model_id": best.model_id,
            "checksum": f"sha256:{best.model_id}",
            "bytes": best.bytes,
            "path": str(copy),
            "promoted_at": best.promoted_at,
        }

    again = push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))
    assert again.uploaded == 0
    for node in (a, b):
        result = again.nodes[node.name].result
        assert result is not None
        assert result.current == {CONFIG: best.model_id}
        assert (result.bytes_sent, result.manifest_written) == (0, False)


def test_a_node_that_was_down_receives_the_best_on_its_next_healthy_pass(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    cluster.add("node-a")
    b = cluster.add("node-b")
    best = promote()
    inv = inventory(cluster)
    b.stop()

    first = push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))

    assert first.nodes["node-a"].result is not None
    assert first.nodes["node-a"].result.uploaded == {CONFIG: best.model_id}
    assert (
        first.nodes["node-b"].error is not None and "cannot connect" in first.nodes["node-b"].error
    )
    assert node_files(b) == []
    health = store.manifest.health("node-b")
    assert (health.reachable, health.consecutive_failures, health.breaker_state) == (
        False,
        1,
        "closed",
    )

    b.start()
    second = push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))

    assert second.failed_nodes == []
    assert second.nodes["node-b"].result is not None
    assert second.nodes["node-b"].result.uploaded == {CONFIG: best.model_id}
    assert second.nodes["node-a"].result is not None
    assert second.nodes["node-a"].result.current == {CONFIG: best.model_id}
    assert sha256(node_folder(b) / f"{best.model_id}.safetensors") == best.model_id
    assert store.manifest.health("node-b").consecutive_failures == 0


def test_an_open_breaker_skips_the_node_with_the_reason(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    a = cluster.add("node-a")
    promote()
    inv = inventory(cluster)
    a.stop()
    settings = models_settings(cluster, breaker=BreakerPolicy(failures=1, cooldown_s=600.0))

    failed = push_models(store, inv, [CONFIG], settings, credentials(cluster))
    assert failed.nodes["node-a"].breaker == "open"
    a.start()
    skipped = push_models(store, inv, [CONFIG], settings, credentials(cluster))

    outcome = skipped.nodes["node-a"]
    assert outcome.skipped and outcome.result is None
    assert outcome.reason is not None
    assert "circuit breaker of node node-a is open" in outcome.reason
    assert "next trial in" in outcome.reason
    assert skipped.skipped_nodes == {"node-a": outcome.reason}
    assert node_files(a) == []


def test_pruning_keeps_n_models_per_config_never_the_best_nor_a_leased_one(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    node = cluster.add("node-a")
    inv = inventory(cluster)
    settings = models_settings(cluster, keep=2)
    made: list[ModelVersion] = []
    for age in (3000, 2000, 1000):
        made.append(promote())
        report = push_models(store, inv, [CONFIG], settings, credentials(cluster))
        assert report.failed_nodes == []
        # Uploads within one second share an mtime: age each one explicitly.
        for suffix in (".safetensors", ".json"):
            path = node_folder(node) / f"{made[-1].model_id}{suffix}"
            os.utime(path, (time.time() - age, time.time() - age))
    oldest, middle, newest = made

    # The third pass kept the best (newest) and one more (middle); oldest went.
    assert node_files(node) == sorted(
        f"{m.model_id}{s}" for m in (middle, newest) for s in (".json", ".safetensors")
    )
    assert sorted(report.nodes["node-a"].result.pruned) == sorted(  # type: ignore[union-attr]
        f"{CONFIG}/{oldest.model_id}{s}" for s in (".json", ".safetensors")
    )

    # A job on the node leases `middle`; a fourth model arrives: keep=2 keeps it and the
    # newest other (`newest`) and would drop `middle`, but the lease protects it.
    lease_dir = node.data_dir / "models" / "leases"
    lease_dir.mkdir(parents=True)
    (lease_dir / f"{middle.model_id}.selfplay.lease").write_text(
        json.dumps({"model_id": middle.model_id, "expires_at": time.time() + 3600})
    )
    fourth = promote()
    report = push_models(store, inv, [CONFIG], settings, credentials(cluster))
    assert report.nodes["node-a"].result is not None
    assert report.nodes["node-a"].result.pruned == []
    kept = {m.model_id for m in (middle, newest, fourth)}
    assert {n.split(".")[0] for n in node_files(node)} == kept
    assert node_best(node)["model_id"] == fourth.model_id  # type: ignore[index]


def test_a_corrupted_upload_is_detected_deleted_and_never_renamed_into_place(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    node = cluster.add("node-a")
    best = promote()
    inv = inventory(cluster)
    corrupted: list[str] = []

    def corrupt_when_complete(name: str, remote_tmp: str, acked: int) -> None:
        # The node has all the bytes: flip one in the temp file before the read-back.
        if remote_tmp.endswith(".upload") and acked == best.bytes and not corrupted:
            path = Path(remote_tmp)
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0xFF
            path.write_bytes(bytes(data))
            corrupted.append(remote_tmp)

    report = push_models(
        store,
        inv,
        [CONFIG],
        models_settings(cluster),
        credentials(cluster),
        progress=corrupt_when_complete,
    )

    assert corrupted, "the upload never reported its last chunk"
    result = report.nodes["node-a"].result
    assert result is not None and result.uploaded == {}
    assert "checksum mismatch" in result.errors[CONFIG]
    assert report.failed_nodes == ["node-a"]
    # Nothing renamed into place, the temp file deleted, the manifest does not name it.
    assert node_files(node) == []
    assert node_best(node) is None

    retry = push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))
    assert retry.nodes["node-a"].result is not None
    assert retry.nodes["node-a"].result.uploaded == {CONFIG: best.model_id}
    assert sha256(node_folder(node) / f"{best.model_id}.safetensors") == best.model_id


def test_a_best_whose_local_file_is_not_its_content_is_never_pushed(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    node = cluster.add("node-a")
    best = promote()
    Path(best.path).write_bytes(b"not the model")

    report = push_models(
        store, inventory(cluster), [CONFIG], models_settings(cluster), credentials(cluster)
    )

    assert "hashes to" in report.local_errors[CONFIG]
    assert report.nodes["node-a"].result is not None
    assert report.nodes["node-a"].result.uploaded == {}
    assert node_files(node) == []


def test_verify_existing_resends_a_node_copy_corrupted_in_place(
    cluster: SshCluster, store: Store, promote: Promote
) -> None:
    node = cluster.add("node-a")
    best = promote()
    inv = inventory(cluster)
    push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))
    copy = node_folder(node) / f"{best.model_id}.safetensors"
    data = bytearray(copy.read_bytes())
    data[100] ^= 0xFF  # same size: a size check alone cannot see it
    copy.write_bytes(bytes(data))

    trusting = push_models(store, inv, [CONFIG], models_settings(cluster), credentials(cluster))
    assert trusting.nodes["node-a"].result is not None
    assert trusting.nodes["node-a"].result.current == {CONFIG: best.model_id}
    checking = push_models(
        store, inv, [CONFIG], models_settings(cluster, verify_existing=True), credentials(cluster)
    )

    assert checking.nodes["node-a"].result is not None
    assert checking.nodes["node-a"].result.uploaded == {CONFIG: best.model_id}
    assert sha256(copy) == best.model_id
