"""A fixed-timestep scheduler with an injected clock.

Invariants:
- Deadlines advance by exactly one period from a monotonic start, so the rate does not drift
  with sleep overshoot (a naive sleep(period) loop runs measurably slower than its rate).
- After a stall, at most `max_catch_up` ticks run back to back; past that the schedule is reset
  to now and the lost ticks are counted as skipped, never replayed (no spiral of death).
- A tick that takes longer than one period is counted as an overrun.
- Every tick's duration is counted in one of fixed buckets (one bisect and one increment a
  tick), read by the /metrics endpoint as a histogram; the last `window` durations are kept
  for /healthz's percentiles.
The scheduler never sleeps itself: run_due() returns how long the caller may sleep, so the same
code runs under eventlet in the server and under ManualClock in tests.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import deque
from collections.abc import Callable

import attr

log = logging.getLogger(__name__)

# Upper bounds (seconds, inclusive) of the tick duration's buckets, and one more for the rest:
# from a near-empty tick to a stall, with the periods of 30, 60 and 120 Hz in between.
TICK_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0083,
    0.01,
    0.0167,
    0.025,
    0.0333,
    0.05,
    0.1,
    0.25,
    1.0,
)


@attr.s(auto_attribs=True, slots=True, eq=False)  # a clock: compared by identity
class ManualClock:
    """A clock for tests: time moves only when the test says so."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[index]


@attr.s(auto_attribs=True, slots=True, eq=False)
class TickScheduler:
    period: float
    step: Callable[[], object]
    clock: Callable[[], float]
    max_catch_up: int = 3
    window: int = 1800  # tick durations kept for percentiles (a minute at 30 Hz)
    next_deadline: float | None = attr.ib(init=False, default=None)
    ticks: int = attr.ib(init=False, default=0)
    overruns: int = attr.ib(init=False, default=0)
    skipped: int = attr.ib(init=False, default=0)
    durations: deque[float] = attr.ib(init=False)
    intervals: deque[float] = attr.ib(init=False)
    # ticks by duration: bucket_counts[i] counts those in (TICK_BUCKETS[i-1], TICK_BUCKETS[i]],
    # the last one those over TICK_BUCKETS[-1]; not cumulative
    bucket_counts: list[int] = attr.ib(init=False)
    duration_sum: float = attr.ib(init=False, default=0.0)  # seconds, every tick's
    _last_start: float | None = attr.ib(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.durations = deque(maxlen=self.window)
        self.intervals = deque(maxlen=self.window)
        self.bucket_counts = [0] * (len(TICK_BUCKETS) + 1)

    def run_due(self) -> float:
        """Run the ticks that are due; return the seconds until the next deadline."""
        now = self.clock()
        if self.next_deadline is None:
            self.next_deadline = now
        ran = 0
        while now >= self.next_deadline and ran < self.max_catch_up:
            start = now
            self.step()
            now = self.clock()
            took = now - start
            self.durations.append(took)
            self.bucket_counts[bisect_left(TICK_BUCKETS, took)] += 1
            self.duration_sum += took
            if self._last_start is not None:
                self.intervals.append(start - self._last_start)
            self._last_start = start
            self.ticks += 1
            ran += 1
            if took > self.period:
                self.overruns += 1
                log.warning(
                    "tick %d took %.1f ms (period %.1f ms)", self.ticks, took * 1e3, self.period * 1e3
                )
            self.next_deadline += self.period
        if now >= self.next_deadline:
            behind = int((now - self.next_deadline) / self.period) + 1
            self.skipped += behind
            log.warning("tick loop %d ticks behind; skipping them", behind)
            self.next_deadline = now + self.period
        return max(0.0, self.next_deadline - now)

    def stats(self) -> dict[str, float]:
        d = list(self.durations)
        return {
            "ticks": self.ticks,
            "overruns": self.overruns,
            "skipped": self.skipped,
            "tick_ms_p50": percentile(d, 50) * 1e3,
            "tick_ms_p99": percentile(d, 99) * 1e3,
            "tick_ms_max": max(d, default=0.0) * 1e3,
            "interval_ms_p99": percentile(list(self.intervals), 99) * 1e3,
        }
