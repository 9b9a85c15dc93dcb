"""The sync manifest repository on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from ringrift_tasks.store import NodeHealth, Store
from ringrift_tasks.store.manifest import ManifestError

NAME = "a" * 64 + ".shard"


def test_discovering_twice_keeps_the_first_entry(store: Store) -> None:
    first = store.manifest.discover("n1", NAME, "a" * 64, size=100, games=2)
    store.manifest.advance("n1", NAME, "downloading", count_attempt=True)
    again = store.manifest.discover("n1", NAME, "a" * 64, size=999, games=9)
    assert first.state == "discovered"
    assert (again.state, again.size, again.attempts) == ("downloading", 100, 1)


def test_states_advance_and_are_counted_per_node(store: Store) -> None:
    store.manifest.discover("n1", NAME, "a" * 64, size=1, games=1)
    store.manifest.discover("n2", NAME, "a" * 64, size=1, games=1)
    store.manifest.advance("n1", NAME, "merged", games_added=2)
    e = store.manifest.advance("n2", NAME, "quarantined", error="truncated")
    assert (e.state, e.error) == ("quarantined", "truncated")
    assert store.manifest.state_counts("n1") == {"merged": 1}
    assert store.manifest.state_counts() == {"merged": 1, "quarantined": 1}
    assert [x.node for x in store.manifest.entries(states=["merged"])] == ["n1"]
    assert store.manifest.get("n1", NAME).games_added == 2  # type: ignore[union-attr]


def test_an_unknown_state_or_row_is_refused(store: Store) -> None:
    with pytest.raises(ManifestError, match="unknown sync state"):
        store.manifest.advance("n1", NAME, "lost")
    with pytest.raises(ManifestError, match="no manifest entry"):
        store.manifest.advance("n1", NAME, "merged")


def test_node_health_is_saved_and_replaced(store: Store) -> None:
    assert store.manifest.health("n1") == NodeHealth("n1")
    h = NodeHealth(
        "n1",
        reachable=False,
        last_attempt=5.0,
        consecutive_failures=3,
        breaker_state="open",
        breaker_opened_at=5.0,
        backlog=4,
        last_error="down",
    )
    store.manifest.save_health(h)
    store.manifest.save_health(dataclasses.replace(h, backlog=2))
    assert store.manifest.health("n1") == dataclasses.replace(h, backlog=2)
    assert [x.node for x in store.manifest.all_health()] == ["n1"]


def test_a_probe_and_a_sync_keep_each_others_columns(store: Store) -> None:
    figures = {"disk_used_pct": 41.5, "gpus": [{"index": 0, "name": "GPU", "used_pct": 7.0}]}
    store.manifest.save_probe("n1", probed_at=10.0, remote_backlog=3, remote_health=figures)
    h = store.manifest.health("n1")
    assert (h.probed_at, h.remote_backlog, h.remote_health) == (10.0, 3, figures)
    assert (h.breaker_state, h.consecutive_failures, h.backlog) == ("closed", 0, 0)
    # A sync that read the row before the probe saves its own columns only.
    stale = NodeHealth("n1")
    store.manifest.save_health(dataclasses.replace(stale, backlog=5, last_attempt=20.0))
    after_sync = store.manifest.health("n1")
    assert (after_sync.backlog, after_sync.last_attempt, after_sync.remote_backlog) == (5, 20.0, 3)
    store.manifest.save_probe("n1", probed_at=30.0, remote_backlog=0, remote_health={})
    assert store.manifest.health("n1") == dataclasses.replace(
        after_sync, probed_at=30.0, remote_backlog=0, remote_health={}
    )


def test_shards_waiting_on_a_node_are_not_counted_twice(store: Store) -> None:
    # The manifest's unfinished entries still sit in the node's incoming: the larger wins.
    store.manifest.save_health(NodeHealth("n1", backlog=4))
    assert store.manifest.health("n1").waiting == 4
    store.manifest.save_probe("n1", probed_at=1.0, remote_backlog=9, remote_health={})
    assert store.manifest.health("n1").waiting == 9
    assert NodeHealth("never-seen").waiting == 0


def test_a_negative_remote_backlog_is_refused(store: Store) -> None:
    with pytest.raises(ManifestError, match="remote backlog of node n1"):
        store.manifest.save_probe("n1", probed_at=1.0, remote_backlog=-1, remote_health={})
