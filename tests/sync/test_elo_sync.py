"""Match logs exported by nodes and merged by match id over real sshd: exact, idempotent."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringrift_tasks.store import Store, open_store
from ringrift_tasks.sync.breaker import BreakerPolicy
from ringrift_tasks.sync.elo import (
    EloSyncSettings,
    export_matches,
    match_line,
    pull_matches,
    seal_match_lines,
)
from ringrift_tasks.sync.transport import SshSettings
from tests.sync.conftest import credentials, inventory
from tests.sync.sshd import SshCluster, SshdNode

CONFIG = "square8_2p"


def elo_settings(cluster: SshCluster, coordinator: Path) -> EloSyncSettings:
    return EloSyncSettings(
        quarantine=coordinator / "quarantine" / "elo",
        ssh=SshSettings(known_hosts=cluster.known_hosts, connect_timeout_s=5.0),
        breaker=BreakerPolicy(failures=2, cooldown_s=60.0),
    )


@pytest.fixture
def node_store(tmp_path: Path) -> Iterator[Store]:
    """A node's own store (where its evaluation records matches)."""
    with open_store(f"sqlite:///{tmp_path / 'node.db'}") as s:
        yield s


def play(store: Store, *ids: int) -> None:
    """Record matches m<i> (deterministic content per id) in ``store``."""
    agents = ["random", "heuristic", "model-a", "model-b"]
    for i in ids:
        a, b = agents[i % 4], agents[(i + 1) % 4]
        winner, loser = (a, b) if i % 3 else (b, a)
        store.elo.record_match(f"m{i:03d}", CONFIG, [a, b], [winner, loser], played_at=100.0 + i)


def assert_same_ratings(x: Store, y: Store) -> None:
    """The same agents, games and Elo (to float rounding of a sum in another order)."""
    rx, ry = x.elo.ratings(CONFIG), y.elo.ratings(CONFIG)
    assert [(r.agent, r.games) for r in rx] == [(r.agent, r.games) for r in ry]
    assert [r.elo for r in rx] == pytest.approx([r.elo for r in ry], abs=1e-6)


def outbox(node: SshdNode) -> Path:
    return node.data_dir / "elo" / "outbox"


def test_matches_from_two_nodes_merge_once_and_give_the_fit_of_the_union(
    cluster: SshCluster, store: Store, coordinator: Path, tmp_path: Path
) -> None:
    a, b = cluster.add("node-a"), cluster.add("node-b")
    with (
        open_store(f"sqlite:///{tmp_path / 'a.db'}") as sa,
        open_store(f"sqlite:///{tmp_path / 'b.db'}") as sb,
        open_store(f"sqlite:///{tmp_path / 'union.db'}") as union,
    ):
        play(sa, *range(0, 12))
        play(sb, *range(8, 20))  # m008..m011 were played by both (a shared log)
        play(union, *range(0, 20))
        export_matches(sa, a.data_dir / "elo")
        export_matches(sb, b.data_dir / "elo")
        # node-b first: the coordinator's log is in another order than the union's.
        inv = inventory(cluster, "node-b", "node-a")

        report = pull_matches(store, inv, elo_settings(cluster, coordinator), credentials(cluster))

        assert report.failed_nodes == [] and report.rejected == []
        assert (report.added, report.duplicates) == (20, 4)
        assert store.elo.count(CONFIG) == 20
        assert_same_ratings(store, union)
        for node in (a, b):
            assert list(outbox(node).iterdir()) == []
            assert len(list((node.data_dir / "elo" / "merged").glob("*.jsonl"))) == 1

        # The same file offered again (a crash between merge and move): all duplicates.
        again = next((a.data_dir / "elo" / "merged").glob("*.jsonl"))
        shutil.copy(again, outbox(a) / again.name)
        second = pull_matches(store, inv, elo_settings(cluster, coordinator), credentials(cluster))
        assert (second.added, second.duplicates) == (0, 12)
        assert store.elo.count(CONFIG) == 20
        assert_same_ratings(store, union)


