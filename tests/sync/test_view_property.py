"""Property: the view always equals base + unsettled ops folded in seq order."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import effects
from sync.store import LocalStore
from tests.sync.helpers import AT, change, order, pick, stock

LOCS = ["A01", "A02"]
ORDERS = ["O1", "O2"]

op_strategy = st.one_of(
    st.builds(
        lambda o, loc, q: ("pick.confirmed", pick(o, q, loc)),
        st.sampled_from(ORDERS),
        st.sampled_from(LOCS),
        st.integers(1, 3),
    ),
    st.builds(
        lambda loc, d: (
            "stock.adjusted",
            {"warehouse": "DE-FRA", "location": loc, "sku": "SKU-1", "delta": d, "reason": "r"},
        ),
        st.sampled_from(LOCS),
        st.integers(-3, 3),
    ),
    st.builds(
        lambda q: (
            "stock.moved",
            {
                "warehouse": "DE-FRA",
                "sku": "SKU-1",
                "from_location": "A01",
                "to_location": "A02",
                "qty": q,
            },
        ),
        st.integers(1, 2),
    ),
    st.builds(
        lambda o: (
            "order.packed",
            {
                "order_id": o,
                "carton": "S",
                "weight_g": 10,
                "carrier_service": "dhl",
                "tracking": "T",
            },
        ),
        st.sampled_from(ORDERS),
    ),
    st.builds(
        lambda o: (
            "pick.short",
            {
                "order_id": o,
                "sku": "SKU-1",
                "location": "A01",
                "qty_short": 1,
                "reason": "empty",
                "operator": "op",
            },
        ),
        st.sampled_from(ORDERS),
    ),
)

base_strategy = st.one_of(
    st.builds(
        lambda o, s: ("order", o, order(o, 3, s)),
        st.sampled_from(ORDERS),
        st.sampled_from(["allocated", "picking", "packed"]),
    ),
    st.builds(
        lambda loc, n: ("stock", f"DE-FRA/{loc}/SKU-1", stock(loc, n, 1)),
        st.sampled_from(LOCS),
        st.integers(0, 20),
    ),
    st.builds(lambda loc: ("stock", f"DE-FRA/{loc}/SKU-1", None), st.sampled_from(LOCS)),
)

action = st.one_of(
    st.tuples(st.just("record"), op_strategy),
    st.tuples(st.just("pull"), st.lists(base_strategy, max_size=3)),
    st.tuples(st.just("ack"), st.tuples(st.integers(0, 4), st.booleans())),
)


def expected_view(store: LocalStore) -> dict:
    db = store.db
    keys = {
        (e, i)
        for e, i in db.execute(
            "SELECT entity, id FROM base UNION SELECT entity, id FROM op_touch"
        ).fetchall()
    }
    result = {}
    for key in keys:
        row = db.execute("SELECT data FROM base WHERE entity=? AND id=?", key).fetchone()
        data = json.loads(row[0]) if row else None
        for kind, op_data in db.execute(
            "SELECT o.kind, o.data FROM op_touch t JOIN outbox o ON o.seq=t.seq WHERE "
            "t.entity=? AND t.id=? AND o.settled=0 AND o.state IN ('pending','acked') "
            "ORDER BY o.seq",
            key,
        ).fetchall():
            data = effects.apply(kind, json.loads(op_data), key, data)
        if data is not None:
            result[key] = data
    return result


def actual_view(store: LocalStore) -> dict:
    rows = store.db.execute("SELECT entity, id, data FROM view").fetchall()
    return {(e, i): json.loads(d) for e, i, d in rows}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=14))
def test_view_is_base_plus_unsettled_ops(actions):
    with tempfile.TemporaryDirectory() as tmp, LocalStore(Path(tmp) / "d.db", "d", "DE-FRA") as s:
        cursor = 0
        for name, arg in actions:
            if name == "record":
                s.record(arg[0], arg[1], AT)
            elif name == "pull":
                cursor += 1
                s.apply_changes([change(e, i, d) for e, i, d in arg], cursor, "e")
            else:
                count, reject = arg
                ops = s.pending(limit=count)
                if ops:
                    status = "rejected" if reject else "applied"
                    s.mark_acked([{"op_id": o.op_id, "status": status} for o in ops], ops[-1].seq)
            assert actual_view(s) == expected_view(s)
        # Once everything is acked and pulled, the view is exactly the server's base.
        ops = s.pending()
        if ops:
            s.mark_acked([{"op_id": o.op_id, "status": "applied"} for o in ops], ops[-1].seq)
        s.apply_changes([], cursor + 1, "e")
        base = {
            (e, i): json.loads(d)
            for e, i, d in s.db.execute("SELECT entity, id, data FROM base").fetchall()
        }
        assert actual_view(s) == base
        assert s.pending_count() == 0
