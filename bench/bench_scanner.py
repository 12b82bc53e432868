"""Scanner latency: bytes written to a scanner pty -> decoded Scan out of the serial backend.

Run: .venv/bin/python bench/bench_scanner.py [N]  (default N=2000; target p99 < 2 ms)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tty

from devices.scanner import open_scanner

CODES = ("TOTE-0042", "4006381333931", "LOC-A03-12-2", "(01)04006381333931(17)270300(10)L1")


def main(n: int = 2000) -> int:
    master, slave = os.openpty()
    tty.setraw(slave)
    latencies: list[float] = []
    try:
        with open_scanner(f"serial://{os.ttyname(slave)}?baudrate=115200") as scanner:
            for i in range(n):
                frame = CODES[i % len(CODES)].encode() + b"\r"
                start = time.perf_counter()
                os.write(master, frame)
                scan = scanner.read(timeout=5)
                latencies.append(time.perf_counter() - start)
                if scan is None or scan.raw != CODES[i % len(CODES)]:
                    print(f"scan {i} lost or wrong: {scan}", file=sys.stderr)
                    return 1
            burst_start = time.perf_counter()
            os.write(master, b"".join(c.encode() + b"\r" for c in CODES * 50))
            for _ in range(len(CODES) * 50):
                if scanner.read(timeout=5) is None:
                    print("burst scan lost", file=sys.stderr)
                    return 1
            burst = time.perf_counter() - burst_start
    finally:
        os.close(master)
        os.close(slave)
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(f"serial scanner over a pty, N={n} scans, one at a time")
    print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms   max {ms[-1]:.3f} ms   (target p99 < 2 ms)")
    print(f"  burst of {len(CODES) * 50} frames decoded in {burst * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
