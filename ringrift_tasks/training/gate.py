"""The training gate: should this config train now?

Four conditions, all required (the reference loop's ``should_train``):

* **new games**: at least ``training.min_new_games`` games merged since the last training;
* **interval**: at least ``training.min_interval_s`` seconds since the last training;
* **data quality**: the quality score of the new games (``quality.assess_window``) reaches
  ``training.min_data_quality`` and their parity failure rate stays within
  ``training.max_parity_failure_rate``;
* **resources**: the resource guard reports nothing critical.

:func:`decide_training` is the pure decision over measured numbers; :func:`training_gate`
measures them (pool counts, the decision log, a replay of the new games, psutil), decides,
records the verdict in the decision log (gate ``"training"``) and returns it. The quality
check replays games, so it runs only when the cheap checks have passed; otherwise the
evidence says it was not assessed.

"Last training" is the newest passed training gate or registered model of the config
(:func:`ringrift_tasks.status.last_training_time`): a passed verdict starts a training, so
it resets both the new-game count and the interval.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ringrift_tasks.rules.state import GameConfig
from ringrift_tasks.status import last_training_time
from ringrift_tasks.training.quality import QualityReport, assess_window

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig, TrainingConfig
    from ringrift_tasks.resources import ResourceReport
    from ringrift_tasks.store.db import Store

GATE = "training"
# The quality check replays games; the newest this many new games are a fair sample.
QUALITY_SAMPLE = 500


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Train or not, why (one line naming every failed condition), and the figures."""

    config: str
    passed: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def decide_training(
    config: str,
    *,
    new_games: int,
    since_last_s: float,
    training: TrainingConfig,
    quality: QualityReport | None,
    resources_ok: bool,
    resources_reason: str = "",
) -> GateVerdict:
    """Decide from measured figures. ``since_last_s``: seconds since the last training
    (``math.inf`` if it never trained). ``quality``: the new games' quality report, or None
    when it was not assessed (then the verdict cannot pass)."""
    failed: list[str] = []
    if new_games < training.min_new_games:
        failed.append(f"{new_games} new games < {training.min_new_games} required")
    if since_last_s < training.min_interval_s:
        failed.append(
            f"last training {since_last_s:.0f}s ago < {training.min_interval_s}s interval"
        )
    if not resources_ok:
        failed.append(f"resources: {resources_reason or 'critical'}")
    if quality is None:
        if not failed:
            failed.append("data quality not assessed")
    elif not quality.accepted:
        failed.append(quality.reason)
    evidence: dict[str, Any] = {
        "new_games": new_games,
        "min_new_games": training.min_new_games,
        "since_last_s": None if math.isinf(since_last_s) else round(since_last_s, 1),
        "min_interval_s": training.min_interval_s,
        "resources_ok": resources_ok,
        "quality": None if quality is None else quality.to_dict(),
    }
    if failed:
        return GateVerdict(config, False, "; ".join(failed), evidence)
    assert quality is not None
    reason = (
        f"{new_games} new games >= {training.min_new_games}, "
        + (
            "never trained"
            if math.isinf(since_last_s)
            else f"last training {since_last_s:.0f}s ago"
        )
        + f", {quality.reason}, resources ok"
    )
    return GateVerdict(config, True, reason, evidence)


def training_gate(
    cfg: RingriftConfig,
    store: Store,
    config: str,
    now: float | None = None,
    *,
    resources: ResourceReport | None = None,
    run_id: str | None = None,
    force: bool = False,
) -> GateVerdict:
    """Measure, decide and record the training verdict of ``config`` at ``now`` (Unix
    seconds, default the clock). ``resources``: a report to use instead of sampling this
    machine. ``force``: pass whatever the figures say (the verdict says it was forced and
    keeps the figures). Raises ``ValueError`` for a config name that does not parse."""
    GameConfig.parse(config)
    now = time.time() if now is None else now
    last = last_training_time(store, config)
    since = math.inf if last <= 0 else max(0.0, now - last)
    new_games = store.pool.count_since(config, last)
    if resources is None:
        from ringrift_tasks.resources import check_resources

        resources = check_resources(limits=cfg.resources, path=cfg.home)
    t = cfg.training
    cheap_ok = new_games >= t.min_new_games and since >= t.min_interval_s and resources.ok
    quality = None
    if cheap_ok or force:
        sample = store.pool.latest_window(config, min(max(new_games, 1), QUALITY_SAMPLE))
        quality = assess_window(
            config,
            sample,
            min_quality=t.min_data_quality,
            max_parity_failure_rate=t.max_parity_failure_rate,
        )
    verdict = decide_training(
        config,
        new_games=new_games,
        since_last_s=since,
        training=t,
        quality=quality,
        resources_ok=resources.ok,
        resources_reason=resources.reason,
    )
    if force and not verdict.passed:
        verdict = GateVerdict(
            config, True, f"forced (would refuse: {verdict.reason})", verdict.evidence
        )
    store.decisions.record(
        config,
        GATE,
        verdict.passed,
        verdict.reason,
        evidence=verdict.evidence,
        run_id=run_id,
        at=now,
    )
    return verdict
