"""The heuristic agent: a hand-written evaluation and a one-ply lookahead.

The evaluation scores every seat in one pass over the board (``seat_strengths``), in
"points" of roughly one ring's worth, from these facts:

* progress to the two real victories: rings eliminated (credited) against
  ``victory_threshold`` and collapsed spaces owned against ``territory_victory_minimum``,
  each linear plus a convex term, because the last rings before a threshold decide games;
* material: own-colour rings still in play (in hand + anywhere on the board);
* stack control: stacks controlled, cap heights (capped at 5: taller caps add little
  but risk much) and opponents' rings buried under own caps;
* markers, and line threats: maximal runs of own markers one or two short of the line
  length (a line collapses into territory and earns an elimination);
* capture threats: stacks a seat can overtake now (by cap height, with a landing beyond),
  and its own stacks others can overtake. The seat to move will act first, so its threats
  count in full and the others' at half (and the other way round for exposure).

A seat's score is its strength minus its opponents' (in 3-4 player games the mean of the
strongest opponent and the average opponent, so a leader is feared but a pile-on is not
assumed). A finished game scores ``win`` for the winner. ``HeuristicAgent`` applies every
legal move to a copy, scores the result for the player to move and plays the best, ties
broken by the rng; on big boards it scores a bounded sample (all captures and decisions
first), which keeps square19/hexagonal practical.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache

from ringrift_tasks.ai.agent import Choice
from ringrift_tasks.rules.board import Geometry
from ringrift_tasks.rules.capture import capture_segments_from
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState, cap_height
from ringrift_tasks.rules.turn import apply_move

# Move types that are cheap to have many of and rarely decisive one by one: these are the
# ones sampled when a position offers more than ``max_candidates`` moves.
_BULK_TYPES = frozenset({"place_ring", "move_stack"})


@dataclass(frozen=True, slots=True)
class HeuristicWeights:
    """Evaluation weights, in points (about one ring's worth each). See the module doc."""

    win: float = 1000.0
    eliminated: float = 12.0  # per victory threshold reached (linear part)
    eliminated_sq: float = 12.0  # convex part: (fraction of threshold) ** 2
    territory: float = 12.0  # per territory minimum reached (linear part)
    territory_sq: float = 12.0
    material: float = 4.0  # per starting ring supply still in play
    stacks: float = 0.5  # per controlled stack
    cap: float = 0.25  # per cap ring (up to 5 per stack)
    prisoners: float = 0.25  # per opponent ring buried under an own cap
    markers: float = 0.1  # per marker
    line_near: float = 1.0  # per run one marker short of a line
    line_partial: float = 0.3  # per run two markers short
    threat: float = 0.6  # per cap ring of a stack this seat can overtake
    exposure: float = 0.8  # per cap ring of an own stack others can overtake


DEFAULT_WEIGHTS = HeuristicWeights()


def seat_strengths(s: GameState, w: HeuristicWeights = DEFAULT_WEIGHTS) -> list[float]:
    """Absolute strength of every seat (index = player number, index 0 unused)."""
    n = s.num_players
    out = [0.0] * (n + 1)
    if s.status != "active":
        if s.winner is not None:
            out[s.winner] = w.win
        return out

    threshold = max(1, s.victory_threshold)
    terr_min = max(1, s.territory_victory_minimum)
    supply = max(1, s.geo.spec.rings_per_player)
    to_move = s.current_player

    collapsed = [0] * (n + 1)
    for owner in s.collapsed.values():
        if 0 < owner <= n:
            collapsed[owner] += 1
    markers = [0] * (n + 1)
    for owner in s.markers.values():
        if 0 < owner <= n:
            markers[owner] += 1

    on_board = [0] * (n + 1)
    stack_score = [0.0] * (n + 1)
    threat = [0.0] * (n + 1)
    stacks = s.stacks
    for cell, st in stacks.items():
        top = st[0]
        cap = cap_height(st)
        for owner in st:
            on_board[owner] += 1
        prisoners = sum(1 for owner in st[cap:] if owner != top)
        stack_score[top] += w.stacks + w.cap * min(cap, 5) + w.prisoners * prisoners
        seen: set[int] = set()
        for target, _landing in capture_segments_from(s, cell, top):
            if target in seen:
                continue
            seen.add(target)
            victim = stacks[target]
            if victim[0] == top:
                continue
            stake = cap_height(victim)
            if top == to_move:
                threat[top] += w.threat * stake
                threat[victim[0]] -= w.exposure * stake
            else:
                threat[top] += 0.5 * w.threat * stake
                threat[victim[0]] -= 0.5 * w.exposure * stake

    lines = [0.0] * (n + 1)
    need = s.line_length
    marker_map = s.markers
    for cell, owner in marker_map.items():
        for fwd, back in _axes(s.geo):
            # Count each maximal run once, from its backward end.
            if marker_map.get(back[cell]) == owner:
                continue
            length = 1
            nxt = fwd[cell]
            while marker_map.get(nxt) == owner:
                length += 1
                nxt = fwd[nxt]
            if length == 1:
                continue
            short = need - length
            if short <= 1:
                lines[owner] += w.line_near
            elif short == 2:
                lines[owner] += w.line_partial

    eliminated = s.eliminated
    hand = s.rings_in_hand
    for p in range(1, n + 1):
        e = eliminated[p] / threshold
        t = collapsed[p] / terr_min
        out[p] = (
            w.eliminated * e
            + w.eliminated_sq * e * e
            + w.territory * t
            + w.territory_sq * t * t
            + w.material * (hand[p] + on_board[p]) / supply
            + stack_score[p]
            + w.markers * markers[p]
            + lines[p]
            + threat[p]
        )
    return out


@cache
def _axes(geo: Geometry) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Per line axis, each cell's (forward, backward) neighbour (-1 off the board)."""
    index = {d: i for i, d in enumerate(geo.directions)}
    out = []
    for d, i in index.items():
        j = index[tuple(-v for v in d)]
        if i < j:  # one of each opposite pair
            out.append(
                (
                    tuple(nb[i] for nb in geo.neighbors),
                    tuple(nb[j] for nb in geo.neighbors),
                )
            )
    return tuple(out)


def relative_scores(strengths: Sequence[float], num_players: int) -> list[float]:
    """Each seat's strength minus its opponents' (index = player number, 0 unused).

    Two players: the difference. More: minus the mean of (strongest opponent, average
    opponent)."""
    out = [0.0] * (num_players + 1)
    for p in range(1, num_players + 1):
        others = [strengths[q] for q in range(1, num_players + 1) if q != p]
        if len(others) == 1:
            out[p] = strengths[p] - others[0]
        else:
            out[p] = strengths[p] - 0.5 * (max(others) + sum(others) / len(others))
    return out


def evaluate(s: GameState, player: int, w: HeuristicWeights = DEFAULT_WEIGHTS) -> float:
    """Score of ``s`` for ``player`` in points (positive: ``player`` is ahead)."""
    return relative_scores(seat_strengths(s, w), s.num_players)[player]


class HeuristicAgent:
    """One-ply lookahead on ``evaluate``.

    ``temperature``: 0 plays the best move (ties broken by the rng); > 0 samples from
    ``softmax(score / (policy_scale * temperature))``. The returned policy is always
    ``softmax(score / policy_scale)`` over the scored moves, so a self-play temperature
    ``T`` applied to it (``policy ** (1/T)``) is the same softmax at ``policy_scale * T``.
    ``values``: ``tanh(score / value_scale)`` per seat after the chosen move.
    ``max_candidates``: at most this many moves are scored per decision (0: all).
    """

    name = "heuristic"

    def __init__(
        self,
        *,
        temperature: float = 0.0,
        policy_scale: float = 1.0,
        value_scale: float = 10.0,
        max_candidates: int = 64,
        weights: HeuristicWeights | None = None,
        **weight_overrides: float,
    ) -> None:
        if temperature < 0 or policy_scale <= 0 or value_scale <= 0 or max_candidates < 0:
            raise ValueError(
                "HeuristicAgent: expected temperature >= 0, policy_scale > 0, value_scale > 0, "
                f"max_candidates >= 0; got {temperature}, {policy_scale}, {value_scale}, "
                f"{max_candidates}"
            )
        known = {f.name for f in fields(HeuristicWeights)}
        unknown = sorted(set(weight_overrides) - known)
        if unknown:
            raise ValueError(f"HeuristicAgent: unknown option(s) {unknown}")
        base = weights or DEFAULT_WEIGHTS
        values = {f.name: getattr(base, f.name) for f in fields(HeuristicWeights)}
        values.update({k: float(v) for k, v in weight_overrides.items()})
        self.weights = HeuristicWeights(**values)
        self.temperature = float(temperature)
        self.policy_scale = float(policy_scale)
        self.value_scale = float(value_scale)
        self.max_candidates = int(max_candidates)

    def candidates(self, legal: Sequence[Move], rng: random.Random) -> list[int]:
        """Indices of the moves to score: all of them, or a bounded sample that keeps every
        capture and decision move (those first) and fills up with placements/moves."""
        cap = self.max_candidates
        if cap == 0 or len(legal) <= cap:
            return list(range(len(legal)))
        key = [i for i, m in enumerate(legal) if m.type not in _BULK_TYPES]
        bulk = [i for i, m in enumerate(legal) if m.type in _BULK_TYPES]
        if len(key) >= cap:
            return sorted(rng.sample(key, cap))
        return sorted(key + rng.sample(bulk, cap - len(key)))

    def choose(self, state: GameState, legal: Sequence[Move], rng: random.Random) -> Choice:
        if not legal:
            raise ValueError("HeuristicAgent.choose: no legal moves (the loop plays auto_move)")
        me = state.current_player
        n = state.num_players
        idx = self.candidates(legal, rng)
        scores: list[float] = []
        seat_scores: list[list[float]] = []
        for i in idx:
            child = state.copy()
            apply_move(child, legal[i], validate=False)
            rel = relative_scores(seat_strengths(child, self.weights), n)
            seat_scores.append(rel)
            scores.append(rel[me])

        policy = [0.0] * len(legal)
        for i, p in zip(idx, _softmax(scores, self.policy_scale), strict=True):
            policy[i] = p
        if self.temperature > 0:
            probs = _softmax(scores, self.policy_scale * self.temperature)
            k = rng.choices(range(len(idx)), weights=probs)[0]
        else:
            best = max(scores)
            k = rng.choice([j for j, v in enumerate(scores) if v >= best - 1e-9])
        rel = seat_scores[k]
        values = tuple(math.tanh(rel[p] / self.value_scale) for p in range(1, n + 1))
        return Choice(legal[idx[k]], tuple(policy), values)


def _softmax(scores: Sequence[float], scale: float) -> list[float]:
    top = max(scores)
    ex = [math.exp((v - top) / scale) for v in scores]
    total = sum(ex)
    return [e / total for e in ex]
