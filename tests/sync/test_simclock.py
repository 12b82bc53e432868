from datetime import UTC, datetime, timedelta

import pytest

from sync.simclock import ScaledClock, WallClock, clock_from_env


def test_without_environment_the_wall_clock_is_used() -> None:
    clock = clock_from_env({})
    assert isinstance(clock, WallClock)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1


def test_scaled_clock_is_shared_through_the_environment() -> None:
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    parent = ScaledClock(start=start, epoch=1_000.0, rate=60.0)
    child = clock_from_env(parent.env())
    assert child == parent
    # one real second later the simulated clock has moved a minute
    assert isinstance(child, ScaledClock)
    moved = ScaledClock(start=start, epoch=child.epoch - 1.0, rate=60.0)
    assert abs((moved.now() - child.now()) - timedelta(minutes=1)) < timedelta(seconds=2)


@pytest.mark.parametrize(
    "env",
    [
        {"RUSHLINE_SIM_START": "2026-11-25T08:00:00"},  # no zone
        {"RUSHLINE_SIM_START": "2026-11-25T08:00:00+00:00", "RUSHLINE_SIM_RATE": "0"},
        {"RUSHLINE_SIM_START": "2026-11-25T08:00:00+00:00", "RUSHLINE_SIM_RATE": "fast"},
    ],
)
def test_bad_clock_environment_is_one_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        clock_from_env(env)
