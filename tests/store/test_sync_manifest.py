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
