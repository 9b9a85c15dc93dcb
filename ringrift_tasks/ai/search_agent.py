"""Search agents: MCTS behind the ``Agent`` interface, with tree reuse between moves.

``SearchAgent(evaluator, config)`` searches from the position it is asked about. It keeps
the tree of its last search; when asked again it looks for the new position among the
evaluated descendants of that root (same step count, ``full_digest`` and legal moves,
``tree.find_descendant``) and continues from that subtree with its visits, otherwise it
starts afresh. The same agent object may play several seats (self-play) or one game after
another; an unrelated position simply rebuilds.

Specs (``agent_from_spec``):

* ``mcts_100`` / ``mcts_500``: heuristic-evaluated PUCT (uniform priors) with 100 / 500
  simulations, no noise: the tournament baselines.
* ``mcts:sims=200,c_puct=1.5,fpu=0.25,gumbel=1,considered=16,noise=1,leaves=1,
  prior=uniform,value_scale=10,reuse=1,model=<path>,device=auto``: every option
  optional. With ``model`` the positions are judged by the network in that file
  (``NeuralEvaluator.from_file(path, device)``, torch imported only then); without, by
  ``HeuristicEvaluator(prior=..., value_scale=...)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from ringrift_tasks.ai.agent import Choice
from ringrift_tasks.ai.evaluator import Evaluator
from ringrift_tasks.ai.heuristic_evaluator import HeuristicEvaluator
from ringrift_tasks.ai.search import SearchConfig, find_descendant, root_node, search_once
from ringrift_tasks.ai.search.tree import Node
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, move_cap


class SearchAgent:
    """MCTS with ``evaluator`` and ``config``; ``name`` is recorded per seat."""

    def __init__(
        self,
        evaluator: Evaluator,
        config: SearchConfig,
        *,
        name: str = "mcts",
        reuse_tree: bool = True,
    ) -> None:
        self.evaluator = evaluator
        self.config = config
        self.name = name
        self.reuse_tree = reuse_tree
        self._root: Node | None = None
        self.reused = 0  # searches that continued a kept subtree (for tests and logs)

    def reset(self) -> None:
        """Forget the kept tree."""
        self._root = None

    def choose(self, state: GameState, legal: Sequence[Move], rng: random.Random) -> Choice:
        if not legal:
            raise ValueError("SearchAgent.choose: no legal moves (the game loop plays auto_move)")
        root = None
        if self.reuse_tree and self._root is not None:
            root = find_descendant(self._root, state, legal)
        if root is None:
            root = root_node(state, legal)
        root.kind = "decision"  # a capped leaf of the last search: the game goes on
        if root.n > 0:
            self.reused += 1
        limit = self.config.max_steps
        max_steps = move_cap(state.config) if limit is None else limit
        result = search_once(root, self.evaluator, self.config, rng, max_steps)
        self._root = root if self.reuse_tree else None
        return Choice(legal[result.move_index], result.policy, result.values)


def _flag(value: float | int | str, key: str) -> bool:
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise ValueError(f"option {key}={value!r}: expected 0 or 1")


def _load_neural(path: str, device: str) -> Evaluator:
    # torch is imported only when a model is asked for.
    from ringrift_tasks.ai.neural_evaluator import NeuralEvaluator

    model = Path(path)
    if not model.is_file():
        raise ValueError(f"option model={path!r}: no such model file")
    return NeuralEvaluator.from_file(model, device=device)


def mcts_agent(**options: float | int | str) -> SearchAgent:
    """The ``mcts:...`` spec (see the module doc for the options)."""
    opts = dict(options)
    prior = str(opts.pop("prior", "uniform"))
    value_scale = float(opts.pop("value_scale", 10.0))
    model = opts.pop("model", None)
    device = str(opts.pop("device", "auto"))
    reuse = _flag(opts.pop("reuse", 1), "reuse")
    names = {
        "sims": "simulations",
        "c_puct": "c_puct",
        "fpu": "fpu_reduction",
        "gumbel": "gumbel",
        "considered": "max_considered",
        "noise": "noise",
        "leaves": "leaves_per_step",
        "c_visit": "c_visit",
        "c_scale": "c_scale",
        "alpha": "dirichlet_alpha",
        "epsilon": "dirichlet_epsilon",
        "max_steps": "max_steps",
    }
    unknown = sorted(set(opts) - set(names))
    if unknown:
        known = sorted([*names, "prior", "value_scale", "model", "device", "reuse"])
        raise ValueError(f"unknown option(s) {unknown}; expected {known}")
    kwargs: dict[str, object] = {}
    for key, value in opts.items():
        field = names[key]
        if field in ("gumbel", "noise"):
            kwargs[field] = _flag(value, key)
        elif field in ("simulations", "max_considered", "leaves_per_step", "max_steps"):
            if not isinstance(value, int):
                raise ValueError(f"option {key}={value!r}: expected an integer")
            kwargs[field] = value
        else:
            kwargs[field] = float(value)
    config = SearchConfig(**kwargs)  # type: ignore[arg-type]
    evaluator = (
        _load_neural(str(model), device)
        if model is not None
        else HeuristicEvaluator(prior=prior, value_scale=value_scale)
    )
    shown = ",".join(f"{k}={options[k]}" for k in sorted(options))
    return SearchAgent(
        evaluator, config, name=f"mcts:{shown}" if shown else "mcts", reuse_tree=reuse
    )


def baseline_agent(simulations: int, **options: float | int | str) -> SearchAgent:
    """``mcts_<simulations>``: heuristic-evaluated PUCT, no noise, tree reuse."""
    if options:
        raise ValueError(f"mcts_{simulations} takes no options, got {sorted(options)}")
    return SearchAgent(
        HeuristicEvaluator(), SearchConfig(simulations=simulations), name=f"mcts_{simulations}"
    )
