"""A device process SIGKILLed while recording leaves only whole ops: every op in the
outbox has its effect in the view and no effect exists without its op."""

from __future__ import annotations

from collections import Counter

from sync.store import LocalStore
from tests.sync.central_data import SITE
from tests.sync.faults import Child


def test_sigkill_mid_record_leaves_whole_ops(tmp_path):
    path = tmp_path / "hh-k.db"
    for round_no, kill_after in enumerate((40, 90)):
        child = Child("adjust", str(path), "hh-k", str(round_no))
        try:
            child.wait_for(lambda line, n=kill_after: line == f"REC {n}")
        finally:
            child.kill()
        with LocalStore(path, "hh-k", SITE) as store:
            history = store.outbox_history()
            assert [op.seq for op in history] == list(range(1, len(history) + 1))
            expected: Counter[str] = Counter()
            for op in history:
                expected[op.data["location"]] += op.data["delta"]
            view = {row["location"]: row["on_hand"] for row in store.stock("SKU-1")}
            assert view == {loc: qty for loc, qty in expected.items()}
            assert store.pending_count() == len(history) >= kill_after
            assert store.base("stock", f"{SITE}/A01/SKU-1") is None
