"""The fixed-timestep scheduler, driven by a manual clock."""

from __future__ import annotations

from gameserver.tick import ManualClock, TickScheduler


def make(work: float = 0.0) -> tuple[TickScheduler, ManualClock, list[float]]:
    clock = ManualClock(100.0)
    starts: list[float] = []

    def step() -> None:
        starts.append(clock.now)
        clock.advance(work)

    return TickScheduler(period=0.1, step=step, clock=clock), clock, starts


def test_runs_one_tick_per_period_without_drift() -> None:
    s, clock, starts = make()
    for _ in range(50):
        delay = s.run_due()
        clock.advance(delay + 0.0007)  # sleep overshoots; deadlines must not drift with it
    assert s.ticks == 50
    assert abs(starts[-1] - starts[0] - 49 * 0.1) < 0.001
    assert s.overruns == 0 and s.skipped == 0


def test_catch_up_is_capped_and_the_rest_skipped() -> None:
    s, clock, starts = make()
    s.run_due()
    clock.advance(1.0)  # a one-second stall: 10 ticks due
    s.run_due()
    assert s.ticks == 1 + 3  # at most max_catch_up ticks back to back
    assert s.skipped == 7
    delay = s.run_due()
    assert s.ticks == 4 and abs(delay - 0.1) < 1e-9  # then back on schedule, no burst


def test_overruns_are_counted() -> None:
    s, clock, _ = make(work=0.15)
    s.run_due()  # each tick overruns, so the next is already due: three, then the cap
    assert s.ticks == 3 and s.overruns == 3
    assert s.skipped == 2  # 0.45 s of work for 0.3 s of schedule
    assert abs(s.stats()["tick_ms_max"] - 150.0) < 1e-6
