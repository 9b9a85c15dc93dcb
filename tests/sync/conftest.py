"""Fixtures of the SSH data-sync tests: real sshd nodes holding real self-play shards."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ringrift_tasks.records.shard import read_shard
from ringrift_tasks.selfplay.worker import run_selfplay
from ringrift_tasks.store import Store, open_store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.games import GamesSyncSettings
from ringrift_tasks.sync.hosts import Inventory, Node
from ringrift_tasks.sync.transport import SshCredentials, SshSettings
from tests.sync.sshd import SshCluster, SshdNode


@dataclass(frozen=True)
class Shard:
    """A sealed shard made by the real self-play code, and its games' ids."""

    path: Path
    game_ids: frozenset[str]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sidecar(self) -> Path:
        return self.path.with_suffix(".json")


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Shard]:
    """Six sealed square8_2p shards of two random-agent games each (12 distinct games)."""
    out = tmp_path_factory.mktemp("selfplay")
    report = run_selfplay(
        "square8_2p", 12, 1, out, "random", 2026, 2, source="worker-a", start_method="fork"
    )
    made = [Shard(p, frozenset(r.game_id for r in read_shard(p))) for p in report.shards]
    assert len(made) == 6 and len(frozenset().union(*(s.game_ids for s in made))) == 12
    return made


def offer(node: SshdNode, *shards: Shard) -> None:
    """Put sealed shards (with sidecars) into the node's incoming folder."""
    node.incoming.mkdir(parents=True, exist_ok=True)
    for s in shards:
        shutil.copy2(s.sidecar, node.incoming / s.sidecar.name)
        shutil.copy2(s.path, node.incoming / s.name)


def sidecar_bytes(node: SshdNode, shard: Shard) -> int:
    return int(json.loads((node.incoming / shard.sidecar.name).read_text())["bytes"])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SshCluster]:
    """A set of sshd nodes (add them with ``cluster.add(name)``), all stopped at the end."""
    c = SshCluster(tmp_path / "ssh")
    try:
        yield c
    finally:
        c.stop()


def inventory(cluster: SshCluster, *names: str) -> Inventory:
    """Inventory entries for the cluster's nodes (all of them when none are named)."""
    chosen = names or tuple(cluster.nodes)
    return Inventory(
        nodes=tuple(
            Node(
                name=n,
                host="127.0.0.1",
                port=cluster.nodes[n].port,
                user=cluster.user(),
                data_dir=str(cluster.nodes[n].data_dir),
            )
            for n in chosen
        )
    )


def credentials(cluster: SshCluster) -> SshCredentials:
    return SshCredentials(key_filename=str(cluster.client_key), allow_agent=False)


@pytest.fixture
def coordinator(tmp_path: Path) -> Path:
    """The coordinator's data home."""
    return tmp_path / "coordinator"


def settings(cluster: SshCluster, home: Path, **kw: object) -> GamesSyncSettings:
    base: dict[str, object] = {
        "staging": home / "shards" / "downloading",
        "merged": home / "shards" / "merged",
        "quarantine": home / "shards" / "quarantine",
        "ssh": SshSettings(known_hosts=cluster.known_hosts, connect_timeout_s=5.0),
        "breaker": BreakerPolicy(failures=2, cooldown_s=60.0),
    }
    base.update(kw)
    return GamesSyncSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(coordinator: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{coordinator / 'ringrift.db'}") as s:
        yield s


def pool_ids(store: Store) -> list[str]:
    """Every game id in the pool, with repeats if there were any (there must not be)."""
    with store.read() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT game_id FROM games")]


def assert_pool_is_exactly(store: Store, *shards: Shard) -> None:
    """Every game of ``shards`` is in the pool exactly once, and nothing else is."""
    expected = frozenset().union(*(s.game_ids for s in shards))
    ids = pool_ids(store)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
