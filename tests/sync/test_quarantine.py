"""Recovering from the quarantine with ``ringrift quarantine``: list shows every shard the
real syncs set aside (local collection and SSH node sync) with its reason, size, time and
pool state; retry re-verifies and refuses a corrupt shard, hands a valid one back to the
next sync; drop moves a shard and its reasons to ``shards/dropped`` and deletes nothing.

The shards are made by the real self-play code (random agents); corrupt ones are
truncated or have a byte flipped (so their content no longer hashes to their name)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift_tasks.cli import app
from ringrift_tasks.records.shard import list_sealed_shards
from ringrift_tasks.store import Store
from ringrift_tasks.sync.games import ENV_CRASH_AT, sync_games
from ringrift_tasks.sync.quarantine import QuarantinePaths, find, quarantine_shard
from tests.sync.conftest import (
    Shard,
    assert_pool_is_exactly,
    credentials,
    inventory,
    offer,
    settings,
)
from tests.sync.sshd import SshCluster

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    return {"RINGRIFT_HOME": str(home), "COLUMNS": "200"}


def _ringrift(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=_env(home))
    return result.exit_code, result.output


def _incoming(home: Path) -> Path:
    return home / "shards" / "incoming"


def _quarantine(home: Path) -> Path:
    return home / "shards" / "quarantine"


def _put(home: Path, shard: Shard) -> Path:
    """Copy a sealed shard and its sidecar into the coordinator's local incoming folder."""
    incoming = _incoming(home)
    incoming.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shard.sidecar, incoming / shard.sidecar.name)
    return Path(shutil.copy2(shard.path, incoming / shard.name))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _collect(home: Path) -> str:
    """One local data sync (`ringrift sync`); returns its output."""
    _, out = _ringrift(home, "sync")
    return out


def _listed(home: Path) -> dict[str, dict]:
    code, out = _ringrift(home, "quarantine", "list", "--json")
    assert code == 0, out
    return {q["key"]: q for q in json.loads(out)}


