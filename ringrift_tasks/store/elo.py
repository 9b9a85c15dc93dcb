"""The Elo service: an append-only match log and ratings fitted from all of it.

Ratings are never updated incrementally (the reference's K=32 updates depended on the
order matches arrived in, and its nodes disagreed); ``ratings`` refits the whole log of a
config with ``ringrift_tasks.evaluation.elo.fit_ratings``, so every node with the same log
gets the same numbers. ``record_match`` is idempotent on the caller's deterministic
``match_id``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ringrift_tasks.evaluation.elo import (
    EloFitError,
    Ranking,
    Rating,
    fit_ratings,
    normalize_ranking,
)
from ringrift_tasks.store.models import MatchRow

if TYPE_CHECKING:
    from ringrift_tasks.store.db import Store

_MATCHES = MatchRow.__table__

__all__ = ["EloService", "Match", "MatchConflictError", "Rating", "get_elo_service"]


class MatchConflictError(ValueError):
    """A ``match_id`` already in the log with different content."""


@dataclass(frozen=True, slots=True)
class Match:
    """One match of the log. ``participants``: agent per seat (seat 1 first).
    ``ranking``: tiers of agents best first (see ``evaluation.elo``)."""

    match_id: str
    config: str
    participants: tuple[str, ...]
    ranking: Ranking
    played_at: float
    source: str = ""
    game_id: str | None = None

    @staticmethod
    def build(
        match_id: str,
        config: str,
        participants: Sequence[str],
        ranking: Sequence[str | Sequence[str]],
        *,
        played_at: float | None = None,
        source: str = "",
        game_id: str | None = None,
    ) -> Match:
        """Validate and normalise a match; ``ValueError`` naming the bad part."""
        if not match_id:
            raise ValueError("match_id: empty")
        parts = tuple(participants)
        if len(set(parts)) != len(parts):
            raise ValueError(f"match {match_id}: participants {list(parts)} repeat an agent")
        try:
            tiers = normalize_ranking(ranking)
        except EloFitError as exc:
            raise ValueError(f"match {match_id}: {exc}") from None
        ranked = sorted(a for t in tiers for a in t)
        if ranked != sorted(parts):
            raise ValueError(
                f"match {match_id}: ranking {ranked} does not list the participants {sorted(parts)}"
            )
        return Match(
            match_id=match_id,
            config=config,
            participants=parts,
            ranking=tiers,
            played_at=time.time() if played_at is None else float(played_at),
            source=source,
            game_id=game_id,
        )

    @staticmethod
    def ranking_from_seats(participants: Sequence[str], seat_ranking: Sequence[int]) -> list[str]:
        """Agents best first from a game's seat ranking (``GameResult.ranking``, seats from 1)."""
        return [participants[seat - 1] for seat in seat_ranking]

    def _row(self) -> dict[str, Any]:
        return {
            "match_id": self.match_id,
            "config": self.config,
            "participants": [{"agent": a, "seat": i + 1} for i, a in enumerate(self.participants)],
            "ranking": [list(t) for t in self.ranking],
            "played_at": self.played_at,
            "source": self.source,
            "game_id": self.game_id,
        }

    @staticmethod
    def _from_row(row: Any) -> Match:
        seats = sorted(row.participants, key=lambda p: p["seat"])
        return Match(
            match_id=row.match_id,
            config=row.config,
            participants=tuple(p["agent"] for p in seats),
            ranking=tuple(tuple(t) for t in row.ranking),
            played_at=row.played_at,
            source=row.source,
            game_id=row.game_id,
        )


