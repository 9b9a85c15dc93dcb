"""The loop's Assets: what one DAG produces and another is scheduled on.

``ringrift://games/<config>``: games of the config were merged into the pool;
``ringrift://candidates/<config>``: a candidate model was registered;
``ringrift://best/<config>``: the config's best model changed.

A task emits events only for the configs it actually changed, through an AssetAlias
outlet: ``outlet_events[GAMES_ALIAS].add(games_asset(config), extra=...)``. A task with
plain Asset outlets would emit every one of them on each success.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow.sdk import Asset, AssetAlias

SCHEME = "ringrift"
GAMES, CANDIDATES, BEST = "games", "candidates", "best"

GAMES_ALIAS = AssetAlias("ringrift-games")
CANDIDATES_ALIAS = AssetAlias("ringrift-candidates")
BEST_ALIAS = AssetAlias("ringrift-best")


def loop_asset(kind: str, config: str) -> Asset:
    """``ringrift://<kind>/<config>``, named the same as its URI."""
    uri = f"{SCHEME}://{kind}/{config}"
    return Asset(uri=uri, name=uri, group="ringrift")


def games_asset(config: str) -> Asset:
    return loop_asset(GAMES, config)


def candidate_asset(config: str) -> Asset:
    return loop_asset(CANDIDATES, config)


def best_asset(config: str) -> Asset:
    return loop_asset(BEST, config)


def configs_of(assets: Iterable[object], kind: str) -> list[str]:
    """The configs named by ``ringrift://<kind>/<config>`` among ``assets`` (e.g. the keys
    of a run's ``triggering_asset_events``), sorted, each once."""
    prefix = f"{SCHEME}://{kind}/"
    found = {
        uri[len(prefix) :]
        for a in assets
        if isinstance(uri := getattr(a, "uri", None), str) and uri.startswith(prefix)
    }
    return sorted(found)