def test_a_malformed_line_is_rejected_with_its_number_and_the_rest_is_merged(
    cluster: SshCluster, store: Store, coordinator: Path, node_store: Store
) -> None:
    node = cluster.add("node-a")
    play(node_store, 1, 2, 3)
    good = [match_line(m) for m in node_store.elo.matches(CONFIG)]
    store.elo.record_match("m900", CONFIG, ["random", "heuristic"], ["random", "heuristic"])
    conflicting = json.dumps(
        {
            "match_id": "m900",
            "config": CONFIG,
            "participants": ["random", "heuristic"],
            "ranking": [["heuristic"], ["random"]],
            "played_at": 5.0,
        }
    )
    lines = [
        good[0],
        '{"match_id": "m500", "config": "square8_2p", "participants": ["x"',
        good[1],
        json.dumps(
            {
                "match_id": "m501",
                "config": "square9_2p",
                "participants": ["a", "b"],
                "ranking": ["a", "b"],
                "played_at": 1.0,
            }
        ),
        conflicting,
        good[2],
    ]
    sealed = seal_match_lines(lines, outbox(node))

    report = pull_matches(
        store, inventory(cluster), elo_settings(cluster, coordinator), credentials(cluster)
    )

    assert (report.added, report.duplicates) == (3, 0)
    rejected = [(line, why) for _, _, line, why in report.rejected]
    assert [line for line, _ in rejected] == [2, 4, 5]
    assert "not JSON" in rejected[0][1]
    assert "bad config name 'square9_2p'" in rejected[1][1]
    assert "m900: already logged" in rejected[2][1]
    assert {m.match_id for m in store.elo.matches(CONFIG)} == {"m001", "m002", "m003", "m900"}
    # Nothing is lost: the node keeps the file aside, the coordinator keeps bytes + reasons.
    aside = node.data_dir / "elo" / "rejected" / sealed.name
    assert not sealed.exists()
    kept = coordinator / "quarantine" / "elo" / "node-a"
    assert (kept / sealed.name).read_bytes() == aside.read_bytes()
    reasons = (kept / f"{sealed.name}.reason").read_text().splitlines()
    assert [r.split(":")[0] for r in reasons] == ["line 2", "line 4", "line 5"]


def test_a_file_whose_bytes_do_not_match_its_name_is_set_aside_unmerged(
    cluster: SshCluster, store: Store, coordinator: Path, node_store: Store
) -> None:
    node = cluster.add("node-a")
    play(node_store, 1, 2)
    sealed = seal_match_lines([match_line(m) for m in node_store.elo.matches(CONFIG)], outbox(node))
    sealed.write_bytes(sealed.read_bytes()[:-20])  # truncated in transit to the outbox

    report = pull_matches(
        store, inventory(cluster), elo_settings(cluster, coordinator), credentials(cluster)
    )

    result = report.nodes["node-a"].result
    assert result is not None
    assert "content hashes to" in result.file_errors[sealed.name]
    assert (result.files_rejected, report.added) == (1, 0)
    assert store.elo.count() == 0
    assert (node.data_dir / "elo" / "rejected" / sealed.name).is_file()


def test_export_sends_matches_since_its_cursor_with_an_overlap(
    node_store: Store, tmp_path: Path
) -> None:
    elo_dir = tmp_path / "elo"
    play(node_store, *range(1, 6))  # played_at 101..105

    first = export_matches(node_store, elo_dir, overlap_s=2.0)
    assert (first.matches, first.cursor) == (5, 105.0)
    play(node_store, 6, 7)  # 106, 107
    second = export_matches(node_store, elo_dir, overlap_s=2.0)

    # Since 105 - 2 = 103: m003..m007; the repeats are free for the merge.
    assert second.path is not None and second.path != first.path
    ids = [json.loads(x)["match_id"] for x in second.path.read_text().splitlines()]
    assert ids == ["m003", "m004", "m005", "m006", "m007"]
    assert second.cursor == 107.0
    assert export_matches(node_store, elo_dir, overlap_s=0.0).matches == 1  # m007 (>= 107)
