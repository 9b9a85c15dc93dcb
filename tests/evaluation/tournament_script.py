"""Runs one full tournament in its own process (the killed-tournament test kills it).

Usage: python tournament_script.py SQLITE_URL HOME WORKERS
"""

from __future__ import annotations

import sys
from pathlib import Path

from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.evaluation.tournament import RunOptions, run_full_tournament
from ringrift_tasks.store import open_store

LOGICAL_TIME = "2026-11-25T10:00:00+00:00"
GAMES = 24


def main(url: str, home: str, workers: int) -> None:
    from datetime import datetime

    cfg = RingriftConfig(home=Path(home), tournament={"baselines": ["random", "heuristic"]})
    with open_store(url) as store:
        (result,) = run_full_tournament(
            cfg,
            store,
            datetime.fromisoformat(LOGICAL_TIME),
            games=GAMES,
            options=RunOptions(
                workers=workers, max_steps=60, resource_guard=False, source="test-node"
            ),
        )
    print(result.tournament_id, result.scheduled, len(result.report.played), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
