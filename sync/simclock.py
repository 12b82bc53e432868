"""One clock for every process of a floor, real or simulated.

The demo runs a shift faster than real time. Every process (central server, agents,
simulated pickers) must agree on "now", so the simulated clock is defined by three
environment variables rather than by shared state:

- ``RUSHLINE_SIM_START``: the simulated time at the reference instant (ISO 8601 with zone);
- ``RUSHLINE_SIM_EPOCH``: the reference instant as a Unix timestamp (wall clock);
- ``RUSHLINE_SIM_RATE``: simulated seconds per real second (e.g. ``60``).

``now = start + (time.time() - epoch) * rate``. Without them, the wall clock is used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.models import parse_time

ENV_START = "RUSHLINE_SIM_START"
ENV_EPOCH = "RUSHLINE_SIM_EPOCH"
ENV_RATE = "RUSHLINE_SIM_RATE"


class WallClock:
    """The real time, in UTC."""

    rate = 1.0

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def sleep_sim(self, seconds: float) -> None:
        """Sleep ``seconds`` of clock time."""
        time.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class ScaledClock:
    """Simulated time running ``rate`` times faster than the wall clock from ``epoch``."""

    start: datetime
    epoch: float
    rate: float

    def now(self) -> datetime:
        """The simulated time now."""
        return self.start + timedelta(seconds=(time.time() - self.epoch) * self.rate)

    def sleep_sim(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time (``seconds / rate`` real seconds)."""
        time.sleep(max(0.0, seconds) / self.rate)

    def env(self) -> dict[str, str]:
        """The environment variables that give a child process this same clock."""
        return {
            ENV_START: self.start.isoformat(),
            ENV_EPOCH: repr(self.epoch),
            ENV_RATE: repr(self.rate),
        }


Clock = WallClock | ScaledClock


def clock_from_env(environ: Mapping[str, str] | None = None) -> Clock:
    """The floor clock named by the environment, or the wall clock when none is set."""
    env = os.environ if environ is None else environ
    if ENV_START not in env:
        return WallClock()
    try:
        start = parse_time(env[ENV_START])
        epoch = float(env.get(ENV_EPOCH, "") or time.time())
        rate = float(env.get(ENV_RATE, "1") or 1)
    except ValueError as exc:
        raise ValueError(f"simulated clock environment is invalid: {exc}") from exc
    if rate <= 0:
        raise ValueError(f"{ENV_RATE} must be positive, got {rate}")
    return ScaledClock(start=start, epoch=epoch, rate=rate)
