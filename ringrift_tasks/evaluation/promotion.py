"""The promotion gate: candidate against best, head to head, then one registry transaction.

``run_promotion_gate`` plays the candidate against the config's best in batches of whole
seat rotations (match ids ``gate-<config>-<candidate[:12]>-<best[:12]>/<group>/<round>``,
so a killed gate resumes from the Elo log), scores the rounds in order and asks
``gate.decide`` after each batch; it stops as soon as the test decides (or the
``promotion.max_games`` cap brings the Wilson fallback). In 3- and 4-player configs the
other seats are filled with the first baselines and the candidate scores 1 / 0 / 1/2 by
finishing above / below / level with the best.

On acceptance ``promote`` calls ``ModelRegistry.promote``: ONE transaction that locks the
config's best pointer, enforces ``promotion.cooldown_s`` and ``promotion.max_per_day``
against the promotion history, archives the old best with the gate's evidence (games,
score, test statistic, decision) and moves the pointer. Two gates racing for one config
are serialised by that lock: the second sees the first's promotion and is refused by the
cooldown. A config without a best takes its first candidate without a gate
(``method="bootstrap"`` in the evidence), through the same transaction.

``rollback`` restores the best that the current best replaced, with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ringrift_tasks.evaluation.distribution import model_lease
from ringrift_tasks.evaluation.gate import GateDecision, decide
from ringrift_tasks.evaluation.match import (
    MatchReport,
    Participant,
    ResourceWait,
    model_participant,
    round_of,
    rounds_for,
    run_matches,
    schedule_group,
)
from ringrift_tasks.evaluation.tournament import RunOptions, baselines
from ringrift_tasks.rules.state import GameConfig

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig
    from ringrift_tasks.store import Match, ModelVersion, PromotionOutcome, Store


class PromotionError(ValueError):
    """A gate that cannot run: unknown candidate, another config's model, a non-candidate."""


def gate_id(config: str, candidate_id: str, best_id: str) -> str:
    """``gate-<config>-<candidate[:12]>-<best[:12]>``: one gate per (candidate, best)."""
    return f"gate-{config}-{candidate_id[:12]}-{best_id[:12]}"


def score_of(match: Match, agent: str, opponent: str) -> float:
    """``agent``'s head-to-head score against ``opponent`` in one match: 1 if it ranked
    above, 0 below, 1/2 in the same tier."""
    tier = {a: k for k, t in enumerate(match.ranking) for a in t}
    if agent not in tier or opponent not in tier:
        raise PromotionError(f"match {match.match_id}: {agent} or {opponent} did not play")
    if tier[agent] == tier[opponent]:
        return 0.5
    return 1.0 if tier[agent] < tier[opponent] else 0.0


def gate_scores(store: Store, config: str, gid: str, candidate: str, best: str) -> list[float]:
    """The candidate's scores of gate ``gid`` in round order, up to the first missing
    round (a hole left by a killed worker is filled by the rerun before later rounds count,
    so the decision never depends on which games happened to finish)."""
    by_round = {
        round_of(m.match_id): m
        for m in store.elo.matches(config)
        if m.match_id.startswith(gid + "/")
    }
    scores = []
    r = 0
    while r in by_round:
        scores.append(score_of(by_round[r], candidate, best))
        r += 1
    return scores


@dataclass
class GateResult:
    """What a gate did: its decision, the registry's outcome (None when it did not try to
    promote) and the match reports of its batches."""

    config: str
    candidate_id: str
    best_id: str | None
    gate_id: str
    decision: GateDecision | None
    outcome: PromotionOutcome | None = None
    reports: list[MatchReport] = field(default_factory=list)
    reason: str = ""

    @property
    def promoted(self) -> bool:
        return self.outcome is not None and self.outcome.promoted


def promote(
    store: Store,
    config: str,
    candidate_id: str,
    evidence: dict[str, Any],
    *,
    cooldown_s: float,
    max_per_day: int,
    now: float | None = None,
    expected_best: str | None | object = ...,
) -> PromotionOutcome:
    """Make ``candidate_id`` the best of ``config`` in one locking registry transaction;
    refused (``promoted=False`` with the reason) by the cooldown, the daily cap, or — when
    ``expected_best`` is given — a best that is no longer the one the gate played."""
    return store.registry.promote(
        config,
        candidate_id,
        evidence,
        cooldown_s=cooldown_s,
        max_per_day=max_per_day,
        now=now,
        expected_best=expected_best,
    )


def rollback(store: Store, config: str, reason: str, *, now: float | None = None) -> ModelVersion:
    """Restore the previous best of ``config`` (``ringrift promote --rollback CONFIG``);
    the current best is archived with ``{"rollback": reason}``. Returns the restored model."""
    if not reason.strip():
        raise PromotionError(f"rollback {config}: a reason is required")
    return store.registry.rollback(config, reason, now=now)


