"""The SSH games data plane against real sshd nodes: every game in the pool exactly once."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.records.shard import read_shard, write_shard
from ringrift_tasks.store import Store, open_store
from ringrift_tasks.sync.games import ENV_CRASH_AT, sync_games
from ringrift_tasks.sync.hosts import Inventory, JumpHost, Node
from ringrift_tasks.sync.transport import HostKeyError, connect
from tests.sync.conftest import (
    Shard,
    assert_pool_is_exactly,
    credentials,
    inventory,
    offer,
    settings,
)
from tests.sync.sshd import SshCluster


def test_a_pass_merges_every_node_shard_once_and_acknowledges_it(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    a, b = cluster.add("node-a"), cluster.add("node-b")
    offer(a, *shards[:3])
    offer(b, *shards[3:])
    inv = inventory(cluster)

    report = sync_games(store, inv, settings(cluster, coordinator), credentials(cluster))

    assert report.failed_nodes == []
    assert (report.shards_merged, report.games_added, report.quarantined) == (6, 12, 0)
    assert report.added_per_config == {"square8_2p": 12}
    assert_pool_is_exactly(store, *shards)
    for node, offered in ((a, shards[:3]), (b, shards[3:])):
        assert sorted(p.name for p in node.incoming.iterdir()) == []
        assert sorted(p.name for p in node.acked.glob("*.shard")) == sorted(s.name for s in offered)
    assert store.manifest.state_counts() == {"acked": 6}
    merged = coordinator / "shards" / "merged"
    assert sorted(p.name for p in merged.iterdir()) == sorted(s.name for s in shards)

    again = sync_games(store, inv, settings(cluster, coordinator), credentials(cluster))
    assert (again.shards_merged, again.games_added) == (0, 0)
    assert_pool_is_exactly(store, *shards)


def _corrupt(path: Path, *, truncate_to: int | None = None, flip_at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    if truncate_to is not None:
        data = data[:truncate_to]
    if flip_at is not None:
        data[flip_at] ^= 0xFF
    path.write_bytes(bytes(data))


def _illegal_shard(directory: Path, good: Shard) -> Shard:
    """A sealed, checksum-correct shard whose one game repeats its first move."""
    rec: GameRecord = next(iter(read_shard(good.path)))
    bad = dataclasses.replace(rec, moves=(rec.moves[0], *rec.moves), game_id="")
    info = write_shard(directory, [bad], node="worker-a")
    return Shard(info.path, frozenset({bad.game_id}))


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncated", "truncated"),
        ("wrong_checksum", "checksum mismatch"),
        ("illegal_move", "illegal game"),
    ],
)
def test_a_bad_shard_is_quarantined_with_its_reason_and_the_rest_merge(
    cluster: SshCluster,
    store: Store,
    coordinator: Path,
    shards: list[Shard],
    tmp_path: Path,
    fault: str,
    reason: str,
) -> None:
    node = cluster.add("node-a")
    offer(node, *shards[:3])
    if fault == "illegal_move":
        bad = _illegal_shard(tmp_path / "bad", shards[0])
        offer(node, bad)
    else:
        bad = shards[1]
        target = node.incoming / bad.name
        size = target.stat().st_size
        if fault == "truncated":
            _corrupt(target, truncate_to=size // 2)
        else:
            _corrupt(target, flip_at=size // 2)

    report = sync_games(
        store, inventory(cluster), settings(cluster, coordinator), credentials(cluster)
    )

    r = report.nodes["node-a"]
    assert r.ok and r.quarantined == 1
    assert reason in r.quarantine_reasons[bad.name]
    good = [s for s in shards[:3] if s.name != bad.name]
    assert_pool_is_exactly(store, *good)
    qdir = coordinator / "shards" / "quarantine" / "node-a"
    assert reason in (qdir / f"{bad.name}.reason").read_text()
    assert (qdir / bad.name).exists()
    assert (node.rejected / bad.name).exists() and not (node.incoming / bad.name).exists()
    entry = store.manifest.get("node-a", bad.name)
    assert entry is not None and entry.state == "quarantined" and reason in (entry.error or "")
    assert store.manifest.health("node-a").quarantined == 1

    # Quarantined shards are not offered again; the next pass changes nothing.
    again = sync_games(
        store, inventory(cluster), settings(cluster, coordinator), credentials(cluster)
    )
    assert again.nodes["node-a"].quarantined == 0
    assert_pool_is_exactly(store, *good)


def test_the_same_shard_offered_by_two_nodes_is_stored_once(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    a, b = cluster.add("node-a"), cluster.add("node-b")
    offer(a, *shards[:2])
    offer(b, *shards[1:3])

    report = sync_games(
        store, inventory(cluster), settings(cluster, coordinator), credentials(cluster)
    )

    assert report.games_added == 6
    assert report.nodes["node-b"].duplicates + report.nodes["node-a"].duplicates == 2
    assert_pool_is_exactly(store, *shards[:3])
    assert (a.acked / shards[1].name).exists() and (b.acked / shards[1].name).exists()
    assert store.manifest.state_counts() == {"acked": 4}


def test_an_unknown_host_key_is_refused_naming_host_port_and_fingerprint(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    node = cluster.add("stranger", trusted=False)
    offer(node, shards[0])
    inv = inventory(cluster)

    with pytest.raises(HostKeyError) as err:
        with connect(inv.nodes[0], credentials(cluster), settings(cluster, coordinator).ssh):
            pass
    msg = str(err.value)
    assert "127.0.0.1" in msg and str(node.port) in msg and "SHA256:" in msg
    assert "not in" in msg

    report = sync_games(store, inv, settings(cluster, coordinator), credentials(cluster))
    assert report.failed_nodes == ["stranger"]
    assert "HostKeyError" in (report.nodes["stranger"].error or "")
    assert_pool_is_exactly(store)
    assert (node.incoming / shards[0].name).exists()
    # known_hosts is never written to.
    assert str(node.port) not in cluster.known_hosts.read_text()


def test_a_node_whose_host_key_changed_is_refused_and_its_breaker_opens(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    node = cluster.add("node-a")
    offer(node, shards[0])
    inv, st, cr = inventory(cluster), settings(cluster, coordinator), credentials(cluster)
    assert sync_games(store, inv, st, cr, clock=lambda: 1000.0).games_added == 2

    node.change_host_key()
    offer(node, shards[1])
    for t in (1001.0, 1002.0):
        r = sync_games(store, inv, st, cr, clock=lambda t=t: t).nodes["node-a"]
        assert not r.ok and "CHANGED" in (r.error or "") and "SHA256:" in (r.error or "")
    health = store.manifest.health("node-a")
    assert (health.breaker_state, health.consecutive_failures) == ("open", 2)
    assert health.last_success == 1000.0 and "CHANGED" in (health.last_error or "")
    assert_pool_is_exactly(store, shards[0])
    assert (node.incoming / shards[1].name).exists()


# paramiko's readv prefetch thread dies with the dropped link and says so on stderr.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_connection_dropped_mid_download_resumes_from_the_partial_file(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    node = cluster.add("node-a")
    offer(node, *shards[:2])
    st = settings(cluster, coordinator, chunk_bytes=4096)
    inv, cr = inventory(cluster), credentials(cluster)
    dropped: list[int] = []

    def drop_once(_node: str, _name: str, done: int) -> None:
        if not dropped:
            dropped.append(done)
            assert node.drop_sessions() > 0

    first = sync_games(store, inv, st, cr, progress=drop_once)
    assert first.failed_nodes == ["node-a"]
    victim = store.manifest.entries("node-a", states=["downloading"])
    assert len(victim) == 1
    part = st.staging / "node-a" / f"{victim[0].name}.part"
    assert part.stat().st_size == dropped[0] == 4096

    second = sync_games(store, inv, st, cr)
    assert second.failed_nodes == []
    full = sum((node.acked / s.name).stat().st_size for s in shards[:2])
    assert second.nodes["node-a"].bytes == full - 4096  # resumed, not restarted
    assert_pool_is_exactly(store, *shards[:2])
    assert store.manifest.get("node-a", victim[0].name).attempts == 1  # type: ignore[union-attr]


def test_a_node_down_for_several_rounds_trips_the_breaker_then_delivers_once(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    a, b = cluster.add("node-a"), cluster.add("node-b")
    offer(a, shards[0])
    offer(b, shards[1])
    inv, st, cr = inventory(cluster), settings(cluster, coordinator), credentials(cluster)
    b.stop()

    def round_at(t: float) -> tuple[bool, bool, str]:
        r = sync_games(store, inv, st, cr, clock=lambda: t).nodes["node-b"]
        return r.attempted, r.ok, r.breaker

    assert round_at(0.0) == (True, False, "closed")
    assert round_at(10.0) == (True, False, "open")  # second consecutive failure opens
    assert round_at(20.0) == (False, False, "open")  # within the 60 s cooldown: not tried
    assert round_at(75.0) == (True, False, "open")  # half-open trial fails: open again
    assert round_at(100.0) == (False, False, "open")
    health = store.manifest.health("node-b")
    assert health.reachable is False and health.consecutive_failures == 3
    assert_pool_is_exactly(store, shards[0])  # node-a was never held back

    b.start()
    assert round_at(140.0) == (True, True, "closed")  # trial succeeds: closed
    assert round_at(150.0) == (True, True, "closed")
    assert_pool_is_exactly(store, shards[0], shards[1])
    health = store.manifest.health("node-b")
    assert (health.consecutive_failures, health.backlog, health.last_success) == (0, 0, 150.0)


def test_acknowledged_shards_are_deleted_on_the_node_after_the_retention_period(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    node = cluster.add("node-a")
    offer(node, shards[0])
    st = settings(cluster, coordinator, acked_retention_s=3600.0)
    inv, cr = inventory(cluster), credentials(cluster)
    sync_games(store, inv, st, cr)
    assert (node.acked / shards[0].name).exists()
    # A stranger's file in acked/ (not in the manifest) is never ours to delete.
    (node.acked / ("f" * 64 + ".shard")).write_bytes(b"x")
    old = (node.acked / shards[0].name).stat().st_mtime - 7200
    for f in node.acked.iterdir():
        os.utime(f, (old, old))

    r = sync_games(store, inv, st, cr).nodes["node-a"]
    assert r.acked_deleted == 1
    assert sorted(p.name for p in node.acked.iterdir()) == ["f" * 64 + ".shard"]
    assert_pool_is_exactly(store, shards[0])


def test_a_node_behind_a_jump_host_is_reached_through_it(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    bastion, inner = cluster.add("bastion"), cluster.add("inner")
    offer(inner, shards[0])
    node = (
        inventory(cluster, "inner")
        .nodes[0]
        .model_copy(
            update={"jump": JumpHost(host="127.0.0.1", port=bastion.port, user=cluster.user())}
        )
    )
    report = sync_games(
        store, Inventory(nodes=(node,)), settings(cluster, coordinator), credentials(cluster)
    )
    assert report.failed_nodes == [] and report.games_added == 2
    assert_pool_is_exactly(store, shards[0])


def test_a_jump_host_with_an_unknown_key_is_refused(cluster: SshCluster, coordinator: Path) -> None:
    bastion = cluster.add("bastion", trusted=False)
    inner = cluster.add("inner")
    node = Node(
        name="inner",
        host="127.0.0.1",
        port=inner.port,
        user=cluster.user(),
        data_dir=str(inner.data_dir),
        jump=JumpHost(host="127.0.0.1", port=bastion.port, user=cluster.user()),
    )
    with pytest.raises(HostKeyError, match=str(bastion.port)):
        with connect(node, credentials(cluster), settings(cluster, coordinator).ssh):
            pass


CRASH_POINTS = [
    "discovered",
    "downloading",
    "download-chunk",
    "downloaded",
    "verified",
    "merged",
    "acked",
    "quarantined",
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_sync_killed_at_any_manifest_state_loses_and_duplicates_nothing_when_rerun(
    cluster: SshCluster, coordinator: Path, shards: list[Shard], tmp_path: Path, point: str
) -> None:
    a, b = cluster.add("node-a"), cluster.add("node-b")
    offer(a, *shards[:3])
    offer(b, shards[2], shards[3])  # shards[2] offered twice
    _corrupt(b.incoming / shards[3].name, truncate_to=1000)
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "home": str(coordinator),
                "store": f"sqlite:///{coordinator / 'ringrift.db'}",
                "known_hosts": str(cluster.known_hosts),
                "key": str(cluster.client_key),
                "chunk_bytes": 8192,
                "nodes": [n.model_dump(mode="json") for n in inventory(cluster).nodes],
            }
        )
    )
    cmd = [sys.executable, "-m", "tests.sync.sync_runner", str(spec)]
    root = Path(__file__).resolve().parents[2]

    def run(env_extra: dict[str, str]) -> int:
        env = {k: v for k, v in os.environ.items() if k != ENV_CRASH_AT}
        env.update(env_extra, PYTHONPATH=str(root))
        return subprocess.run(cmd, env=env, cwd=root, timeout=120).returncode

    assert run({ENV_CRASH_AT: point}) == -signal.SIGKILL
    assert run({}) == 0

    with open_store(f"sqlite:///{coordinator / 'ringrift.db'}") as store:
        assert_pool_is_exactly(store, *shards[:3])
        assert store.manifest.state_counts() == {"acked": 4, "quarantined": 1}
        assert store.manifest.health("node-b").quarantined == 1
    for node in (a, b):
        assert list(node.incoming.iterdir()) == []
    assert sorted(p.name for p in b.rejected.glob("*.shard")) == [shards[3].name]
    assert len(list((coordinator / "shards" / "quarantine" / "node-b").glob("*.reason"))) == 1
    assert list((coordinator / "shards" / "downloading").rglob("*.shard*")) == []
