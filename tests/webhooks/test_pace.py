"""The worker's pace (AINAS_WEBHOOK_RATE): at most `rate` messages a second per instance, with
no burst from slots left unused; 0 sends at once."""

import pytest

from app.webhooks.worker import Pace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_turns_taken_at_once_are_spread_one_interval_apart() -> None:
    clock = Clock()
    pace = Pace(4, clock)
    assert [pace.wait() for _ in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_unused_slots_do_not_add_up_to_a_burst() -> None:
    clock = Clock()
    pace = Pace(10, clock)
    assert pace.wait() == 0.0
    clock.now += 60  # a quiet minute
    assert pace.wait() == 0.0
    assert pace.wait() == pytest.approx(0.1)


def test_rate_zero_never_waits() -> None:
    pace = Pace(0, Clock())
    assert {pace.wait() for _ in range(1000)} == {0.0}
