"""The search tree over ``GameState``: nodes, their edges, and how a child position is made.

A node is a *decision* position (the player to move has ``legal_moves``), a finished game,
or a position at the move cap. Bookkeeping steps (``legal_moves`` empty, the host plays
``auto_move``) are not nodes: making a child applies the edge's move and then every forced
bookkeeping move, so they cost neither a simulation nor an evaluation.

Selection statistics live on the parent, per edge (see ``Node``). A node's own ``n`` /
``w`` count the backups through the node (its own first evaluation included) and their
sum of per-seat value vectors (seat 1 first).
"""

from __future__ import annotations

from collections.abc import Sequence

from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState
from ringrift_tasks.rules.turn import apply_move, auto_move, legal_moves
from ringrift_tasks.rules.victory import ranking


def rank_values(s: GameState) -> list[float]:
    """Per-seat values of a finished game (seat 1 first): the ranking spread linearly from
    +1 (first) to -1 (last); with two players exactly +1 / -1."""
    n = s.num_players
    out = [0.0] * n
    for r, player in enumerate(ranking(s)):
        out[player - 1] = 1.0 - 2.0 * r / (n - 1)
    return out


def play_forced(s: GameState) -> tuple[list[Move], list[Move]]:
    """Apply bookkeeping moves to ``s`` (in place) until a decision or the end of the game.

    Returns (the bookkeeping moves in order, the canonical legal moves of the position
    reached; empty when the game ended)."""
    forced: list[Move] = []
    while s.status == "active":
        legal = legal_moves(s)
        if legal:
            return forced, legal
        m = auto_move(s)
        apply_move(s, m, validate=False)
        forced.append(m)
    return forced, []


class Node:
    """One position of the tree. ``state`` is owned by the node and never mutated.

    ``kind``: ``"decision"`` (expandable), ``"terminal"`` (the game ended; ``values`` are
    the rank values), ``"capped"`` (at the step limit: a leaf valued by the evaluator) or
    ``"repeat"`` (the move changed nothing: a leaf valued as a draw, see ``child_node``).
    ``values`` is the node's own judgement per seat (rank values, or the evaluator's
    first evaluation). Until that evaluation arrives a decision/capped node is ``pending``
    and has no priors. ``forced``: the bookkeeping moves played after the edge's move.

    Per edge ``a``: ``child_n[a]`` visits, ``child_wm[a]`` the sum of the backed-up values
    of the player to move here (what selection needs), ``child_vl[a]`` pending leaves
    below it. The full per-seat sums of an edge are its child's ``w`` (each child has one
    parent). Plain lists: with tens of edges, Python beats numpy's per-call overhead.
    """

    __slots__ = (
        "state",
        "kind",
        "to_play",
        "legal",
        "priors",
        "children",
        "child_n",
        "child_wm",
        "child_vl",
        "n",
        "w",
        "values",
        "pending",
        "forced",
    )

    def __init__(self, state: GameState, legal: Sequence[Move], kind: str, forced: list[Move]):
        self.state = state
        self.kind = kind
        self.to_play = state.current_player
        self.legal: list[Move] = list(legal)
        self.forced = forced
        self.n = 0
        self.w = [0.0] * state.num_players
        self.priors: list[float] | None = None
        self.children: list[Node | None] = []
        self.child_n: list[float] = []
        self.child_wm: list[float] = []
        self.child_vl: list[float] = []
        self.values: list[float] | None = rank_values(state) if kind == "terminal" else None
        self.pending = kind != "terminal"

    @property
    def expanded(self) -> bool:
        return self.priors is not None

    def expand(self, priors: Sequence[float]) -> None:
        """Attach the evaluator's priors (one per legal move) and the empty edge stats."""
        k = len(self.legal)
        if len(priors) != k:
            raise ValueError(
                f"evaluator returned {len(priors)} priors for {k} legal moves "
                f"(player {self.to_play}, phase {self.state.phase})"
            )
        p = [max(float(x), 0.0) for x in priors]
        total = sum(p)
        self.priors = [x / total for x in p] if total > 0 else [1.0 / k] * k
        self.children = [None] * k
        self.child_n = [0.0] * k
        self.child_wm = [0.0] * k
        self.child_vl = [0.0] * k

    def value(self) -> list[float]:
        """Mean backed-up value per seat (zeros before the first backup)."""
        return [x / self.n for x in self.w] if self.n else list(self.w)

    def add(self, values: Sequence[float]) -> None:
        """Count one backup of ``values`` through this node."""
        self.n += 1
        w = self.w
        for j, v in enumerate(values):
            w[j] += v


