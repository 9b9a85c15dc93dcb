"""Many searches at once, one evaluator call per step.

``BatchedSearch.run(searches)`` first evaluates every root that needs it in one call, then
repeats: each unfinished search ``collect``s up to ``leaves_per_step`` leaves, all of them
go to the evaluator together, and each evaluation is backed up into its own tree. A GPU
evaluator thus sees batches of ``games x leaves_per_step`` positions. With one leaf per
step every search is exactly the search it would be alone (same evaluations, same order),
so batching changes throughput, never results.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ringrift_tasks.ai.evaluator import Evaluator
from ringrift_tasks.ai.search.mcts import Leaf, SearchConfig, SearchResult, TreeSearch
from ringrift_tasks.ai.search.tree import Node


class BatchedSearch:
    """Drives ``TreeSearch``es over one ``evaluator``; counts its calls and positions."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.calls = 0
        self.positions = 0

    def _evaluate(self, nodes: Sequence[Node]):  # type: ignore[no-untyped-def]
        evals = self.evaluator.evaluate([n.state for n in nodes], [n.legal for n in nodes])
        if len(evals) != len(nodes):
            raise ValueError(
                f"evaluator {self.evaluator.name!r} returned {len(evals)} evaluations "
                f"for {len(nodes)} positions"
            )
        self.calls += 1
        self.positions += len(nodes)
        return evals

    def run(self, searches: Sequence[TreeSearch]) -> list[SearchResult]:
        """Run every search to its simulation budget; results in the same order."""
        fresh = [t for t in searches if t.needs_root_evaluation()]
        if fresh:
            for t, ev in zip(fresh, self._evaluate([t.root for t in fresh]), strict=True):
                t.set_root_evaluation(ev)
        for t in searches:
            t.begin()
        active = [t for t in searches if not t.done]
        while active:
            leaves: list[Leaf] = []
            for t in active:
                leaves.extend(t.collect(t.config.leaves_per_step))
            if leaves:
                evals = self._evaluate([leaf.node for leaf in leaves])
                for leaf, ev in zip(leaves, evals, strict=True):
                    leaf.search.backup(leaf, ev)
            active = [t for t in active if not t.done]
        return [t.result() for t in searches]


def search_once(
    root: Node,
    evaluator: Evaluator,
    config: SearchConfig,
    rng: random.Random,
    max_steps: int,
) -> SearchResult:
    """Search a single root (a batch of one)."""
    return BatchedSearch(evaluator).run([TreeSearch(root, config, rng, max_steps)])[0]
