"""How long to wait before trying again: one policy for every retry, server and client.

Capped exponential backoff with full jitter: the wait before retry n is drawn uniformly from
[0, min(cap, first·2^(n-1))]. The spread matters more than the mean: when a gateway restarts or
the bus comes back, every phone, relay and subscriber that lost it retries at once, and waits
that merely doubled would keep them arriving in step. Full jitter scatters them over the whole
window (see "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).

Only the delays live here, so the client (which never imports the backend) and the server share
them; each caller keeps its own loop, because what counts as a failure differs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import count

import msgspec

# 2**60 times any sensible first delay is past every cap; it keeps a long outage's attempt
# counts from overflowing a float.
_MAX_DOUBLINGS = 60


class Backoff(msgspec.Struct, frozen=True):
    first_s: float  # the longest wait before the first retry
    cap_s: float  # no wait is longer than this, however many attempts failed

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.cap_s:
            raise ValueError("a backoff needs 0 < first_s <= cap_s")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry `attempt` (1 after the first failure)."""
        return min(self.cap_s, self.first_s * 2.0 ** min(max(attempt, 1) - 1, _MAX_DOUBLINGS))

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """The wait before retry `attempt`, drawn in [0, ceiling]; `draw` is a [0, 1) source, for tests."""
        return self.ceiling(attempt) * draw()

    def delays(self, draw: Callable[[], float] = random.random) -> Iterator[float]:
        """Waits for a loop that retries until it succeeds; take a fresh one after a success."""
        for attempt in count(1):
            yield self.delay(attempt, draw)