def make_node(state: GameState, max_steps: int) -> Node:
    """A node for ``state`` (taken over, not copied), after playing its forced bookkeeping
    moves; ``capped`` once ``state.moves_played`` reaches ``max_steps``."""
    forced, legal = play_forced(state)
    if state.status != "active":
        return Node(state, (), "terminal", forced)
    kind = "capped" if state.moves_played >= max_steps else "decision"
    return Node(state, legal, kind, forced)


def root_node(state: GameState, legal: Sequence[Move]) -> Node:
    """A root for a decision position ``state`` (copied) with its canonical ``legal``
    moves; a root is always searched, even past the step limit."""
    if not legal:
        raise ValueError(
            f"search root needs legal moves (phase {state.phase}, player "
            f"{state.current_player}); the game loop plays auto_move itself"
        )
    return Node(state.copy(), legal, "decision", [])


def same_position(a: GameState, b: GameState) -> bool:
    """True if ``a`` and ``b`` differ at most in their step count (a move that changed
    nothing, such as ``process_line`` on an overlong line, which the rules offer again)."""
    return (
        a.current_player == b.current_player
        and a.phase == b.phase
        and a.status == b.status
        and a.stacks == b.stacks
        and a.markers == b.markers
        and a.collapsed == b.collapsed
        and a.rings_in_hand == b.rings_in_hand
        and a.eliminated == b.eliminated
        and a.territory == b.territory
        and a.must_move_from == b.must_move_from
        and a.chain_capture_pos == b.chain_capture_pos
        and a.pending_line_reward == b.pending_line_reward
    )


def child_node(parent: Node, a: int, max_steps: int) -> Node:
    """Create (and attach) the child of ``parent`` through edge ``a``.

    A move that leads back to the very same position (``same_position``) can only be
    repeated until the step limit, a game without a winner: its child is a ``"repeat"``
    leaf valued as a draw (0 for every seat), so a player who stands better elsewhere
    does not loop on it, and one who stands worse may take the draw."""
    s = parent.state.copy()
    move = parent.legal[a]
    apply_move(s, move, validate=False)
    if same_position(s, parent.state):
        child = Node(s, (), "repeat", [])
        child.values = [0.0] * s.num_players
        child.pending = False
    else:
        child = make_node(s, max_steps)
    parent.children[a] = child
    return child


def find_descendant(root: Node, state: GameState, legal: Sequence[Move]) -> Node | None:
    """The evaluated node of ``root``'s subtree (``root`` included) whose position is
    ``state``: same step count, same ``full_digest``, same canonical legal moves. When two
    move orders reach the position (a transposition), the one with more visits. None if
    the subtree never reached it.

    Only nodes with ``moves_played`` up to the target's are walked, so the search is short:
    the positions between two of an agent's decisions."""
    from ringrift_tasks.rules.view import full_digest

    target_step = state.moves_played
    target_digest: str | None = None
    geo = state.geo
    found: Node | None = None
    frontier = [root]
    while frontier:
        nxt: list[Node] = []
        for node in frontier:
            step = node.state.moves_played
            if step == target_step and node.kind in ("decision", "capped") and not node.pending:
                if target_digest is None:
                    target_digest = full_digest(state)
                if (
                    (found is None or node.n > found.n)
                    and full_digest(node.state) == target_digest
                    and _same_moves(node.legal, legal, geo)
                ):
                    found = node
            elif step < target_step:
                nxt.extend(c for c in node.children if c is not None)
        frontier = nxt
    return found


def _same_moves(a: Sequence[Move], b: Sequence[Move], geo: Geometry) -> bool:
    return len(a) == len(b) and all(x.key(geo) == y.key(geo) for x, y in zip(a, b, strict=True))