class EloService:
    """Match log and ratings of a ``Store``.

    ``anchor``/``anchor_elo``: the agent pinned to a fixed rating (``random`` at 400, the
    config's ``tournament.random_anchor_elo``); without it in a config's log the mean is
    pinned to ``mean_elo``.
    """

    def __init__(
        self,
        store: Store,
        *,
        anchor: str = "random",
        anchor_elo: float = 400.0,
        mean_elo: float = 1500.0,
    ) -> None:
        self.store = store
        self.anchor = anchor
        self.anchor_elo = anchor_elo
        self.mean_elo = mean_elo

    def _insert(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        stmt = (
            dialect.insert(_MATCHES)
            .on_conflict_do_nothing(index_elements=["match_id"])
            .returning(_MATCHES.c.match_id)
        )
        return len(conn.execute(stmt, rows).all()) if rows else 0

    def record_match(
        self,
        match_id: str,
        config: str,
        participants: Sequence[str],
        ranking: Sequence[str | Sequence[str]],
        *,
        played_at: float | None = None,
        source: str = "",
        game_id: str | None = None,
    ) -> bool:
        """Append one match; True if new, False if this exact match was already logged.

        ``MatchConflictError`` if ``match_id`` is logged with a different config,
        participants or ranking (ids must be deterministic in what they describe).
        """
        m = Match.build(
            match_id,
            config,
            participants,
            ranking,
            played_at=played_at,
            source=source,
            game_id=game_id,
        )
        with self.store.write() as conn:
            if self._insert(conn, [m._row()]):
                return True
            old = Match._from_row(
                conn.execute(select(_MATCHES).where(_MATCHES.c.match_id == match_id)).one()
            )
        if (old.config, old.participants, old.ranking) != (m.config, m.participants, m.ranking):
            raise MatchConflictError(
                f"match {match_id}: already logged as {old.config} {list(old.participants)} "
                f"ranking {[list(t) for t in old.ranking]}, not {m.config} "
                f"{list(m.participants)} ranking {[list(t) for t in m.ranking]}"
            )
        return False

    def record_matches(self, matches: Iterable[Match]) -> int:
        """Append many matches in one transaction (insert-or-ignore); returns how many were new."""
        rows = [m._row() for m in matches]
        with self.store.write() as conn:
            return self._insert(conn, rows)

    def matches(self, config: str) -> list[Match]:
        """The log of ``config`` ordered by ``match_id``."""
        q = select(_MATCHES).where(_MATCHES.c.config == config).order_by(_MATCHES.c.match_id)
        with self.store.read() as conn:
            return [Match._from_row(r) for r in conn.execute(q)]

    def count(self, config: str | None = None) -> int:
        """Matches in the log (of ``config``, or all)."""
        from sqlalchemy import func

        q = select(func.count()).select_from(_MATCHES)
        if config is not None:
            q = q.where(_MATCHES.c.config == config)
        with self.store.read() as conn:
            return int(conn.execute(q).scalar_one())

    def ratings(self, config: str) -> list[Rating]:
        """Ratings of every agent in ``config``'s log, best first (batch Bradley-Terry fit)."""
        q = select(_MATCHES.c.ranking).where(_MATCHES.c.config == config)
        with self.store.read() as conn:
            rankings = [r.ranking for r in conn.execute(q)]
        return fit_ratings(
            rankings, anchor=self.anchor, anchor_elo=self.anchor_elo, mean_elo=self.mean_elo
        )


@cache
def _service_for(url: str, anchor_elo: float) -> EloService:
    from ringrift_tasks.store.db import open_store

    return EloService(open_store(url), anchor_elo=anchor_elo)


def get_elo_service(url: str | None = None, *, anchor_elo: float | None = None) -> EloService:
    """The Elo service of the store at ``url`` (one per URL and anchor, cached).

    Without ``url`` (or ``anchor_elo``) the values come from the loaded config
    (``store_url``, ``tournament.random_anchor_elo``).
    """
    if url is None or anchor_elo is None:
        from ringrift_tasks.config import load_config

        cfg = load_config()
        url = cfg.store_url if url is None else url
        anchor_elo = cfg.tournament.random_anchor_elo if anchor_elo is None else anchor_elo
    return _service_for(url, float(anchor_elo))
