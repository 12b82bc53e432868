"""A device in its own process, to be killed with SIGKILL by the fault-injection test.

python -m tests.sync.child_device record STORE DEVICE N SEED ORDERS
    records N random ops, printing "REC <seq>" after each commit
python -m tests.sync.child_device push STORE DEVICE URL TOKEN
    pushes; prints "ANSWERED" once central has answered a push (before the ack is
    stored) and then blocks until killed
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime

import httpx

from sync.client import SyncClient
from sync.store import LocalStore
from tests.sync.central_data import SITE
from tests.sync.faults import random_op


class _StallAfterAnswer(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path == "/v1/sync/push":
            response.read()
            print("ANSWERED", flush=True)
            time.sleep(120)  # the test kills this process here, before mark_acked
        return response


def main(argv: list[str]) -> int:
    mode, store_path, device = argv[0], argv[1], argv[2]
    with LocalStore(store_path, device, SITE) as store:
        if mode == "adjust":  # record forever; the test kills this at an arbitrary point
            rng = random.Random(int(argv[3]))
            for n in range(1, 1_000_000):
                store.record(
                    "stock.adjusted",
                    {
                        "warehouse": SITE,
                        "location": f"A0{rng.randint(1, 3)}",
                        "sku": "SKU-1",
                        "delta": rng.randint(-5, 5) or 1,
                        "reason": "count",
                    },
                    datetime.now(UTC),
                )
                print(f"REC {n}", flush=True)
        elif mode == "record":
            count, seed, orders = int(argv[3]), int(argv[4]), argv[5].split(",")
            rng = random.Random(seed)
            print("READY", flush=True)
            for _ in range(count):
                kind, data = random_op(rng, orders)
                op = store.record(kind, data, datetime.now(UTC))
                print(f"REC {op.seq}", flush=True)
            time.sleep(120)
        else:
            url, token = argv[3], argv[4]
            with SyncClient(store, url, token, transport=_StallAfterAnswer()) as client:
                client.run_once()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