def test_list_shows_local_and_node_quarantines_with_reason_size_time_and_pool_state(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    # Local collection: one truncated shard, one with a flipped byte.
    _truncate(_put(coordinator, shards[0]))
    _flip_byte(_put(coordinator, shards[1]))
    assert "2 quarantined" in _collect(coordinator)
    # Node sync: node-b delivers shards[2] intact, node-a a truncated copy of it.
    a, b = cluster.add("node-a"), cluster.add("node-b")
    offer(a, shards[2])
    offer(b, shards[2])
    _truncate(a.incoming / shards[2].name)
    report = sync_games(
        store, inventory(cluster), settings(cluster, coordinator), credentials(cluster)
    )
    assert report.nodes["node-a"].quarantined == 1 and report.nodes["node-b"].shards_merged == 1

    listed = _listed(coordinator)

    local0, local1 = listed[shards[0].name], listed[shards[1].name]
    node = listed[f"node-a/{shards[2].name}"]
    assert set(listed) == {shards[0].name, shards[1].name, f"node-a/{shards[2].name}"}
    assert "checksum mismatch" in local0["reason"] and "checksum mismatch" in local1["reason"]
    assert "truncated" in node["reason"]
    assert local0["size"] == shards[0].path.stat().st_size // 2
    assert local1["size"] == shards[1].path.stat().st_size
    assert node["size"] == shards[2].path.stat().st_size // 2
    assert (local0["node"], node["node"]) == (None, "node-a")
    # node-b's intact copy was merged: the truncated one holds no game the pool lacks.
    assert (local0["in_pool"], local1["in_pool"], node["in_pool"]) == (False, False, True)
    reason_file = _quarantine(coordinator) / "node-a" / f"{shards[2].name}.reason"
    assert node["quarantined_at"] == reason_file.stat().st_mtime
    code, text = _ringrift(coordinator, "quarantine", "list")
    assert code == 0
    assert f"node-a/{shards[2].name}" in text and "games already in the pool" in text
    assert "quarantine: 3 shards" in text


def test_retry_refuses_a_corrupt_shard_with_its_reason_and_keeps_it(
    coordinator: Path, shards: list[Shard]
) -> None:
    _truncate(_put(coordinator, shards[0]))
    _collect(coordinator)
    before = (_quarantine(coordinator) / shards[0].name).read_bytes()

    code, out = _ringrift(coordinator, "quarantine", "retry", shards[0].name[:12])

    assert code == 1
    assert "still fails verification" in out and "checksum mismatch" in out
    assert (_quarantine(coordinator) / shards[0].name).read_bytes() == before
    assert "checksum mismatch" in _listed(coordinator)[shards[0].name]["reason"]
    assert list_sealed_shards(_incoming(coordinator)) == []


def test_retry_of_a_valid_shard_hands_it_to_the_next_sync_which_merges_it(
    store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    # A valid shard set aside for a transient reason (the library's own quarantine call).
    q = QuarantinePaths(
        quarantine=_quarantine(coordinator),
        incoming=_incoming(coordinator),
        dropped=coordinator / "shards" / "dropped",
        journal=coordinator / "shards" / "quarantine-journal.jsonl",
    )
    quarantine_shard(q.quarantine, _put(coordinator, shards[3]), "store unreachable: timeout")
    assert _listed(coordinator)[shards[3].name]["reason"] == "store unreachable: timeout"

    code, out = _ringrift(coordinator, "quarantine", "retry", shards[3].name)

    assert code == 0, out
    assert "verified, 2 games" in out
    assert (_incoming(coordinator) / shards[3].name).is_file()
    assert (_incoming(coordinator) / shards[3].sidecar.name).is_file()
    assert _listed(coordinator) == {}
    journal = [json.loads(line) for line in q.journal.read_text().splitlines()]
    assert journal[-1]["action"] == "retry" and journal[-1]["shard"] == shards[3].name
    assert journal[-1]["reason"] == "store unreachable: timeout"
    assert "1 shards merged, 2 games added" in _collect(coordinator)
    assert_pool_is_exactly(store, shards[3])


def test_a_forced_retry_of_a_corrupt_shard_is_quarantined_again_by_the_sync(
    store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    _flip_byte(_put(coordinator, shards[0]))
    _collect(coordinator)

    code, out = _ringrift(coordinator, "quarantine", "retry", "--force", shards[0].name)

    assert code == 0, out
    assert "not checked (--force)" in out
    assert "1 quarantined" in _collect(coordinator)
    assert "checksum mismatch" in _listed(coordinator)[shards[0].name]["reason"]
    assert store.pool.count() == 0


def test_drop_moves_the_shard_and_its_reasons_to_dropped_and_deletes_nothing(
    coordinator: Path, shards: list[Shard]
) -> None:
    _truncate(_put(coordinator, shards[0]))
    _collect(coordinator)
    kept = (_quarantine(coordinator) / shards[0].name).read_bytes()

    code, out = _ringrift(
        coordinator, "quarantine", "drop", shards[0].name, "--reason", "disk fault on gpu-3"
    )

    assert code == 0, out
    dropped = coordinator / "shards" / "dropped"
    assert (dropped / shards[0].name).read_bytes() == kept
    assert (dropped / shards[0].sidecar.name).is_file()
    reason = (dropped / f"{shards[0].name}.reason").read_text()
    assert "checksum mismatch" in reason and "disk fault on gpu-3" in reason
    assert reason.index("checksum mismatch") < reason.index("dropped ")
    assert _listed(coordinator) == {}
    assert sorted(p.name for p in _quarantine(coordinator).iterdir()) == []


def test_drop_without_a_reason_is_refused_and_keeps_the_shard(
    coordinator: Path, shards: list[Shard]
) -> None:
    _truncate(_put(coordinator, shards[0]))
    _collect(coordinator)

    code, out = _ringrift(coordinator, "quarantine", "drop", shards[0].name)

    assert code == 2
    assert "a reason is required" in out
    assert shards[0].name in _listed(coordinator)


def test_unknown_malformed_and_ambiguous_names_are_refused_naming_them(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard]
) -> None:
    # The same shard quarantined twice: locally (truncated) and from node-a (truncated).
    _truncate(_put(coordinator, shards[4]))
    _collect(coordinator)
    a = cluster.add("node-a")
    offer(a, shards[4])
    _truncate(a.incoming / shards[4].name)
    sync_games(store, inventory(cluster), settings(cluster, coordinator), credentials(cluster))
    prefix = shards[4].name[:10]

    unknown = _ringrift(coordinator, "quarantine", "retry", "0" * 64)
    malformed = _ringrift(coordinator, "quarantine", "drop", "latest", "--reason", "x")
    ambiguous = _ringrift(coordinator, "quarantine", "drop", prefix, "--reason", "x")
    wrong_node = _ringrift(coordinator, "quarantine", "retry", f"node-z/{prefix}")

    assert unknown[0] == 2 and "no quarantined shard '" + "0" * 64 in unknown[1]
    assert "2 quarantined" in unknown[1]
    assert malformed[0] == 2 and "'latest' is not a shard name" in malformed[1]
    assert ambiguous[0] == 2 and "matches 2 quarantined shards" in ambiguous[1]
    assert f"node-a/{shards[4].name}" in ambiguous[1]
    assert wrong_node[0] == 2 and "from node 'node-z'" in wrong_node[1]
    # Qualified by its node, the same prefix names exactly one.
    assert find(_quarantine(coordinator), f"node-a/{prefix}").node == "node-a"
    assert len(_listed(coordinator)) == 2


def test_a_node_shard_refused_before_download_is_listed_and_retry_points_to_the_node(
    cluster: SshCluster, store: Store, coordinator: Path, shards: list[Shard], tmp_path: Path
) -> None:
    a = cluster.add("node-a")
    offer(a, shards[5])
    # A sync killed right after it recorded the shard; meanwhile the node loses the file.
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "home": str(coordinator),
                "store": f"sqlite:///{coordinator / 'ringrift.db'}",
                "known_hosts": str(cluster.known_hosts),
                "key": str(cluster.client_key),
                "nodes": [n.model_dump(mode="json") for n in inventory(cluster).nodes],
            }
        )
    )
    env = {**os.environ, ENV_CRASH_AT: "discovered", "PYTHONPATH": str(ROOT)}
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.sync.sync_runner", str(spec)], env=env, cwd=ROOT, timeout=120
    )
    assert crashed.returncode < 0  # killed by its own crash hook
    (a.incoming / shards[5].name).unlink()
    sync_games(store, inventory(cluster), settings(cluster, coordinator), credentials(cluster))

    entry = _listed(coordinator)[f"node-a/{shards[5].name}"]
    code, out = _ringrift(coordinator, "quarantine", "retry", f"node-a/{shards[5].name}")

    assert "vanished" in entry["reason"] and entry["size"] is None
    assert code == 2 and "no local copy to retry" in out and "node-a" in out
    code, out = _ringrift(
        coordinator, "quarantine", "drop", f"node-a/{shards[5].name}", "--reason", "lost on node"
    )
    assert code == 0, out
    reason = (
        coordinator / "shards" / "dropped" / "node-a" / f"{shards[5].name}.reason"
    ).read_text()
    assert "vanished" in reason and "lost on node" in reason
    assert _listed(coordinator) == {}


@pytest.fixture(autouse=True)
def _no_loop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's RINGRIFT_* variables would point the CLI elsewhere."""
    for var in list(os.environ):
        if var.startswith("RINGRIFT"):
            monkeypatch.delenv(var)