def _fillers(cfg: RingriftConfig, num_players: int) -> list[Participant]:
    extra = baselines(cfg)[: num_players - 2]
    if len(extra) < num_players - 2:
        raise PromotionError(
            f"a {num_players}-player gate needs {num_players - 2} baselines to fill the "
            f"seats, tournament.baselines has {len(cfg.tournament.baselines)}"
        )
    return extra


def run_promotion_gate(
    cfg: RingriftConfig,
    store: Store,
    config: str,
    candidate_id: str,
    *,
    now: float | None = None,
    batch_games: int | None = None,
    options: RunOptions | None = None,
) -> GateResult:
    """Gate ``candidate_id`` against the best of ``config`` and promote it if it passes.

    ``batch_games``: games per batch between two looks at the test (default: two seat
    rotations per worker). Stops early, with ``reason`` and no decision, if a batch could
    not be completed (resources, a failed worker): the rerun continues the same gate.
    """
    pc = cfg.promotion
    opts = options or RunOptions.from_config(cfg)
    cand = store.registry.get(candidate_id)
    if cand is None or cand.config != config:
        raise PromotionError(f"candidate {candidate_id[:12]}: not a registered {config} model")
    if cand.status != "candidate":
        raise PromotionError(f"candidate {candidate_id[:12]}: status is {cand.status}")
    best = store.registry.best(config)
    if best is None:
        evidence = {"method": "bootstrap", "decision": "promote", "games": 0}
        outcome = promote(
            store,
            config,
            candidate_id,
            evidence,
            cooldown_s=pc.cooldown_s,
            max_per_day=pc.max_per_day,
            now=now,
            expected_best=None,
        )
        _log_decision(store, config, outcome.promoted, f"bootstrap: {outcome.reason}", evidence)
        return GateResult(config, candidate_id, None, "", None, outcome, reason="bootstrap")

    k = GameConfig.parse(config).num_players
    me = model_participant(cand, sims=opts.model_sims)
    them = model_participant(best, sims=opts.model_sims)
    group = [me, them, *_fillers(cfg, k)]
    gid = gate_id(config, candidate_id, best.model_id)
    result = GateResult(config, candidate_id, best.model_id, gid, None)
    batch = rounds_for(batch_games or 2 * k * max(1, opts.workers), k)
    cap = rounds_for(pc.max_games, k)

    def look() -> GateDecision:
        scores = gate_scores(store, config, gid, me.name, them.name)
        return decide(
            scores,
            elo_margin=pc.elo_margin,
            alpha=pc.alpha,
            beta=pc.beta,
            max_games=pc.max_games,
            wilson_lower_bound=pc.wilson_lower_bound,
        )

    decision = look()
    # Lease both model files while the games run, so pruning cannot remove them.
    with ExitStack() as leases:
        for model_id in (candidate_id, best.model_id):
            leases.enter_context(model_lease(cfg.paths.models, model_id, gid))
        while not decision.decided:
            target = min(cap, decision.games + batch)
            report = run_matches(
                store,
                schedule_group(gid, config, group, target),
                workers=opts.workers,
                max_steps=opts.max_steps,
                source=opts.source,
                guard=ResourceWait(cfg.resources, cfg.home) if opts.resource_guard else None,
                progress=opts.progress,
                start_method=opts.start_method,
                torch_threads=cfg.resources.worker_torch_threads,
                opening_plies=opts.opening_plies,
            )
            result.reports.append(report)
            decision = look()
            if not report.complete and not decision.decided:
                result.decision = decision
                why = "; ".join([*report.stopped.values(), *report.failed.values()])
                result.reason = f"gate interrupted after {decision.games} games: {why}"
                return result
    result.decision = decision
    evidence = {**decision.evidence(), "gate_id": gid, "best": best.model_id}
    if not decision.accepted:
        result.reason = f"rejected ({decision.method})"
        _log_decision(store, config, False, result.reason, evidence)
        return result
    # The registry re-reads the best under its lock and refuses if it is no longer the
    # one these games were played against.
    result.outcome = promote(
        store,
        config,
        candidate_id,
        evidence,
        cooldown_s=pc.cooldown_s,
        max_per_day=pc.max_per_day,
        now=now,
        expected_best=best.model_id,
    )
    result.reason = result.outcome.reason
    _log_decision(store, config, result.outcome.promoted, result.reason, evidence)
    return result


def _log_decision(
    store: Store, config: str, passed: bool, reason: str, evidence: dict[str, Any]
) -> None:
    """Keep the verdict where `ringrift status` and the UI page show the last decision."""
    store.decisions.record(config, "promotion", passed, reason, evidence=evidence)


def promotion_history(store: Store, config: str) -> Sequence[dict[str, Any]]:
    """Best-pointer changes of ``config``, oldest first, with their evidence."""
    return store.registry.history(config)
