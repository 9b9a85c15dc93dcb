"""The one agent interface: given a position and its legal moves, choose one.

Every agent (random, heuristic, and the neural search agents of later issues) implements
``Agent.choose(state, legal, rng) -> Choice``:

* ``legal`` is ``legal_moves(state)`` in canonical order; a ``Choice``'s ``policy`` indexes
  that list, so the recorded search target means the same thing on every machine. The game
  loop never asks an agent when the list is empty (it plays ``auto_move`` itself).
* ``rng`` (a ``random.Random``) is the only source of randomness an agent may use, so a game
  is a pure function of its seed.
* ``Choice.policy`` / ``Choice.values`` are optional search statistics; when present they
  become the move's ``SearchTarget`` in the game record, and the self-play temperature
  schedule samples from the policy instead of playing ``Choice.move``.

``agent_from_spec("heuristic:policy_scale=0.5")`` builds an agent from a short string, the
form used on command lines, in worker arguments and in tournament baselines.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ringrift_tasks.records.game_record import SearchTarget
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState

# Policy entries below this are dropped from a recorded target (they round to 0 anyway).
MIN_TARGET_PROB = 1e-6


class AgentSpecError(ValueError):
    """An agent spec string that names no known agent or carries a bad option."""


@dataclass(frozen=True, slots=True)
class Choice:
    """An agent's decision.

    ``move``: the move the agent plays when no temperature is applied (one of ``legal``).
    ``policy``: optional probabilities, one per entry of ``legal`` (same order), summing to 1.
    ``values``: optional root value per seat (seat 1 first), each in [-1, 1] from that seat's
    point of view.
    """

    move: Move
    policy: tuple[float, ...] | None = None
    values: tuple[float, ...] | None = None

    def search_target(self) -> SearchTarget | None:
        """The statistics as a record's ``SearchTarget`` (sparse policy), or None if none."""
        if self.policy is None and self.values is None:
            return None
        policy = tuple(
            (i, float(p)) for i, p in enumerate(self.policy or ()) if p >= MIN_TARGET_PROB
        )
        return SearchTarget(policy, tuple(float(v) for v in self.values or ()))


@runtime_checkable
class Agent(Protocol):
    """Something that plays: a stable ``name`` (recorded per seat) and ``choose``."""

    name: str

    def choose(self, state: GameState, legal: Sequence[Move], rng: random.Random) -> Choice:
        """Pick one of ``legal`` (non-empty, canonical order) for ``state.current_player``.

        Must not mutate ``state``; must draw randomness only from ``rng``.
        """
        ...


def _parse_value(text: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, float | int | str]]:
    """Split ``"name:key=value,key=value"`` into the name and its options."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    options: dict[str, float | int | str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise AgentSpecError(f"agent spec {spec!r}: option {part!r} is not key=value")
        options[key.strip()] = _parse_value(value.strip())
    if not name:
        raise AgentSpecError(f"agent spec {spec!r}: missing agent name")
    return name, options


def _random_factory(**options: float | int | str) -> Agent:
    from ringrift_tasks.ai.random_agent import RandomAgent

    return RandomAgent(**options)  # type: ignore[arg-type]


def _heuristic_factory(**options: float | int | str) -> Agent:
    from ringrift_tasks.ai.heuristic import HeuristicAgent

    return HeuristicAgent(**options)  # type: ignore[arg-type]


def _mcts_factory(**options: float | int | str) -> Agent:
    from ringrift_tasks.ai.search_agent import mcts_agent

    return mcts_agent(**options)


def _mcts_baseline_factory(simulations: int) -> Callable[..., Agent]:
    def factory(**options: float | int | str) -> Agent:
        from ringrift_tasks.ai.search_agent import baseline_agent

        return baseline_agent(simulations, **options)

    return factory


# Known agent names; later agents (neural search) register here the same way.
AGENT_FACTORIES: dict[str, Callable[..., Agent]] = {
    "random": _random_factory,
    "heuristic": _heuristic_factory,
    "mcts": _mcts_factory,
    "mcts_100": _mcts_baseline_factory(100),
    "mcts_500": _mcts_baseline_factory(500),
}


def forget_last_game(agents: Sequence[Agent]) -> None:
    """Reset every agent that keeps state between moves (a search tree), once each, so the
    next game depends on its seed alone, not on the game played before it."""
    for agent in {id(a): a for a in agents}.values():
        reset = getattr(agent, "reset", None)
        if callable(reset):
            reset()


def agent_from_spec(spec: str) -> Agent:
    """Build an agent from ``"name[:key=value,...]"``, e.g. ``"heuristic:temperature=0.2"``.

    Raises ``AgentSpecError`` naming the unknown agent or the rejected option.
    """
    name, options = parse_spec(spec)
    factory = AGENT_FACTORIES.get(name)
    if factory is None:
        raise AgentSpecError(
            f"agent spec {spec!r}: unknown agent {name!r}; "
            f"expected one of {sorted(AGENT_FACTORIES)}"
        )
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:
        raise AgentSpecError(f"agent spec {spec!r}: {exc}") from None
