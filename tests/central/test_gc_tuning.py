"""A server process keeps what it loaded at start out of the collector's reach and
collects the young generation less often."""

from __future__ import annotations

import gc

from central.gc_tuning import THRESHOLDS, tune_for_server


def test_tuning_freezes_the_start_up_objects_and_raises_the_thresholds() -> None:
    loaded = [{"start-up": i} for i in range(1000)]
    before = gc.get_freeze_count()
    old = tune_for_server()
    try:
        assert gc.get_threshold() == THRESHOLDS
        assert THRESHOLDS[0] > old[0]
        assert gc.get_freeze_count() >= before + len(loaded)
    finally:
        gc.unfreeze()
        gc.set_threshold(*old)
    assert gc.get_threshold() == old
