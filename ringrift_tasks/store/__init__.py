"""Stores: the game pool, the Elo match log and the model registry (SQLite or PostgreSQL).

``open_store(url)`` opens (and migrates) a database and returns a ``Store`` whose
repositories are ``store.pool`` (``GamePool``), ``store.elo`` (``EloService``) and
``store.registry`` (``ModelRegistry``).
"""

from ringrift_tasks.store.db import Store, StoreError, make_engine, migrate, open_store
from ringrift_tasks.store.elo import EloService, Match, MatchConflictError, Rating, get_elo_service
from ringrift_tasks.store.manifest import ManifestEntry, NodeHealth, SyncManifest
from ringrift_tasks.store.pool import GamePool, ImportResult, MergeResult, ShardError
from ringrift_tasks.store.registry import (
    ModelRegistry,
    ModelVersion,
    PromotionOutcome,
    RegistryError,
)

__all__ = [
    "EloService",
    "GamePool",
    "ImportResult",
    "ManifestEntry",
    "Match",
    "MatchConflictError",
    "MergeResult",
    "ModelRegistry",
    "ModelVersion",
    "NodeHealth",
    "PromotionOutcome",
    "Rating",
    "RegistryError",
    "ShardError",
    "Store",
    "StoreError",
    "SyncManifest",
    "get_elo_service",
    "make_engine",
    "migrate",
    "open_store",
]
