"""One tree's search, driven step by step so that many trees can share an evaluator.

``TreeSearch`` holds the per-search state of one root (noise, Gumbel draws, counters).
Its driver (``BatchedSearch``) alternates two calls: ``collect`` walks the tree from the
root and returns the leaves that need an evaluation (finished games and capped positions
already judged are backed up on the spot), then ``backup`` takes each leaf's evaluation
and adds its per-seat value vector to every edge on the path. With more than one leaf per
step, pending paths carry a virtual loss so the next walk goes elsewhere.

A search runs ``config.simulations`` *new* simulations: a reused root keeps the visits it
already had, and the reported policy counts them all.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ringrift_tasks.ai.evaluator import Evaluation
from ringrift_tasks.ai.search import gumbel
from ringrift_tasks.ai.search.puct import dirichlet_noise, most_visited, puct_select, visit_policy
from ringrift_tasks.ai.search.tree import Node, child_node


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """How to search. Defaults: plain PUCT for evaluation play, no root noise.

    ``simulations``: new simulations per search (>= 1). ``c_puct``: exploration constant
    (values in [-1, 1]). ``fpu_reduction``: first-play-urgency reduction. ``gumbel``: Gumbel
    AlphaZero root selection instead of PUCT at the root. ``max_considered``: Gumbel's m.
    ``c_visit`` / ``c_scale``: Gumbel's sigma transform (``mctx``'s defaults). ``noise``:
    self-play exploration at the root (Dirichlet for PUCT, Gumbel draws for Gumbel; without
    it Gumbel uses g = 0, a deterministic top-m). ``dirichlet_alpha``: total concentration,
    ``alpha = dirichlet_alpha / #legal``. ``dirichlet_epsilon``: noise share.
    ``leaves_per_step``: leaves one tree gathers per evaluator call (virtual loss beyond 1).
    ``max_steps``: step limit of the game (positions at it are leaves valued by the
    evaluator); None = the reference ``move_cap`` of the config.
    """

    simulations: int = 100
    c_puct: float = 1.5
    fpu_reduction: float = 0.25
    gumbel: bool = False
    max_considered: int = 16
    c_visit: float = 50.0
    c_scale: float = 0.1
    noise: bool = False
    dirichlet_alpha: float = 10.0
    dirichlet_epsilon: float = 0.25
    leaves_per_step: int = 1
    max_steps: int | None = None

    def __post_init__(self) -> None:
        checks = {
            "simulations": self.simulations >= 1,
            "c_puct": self.c_puct >= 0,
            "fpu_reduction": self.fpu_reduction >= 0,
            "max_considered": self.max_considered >= 1,
            "c_visit": self.c_visit >= 0,
            "c_scale": self.c_scale >= 0,
            "dirichlet_alpha": self.dirichlet_alpha > 0,
            "dirichlet_epsilon": 0 <= self.dirichlet_epsilon <= 1,
            "leaves_per_step": self.leaves_per_step >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"SearchConfig: bad {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)} "
                "(expected simulations >= 1, leaves_per_step >= 1, max_considered >= 1, "
                "dirichlet_epsilon in [0, 1], dirichlet_alpha > 0, the rest >= 0)"
            )


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What a search says about its root.

    ``move_index``: the move to play (index into the root's legal list). ``policy``: the
    policy target, one probability per legal move (visit distribution for PUCT, improved
    policy for Gumbel). ``values``: the root's mean value per seat (seat 1 first).
    ``visits``: visit count per legal move (reused visits included).
    """

    move_index: int
    policy: tuple[float, ...]
    values: tuple[float, ...]
    visits: tuple[int, ...]


@dataclass(slots=True)
class Leaf:
    """A position waiting for its evaluation, and the edges that led to it."""

    search: TreeSearch
    node: Node
    path: list[tuple[Node, int]]


