from __future__ import annotations

import random
from itertools import islice

import pytest

from schema.backoff import Backoff


def test_the_ceiling_doubles_from_the_first_wait_up_to_the_cap() -> None:
    policy = Backoff(first_s=0.5, cap_s=30.0)
    assert [policy.ceiling(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_long_outage_stays_at_the_cap_without_overflowing() -> None:
    assert Backoff(first_s=0.05, cap_s=2.0).ceiling(100_000) == 2.0


def test_waits_are_drawn_from_zero_to_the_ceiling() -> None:
    policy = Backoff(first_s=1.0, cap_s=8.0)
    assert policy.delay(3, draw=lambda: 0.0) == 0.0
    assert policy.delay(3, draw=lambda: 0.5) == 2.0
    assert policy.delay(3, draw=lambda: 0.999) == pytest.approx(3.996)


def test_full_jitter_spreads_retries_over_the_whole_window() -> None:
    # Clients that failed together must not retry together: their waits cover [0, ceiling].
    draws = [Backoff(first_s=1.0, cap_s=4.0).delay(3, random.Random(seed).random) for seed in range(400)]
    assert min(draws) < 0.4
    assert max(draws) > 3.6
    assert all(0 <= wait < 4.0 for wait in draws)


def test_successive_delays_follow_the_attempts() -> None:
    waits = list(islice(Backoff(first_s=0.05, cap_s=2.0).delays(draw=lambda: 1.0), 8))
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


@pytest.mark.parametrize(("first_s", "cap_s"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_a_policy_that_cannot_wait_sensibly_is_refused(first_s: float, cap_s: float) -> None:
    with pytest.raises(ValueError, match="first_s"):
        Backoff(first_s=first_s, cap_s=cap_s)
