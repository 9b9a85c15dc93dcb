"""Monte Carlo tree search over the rules, against the ``Evaluator`` seam.

- ``tree``: nodes (decision / terminal / capped / repeat), forced bookkeeping, rank values, reuse;
- ``puct``: PUCT selection with per-seat values, FPU reduction, Dirichlet root noise;
- ``gumbel``: Gumbel AlphaZero root selection and its improved policy;
- ``mcts``: ``SearchConfig``, ``SearchResult`` and ``TreeSearch`` (one root, stepwise);
- ``batched``: ``BatchedSearch`` (many roots, one evaluator call per step), ``search_once``.
"""

from ringrift_tasks.ai.search.batched import BatchedSearch, search_once
from ringrift_tasks.ai.search.mcts import SearchConfig, SearchResult, TreeSearch
from ringrift_tasks.ai.search.tree import Node, find_descendant, rank_values, root_node

__all__ = [
    "BatchedSearch",
    "Node",
    "SearchConfig",
    "SearchResult",
    "TreeSearch",
    "find_descendant",
    "rank_values",
    "root_node",
    "search_once",
]