class TreeSearch:
    """The search of one root. ``rng`` supplies the root noise (and nothing else)."""

    def __init__(self, root: Node, config: SearchConfig, rng: random.Random, max_steps: int):
        if root.kind != "decision":
            raise ValueError(f"search root must be a decision position, got {root.kind}")
        self.root = root
        self.config = config
        self.rng = rng
        self.max_steps = max_steps
        self.started = 0  # simulations begun (pending included)
        self.finished = 0  # simulations backed up
        self._root_priors: list[float] | None = None
        self._base_score: np.ndarray | None = None
        self._baseline: np.ndarray | None = None
        self._schedule: list[int] = []

    # --- lifecycle ------------------------------------------------------------------------
    def needs_root_evaluation(self) -> bool:
        return not self.root.expanded

    def set_root_evaluation(self, ev: Evaluation) -> None:
        """Expand a fresh root with its evaluation (which counts as its first visit)."""
        root = self.root
        root.expand(np.asarray(ev.priors).tolist())
        values = [float(v) for v in ev.values]
        if root.values is None:
            root.values = values
        if root.n == 0:
            root.add(values)
        root.pending = False

    def begin(self) -> None:
        """Draw the root noise; call once the root is expanded, before ``collect``."""
        root, cfg = self.root, self.config
        assert root.priors is not None, "begin() before the root was evaluated"
        k = len(root.legal)
        self._baseline = np.asarray(root.child_n, dtype=np.float64)
        if cfg.gumbel:
            g = gumbel.gumbel_noise(k, self.rng) if cfg.noise else np.zeros(k)
            score = g + gumbel.prior_logits(root.priors)
            m = min(cfg.max_considered, k)
            top = np.argsort(-score, kind="stable")[:m]
            self._base_score = np.full(k, -np.inf)
            self._base_score[top] = score[top]
            self._schedule = gumbel.considered_visit_schedule(m, cfg.simulations)
            self._root_priors = list(root.priors)
        elif cfg.noise:
            self._root_priors = dirichlet_noise(
                root.priors, cfg.dirichlet_alpha, cfg.dirichlet_epsilon, self.rng
            )
        else:
            self._root_priors = list(root.priors)

    @property
    def done(self) -> bool:
        return self.finished >= self.config.simulations

    # --- one step -------------------------------------------------------------------------
    def collect(self, max_leaves: int) -> list[Leaf]:
        """Walk the tree up to ``max_leaves`` times; return the leaves to evaluate."""
        cfg = self.config
        leaves: list[Leaf] = []
        while len(leaves) < max_leaves and self.started < cfg.simulations:
            leaf = self._walk()
            if leaf is None:  # collided with a leaf already pending: evaluate first
                break
            self.started += 1
            if leaf.node.pending:
                for parent, a in leaf.path:
                    parent.child_vl[a] += 1.0
                leaves.append(leaf)
            else:  # a finished game or a capped leaf already judged
                assert leaf.node.values is not None
                self._backup(leaf, leaf.node.values)
        return leaves

    def backup(self, leaf: Leaf, ev: Evaluation) -> None:
        """Attach ``ev`` to the pending ``leaf`` and back its values up the path."""
        node = leaf.node
        values = [float(v) for v in ev.values]
        if len(values) != len(node.w):
            raise ValueError(
                f"evaluator returned {len(values)} values for a {len(node.w)}-player game"
            )
        if node.kind == "decision":
            node.expand(np.asarray(ev.priors).tolist())
        node.values = values
        node.pending = False
        for parent, a in leaf.path:
            parent.child_vl[a] -= 1.0
        self._backup(leaf, values)

    def _backup(self, leaf: Leaf, values: Sequence[float]) -> None:
        for parent, a in leaf.path:
            parent.child_n[a] += 1.0
            parent.child_wm[a] += values[parent.to_play - 1]
            parent.add(values)
        leaf.node.add(values)
        self.finished += 1

    def _walk(self) -> Leaf | None:
        cfg = self.config
        node = self.root
        path: list[tuple[Node, int]] = []
        a = self._root_action()
        while True:
            path.append((node, a))
            child = node.children[a]
            if child is None:
                child = child_node(node, a, self.max_steps)
                return Leaf(self, child, path)
            if child.pending:
                return None
            if child.kind != "decision":
                return Leaf(self, child, path)
            node = child
            assert node.priors is not None
            a = puct_select(node, node.priors, cfg.c_puct, cfg.fpu_reduction)

    def _root_action(self) -> int:
        cfg, root = self.config, self.root
        assert self._root_priors is not None, "collect() before begin()"
        if not cfg.gumbel:
            return puct_select(root, self._root_priors, cfg.c_puct, cfg.fpu_reduction)
        assert self._base_score is not None and self._baseline is not None
        new_visits = np.add(root.child_n, root.child_vl) - self._baseline
        return gumbel.gumbel_select(
            root,
            new_visits,
            self._schedule[self.started],
            self._base_score,
            cfg.c_visit,
            cfg.c_scale,
        )

    # --- the answer -------------------------------------------------------------------------
    def result(self) -> SearchResult:
        cfg, root = self.config, self.root
        if cfg.gumbel:
            assert self._base_score is not None and self._baseline is not None
            move = gumbel.gumbel_final(
                root,
                np.asarray(root.child_n) - self._baseline,
                self._base_score,
                cfg.c_visit,
                cfg.c_scale,
            )
            policy = gumbel.improved_policy(root, cfg.c_visit, cfg.c_scale)
        else:
            move = most_visited(root)
            policy = visit_policy(root)
        return SearchResult(
            move_index=move,
            policy=tuple(float(p) for p in policy),
            values=tuple(float(v) for v in root.value()),
            visits=tuple(int(v) for v in root.child_n),
        )
