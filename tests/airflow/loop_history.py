"""A few hours of loop history written through the library, for the RingRift page tests:
real random games in the pool, a match log whose agents have clearly different strengths,
two models promoted one after the other with gate evidence, the training and promotion
verdicts in the decision log, and the Elo trend plot the hourly tournament writes."""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from ringrift_tasks.config import RingriftConfig
from ringrift_tasks.evaluation.match import model_agent_name
from ringrift_tasks.evaluation.trends import write_trend_artifacts
from ringrift_tasks.store.db import open_store
from ringrift_tasks.store.manifest import NodeHealth
from tests.store.games import play_random_game

CONFIG = "square8_2p"
OTHER_CONFIG = "hex8_3p"  # not enabled, but it has games: the page shows it too
WORKER = "gpu-node-2"  # a worker whose last syncs failed
HOUR = 3600.0


@dataclass(frozen=True)
class History:
    first_best: str
    best: str
    games: int
    other_games: int
    refused_reason: str


def model_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def write_history(cfg: RingriftConfig, *, now: float | None = None) -> History:
    """Fill ``cfg``'s store and artifacts (see module docstring)."""
    now = time.time() if now is None else now
    start = now - 6 * HOUR
    first, second = model_id("gen-1"), model_id("gen-2")
    refused = "cooldown: last promotion 600 s ago (< 3600 s) <b>&"
    with open_store(cfg.store_url) as store:
        games = [play_random_game(CONFIG, seed) for seed in range(1, 7)]
        store.pool.insert_records(games)
        other = [play_random_game(OTHER_CONFIG, seed, max_steps=40) for seed in (1, 2)]
        store.pool.insert_records(other)

        store.registry.register(
            first, CONFIG, path="models/gen-1.safetensors", bytes=1000, created_at=start + HOUR
        )
        store.registry.promote(
            CONFIG,
            first,
            {"method": "bootstrap", "decision": "promote", "games": 0},
            cooldown_s=0,
            max_per_day=10,
            now=start + HOUR,
        )
        store.registry.register(
            second,
            CONFIG,
            path="models/gen-2.safetensors",
            bytes=1000,
            parent_id=first,
            created_at=start + 3 * HOUR,
        )
        evidence = {
            "decision": "promote",
            "method": "sprt",
            "games": 64,
            "wins": 41,
            "draws": 3,
            "losses": 20,
            "score": 0.664,
            "wilson_low": 0.55,
            "llr": 2.98,
            "best": first,
            "gate_id": "gate-0002",
        }
        store.registry.promote(
            CONFIG, second, evidence, cooldown_s=0, max_per_day=10, now=start + 4 * HOUR
        )
        store.decisions.record(
            CONFIG,
            "promotion",
            True,
            "SPRT accepted after 64 games",
            evidence=evidence,
            at=start + 4 * HOUR,
        )
        store.decisions.record(
            CONFIG,
            "training",
            True,
            "6 new games >= 4",
            evidence={"new_games": 6, "min_new_games": 4, "since_last_s": 5400.0},
            run_id="scheduled__gate",
            at=start + 2 * HOUR,
        )
        store.decisions.record(OTHER_CONFIG, "promotion", False, refused, at=now - 600)

        # Strength order: gen-2 > gen-1 > heuristic > random, played over six hours.
        strength = {
            "random": 0,
            "heuristic": 1,
            model_agent_name(first): 2,
            model_agent_name(second): 3,
        }
        # A round robin every half hour; gen-2 joins at its registration.
        rng = random.Random(7)
        agents = list(strength)
        for rnd in range(12):
            played_at = start + (rnd + 1) * HOUR / 2
            field = agents if played_at >= start + 3 * HOUR else agents[:3]
            pairs = [(a, b) for i, a in enumerate(field) for b in field[i + 1 :]]
            for k, (a, b) in enumerate(pairs * 3):
                p_a = 1 / (1 + 10 ** ((strength[b] - strength[a]) * 0.45))
                ranking = [a, b] if rng.random() < p_a else [b, a]
                store.elo.record_match(
                    f"r{rnd:02d}-{k:02d}", CONFIG, [a, b], ranking, played_at=played_at
                )
        write_trend_artifacts(store, CONFIG, cfg.paths.artifacts, step_s=HOUR / 2)
        store.manifest.save_health(
            NodeHealth("gpu-node-1", reachable=True, last_attempt=now - 30, last_success=now - 30)
        )
        store.manifest.save_health(
            NodeHealth(
                WORKER,
                reachable=False,
                last_attempt=now - 90,
                last_success=now - 2 * HOUR,
                last_error="ssh: connection timed out",
                consecutive_failures=5,
                breaker_state="open",
                breaker_opened_at=now - 600,
                backlog=14,
            )
        )
    return History(first, second, len(games), len(other), refused)
