"""Helpers of the training tests: real heuristic games and a tiny network config."""

from __future__ import annotations

from typing import Any

from ringrift_tasks.ai.agent import agent_from_spec
from ringrift_tasks.ai.network import default_model_config
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.selfplay.play import play_game

CONFIG = "square8_2p"


def tiny_model() -> dict[str, Any]:
    """1 block x 8 channels: trains in milliseconds per step."""
    return default_model_config(
        "square8",
        blocks=1,
        channels=8,
        se_reduction=2,
        policy_channels=8,
        value_channels=8,
        value_hidden=16,
    ).to_dict()


def heuristic_games(n: int, seed0: int = 0, config: str = CONFIG) -> list[GameRecord]:
    """``n`` heuristic self-play games (temperature 0.5, so they differ), with targets."""
    agent = agent_from_spec("heuristic:temperature=0.5")
    players = int(config[-2])
    return [play_game(config, [agent] * players, seed0 + i, source="test") for i in range(n)]
