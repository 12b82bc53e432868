"""Render 1,000 shipping labels with mixed non-ASCII text; print mean and p99 ms per label.

Run: .venv/bin/python bench/bench_labels.py   (target: p99 < 10 ms per label)
"""

from __future__ import annotations

import logging
import statistics
import time

from devices.printer.labels import ShippingLabel, render_shipping_label
from devices.printer.preview import preview

NAMES = (
    "Anna Müller",
    "Łukasz Wójcik",
    "João São Paulo",
    "張偉",
    "Ελένη Παπαδοπούλου",
    "Bob Smith",
)
CITIES = ("München", "Łódź", "São Paulo", "北京", "Αθήνα", "Leeds")
COUNT = 1000


def label(n: int) -> ShippingLabel:
    return ShippingLabel(
        order_id=f"ORD-{n:06d}",
        ship_to_name=NAMES[n % len(NAMES)],
        address_lines=(f"Straße {n}", "Apt. 3"),
        city=CITIES[n % len(CITIES)],
        postcode=f"{10000 + n}",
        country="DE",
        carrier="DHL",
        service="express",
        tracking=f"JD{n:018d}",
        tracking_url=f"https://track.example/JD{n:018d}",
        level=("P1", "P2", "P3", "P4")[n % 4],
        weight_g=500 + n,
        carton="M",
    )


def main() -> None:
    logging.disable(logging.WARNING)  # the CJK fallback warns once per label
    labels = [label(n) for n in range(COUNT)]
    render_shipping_label(labels[0])  # code page tables are built once per profile
    timings = []
    size = 0
    for item in labels:
        start = time.perf_counter()
        job = render_shipping_label(item)
        timings.append((time.perf_counter() - start) * 1000)
        size += len(job)
    timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"labels rendered: {COUNT} (mixed Latin/Polish/Greek/CJK, profile 'default')")
    print(f"mean: {statistics.mean(timings):.3f} ms/label  p99: {p99:.3f} ms/label")
    print(f"mean job size: {size / COUNT:.0f} bytes")
    start = time.perf_counter()
    for item in labels[:200]:
        preview(render_shipping_label(item))
    print(f"render+preview: {(time.perf_counter() - start) * 1000 / 200:.3f} ms/label")


if __name__ == "__main__":
    main()
