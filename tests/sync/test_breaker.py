"""The per-node circuit breaker (pure rules)."""

from __future__ import annotations

import pytest

from ringrift_tasks.sync.breaker import (
    Breaker,
    BreakerPolicy,
    admit,
    on_failure,
    on_success,
    retry_in,
)

POLICY = BreakerPolicy(failures=3, cooldown_s=60.0)


def test_the_breaker_opens_after_n_consecutive_failures() -> None:
    b = Breaker()
    for t in (1.0, 2.0):
        b = on_failure(b, POLICY, t)
        assert b.state == "closed"
    b = on_failure(b, POLICY, 3.0)
    assert (b.state, b.consecutive_failures, b.opened_at) == ("open", 3, 3.0)


def test_an_open_breaker_refuses_until_the_cooldown_then_admits_one_trial() -> None:
    b = Breaker("open", 3, 100.0)
    assert admit(b, POLICY, 159.0) == (False, b)
    assert retry_in(b, POLICY, 130.0) == 30.0
    ok, trial = admit(b, POLICY, 160.0)
    assert ok and trial.state == "half_open"


def test_a_failed_trial_reopens_and_a_success_closes() -> None:
    trial = Breaker("half_open", 3, 100.0)
    again = on_failure(trial, POLICY, 170.0)
    assert (again.state, again.opened_at) == ("open", 170.0)
    assert on_success() == Breaker("closed", 0, None)


def test_a_success_resets_the_failure_count() -> None:
    b = on_failure(on_failure(Breaker(), POLICY, 1.0), POLICY, 2.0)
    b = on_failure(on_success(), POLICY, 3.0)
    assert (b.state, b.consecutive_failures) == ("closed", 1)


@pytest.mark.parametrize(("failures", "cooldown"), [(0, 1.0), (1, -1.0)])
def test_a_nonsense_policy_is_refused(failures: int, cooldown: float) -> None:
    with pytest.raises(ValueError, match="breaker"):
        BreakerPolicy(failures, cooldown)
