"""The end report as one self-contained HTML file: tables, charts (matplotlib, embedded
as PNG data) and the printed label previews."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from rushline.demo.report_text import totes_by_lane

STATUS_ORDER = (
    "received",
    "allocated",
    "picking",
    "picked",
    "packed",
    "shipped",
    "delivered",
    "cancelled",
    "on_hold",
)


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for each chart; empty when matplotlib cannot draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # no charts rather than no report
        return []
    out = []
    by_status = report["orders"]["by_status"]
    names = [s for s in STATUS_ORDER if s in by_status] + sorted(
        s for s in by_status if s not in STATUS_ORDER
    )
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(names, [by_status[n] for n in names], color="#3b6ea8")
    ax.set_ylabel("orders")
    out.append(("Orders by final status", _png(fig)))
    plt.close(fig)

    stages = report["stage_minutes"]
    labels = list(stages["urgent"])
    fig, ax = plt.subplots(figsize=(7, 3))
    xs = range(len(labels))
    ax.bar(
        [x - 0.2 for x in xs],
        [stages["urgent"][k] or 0 for k in labels],
        0.4,
        label="urgent (P1/P2)",
        color="#c0392b",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [stages["standard"][k] or 0 for k in labels],
        0.4,
        label="standard (P3/P4)",
        color="#7f8c8d",
    )
    ax.set_xticks(list(xs), labels, rotation=15)
    ax.set_ylabel("simulated minutes")
    ax.legend()
    out.append(("Mean stage durations", _png(fig)))
    plt.close(fig)

    on_time = report["on_time"]
    fig, ax = plt.subplots(figsize=(6, 3))
    kinds = ("on_time", "late", "open_not_late", "open_late")
    colours = ("#27ae60", "#c0392b", "#bdc3c7", "#e67e22")
    bottom = [0, 0]
    for kind, colour in zip(kinds, colours, strict=True):
        values = [on_time["urgent"][kind], on_time["standard"][kind]]
        ax.bar(["urgent", "standard"], values, bottom=bottom, label=kind, color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.legend(fontsize=7)
    out.append(("Deadlines met", _png(fig)))
    plt.close(fig)
    return out


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _grid(head: list[str], rows: list[list[Any]]) -> str:
    top = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{top}</tr>{body}</table>"


def label_previews(out: Path, limit: int = 12) -> list[tuple[str, str]]:
    """(file name, text) of the first shipping label previews."""
    folder = out / "labels"
    if not folder.exists():
        return []
    found = []
    for path in sorted(folder.rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "SHIPPING LABEL" in text:
            found.append((path.name, text))
        if len(found) >= limit:
            break
    return found


def write_html(report: dict[str, Any], out: Path) -> Path:
    """Write ``out/report.html``; returns its path."""
    ops = report["ops"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Rushline demo report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1000px}"
        "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left}pre{background:#f6f6f6;padding:8px;"
        "font-size:12px;display:inline-block;margin:4px;vertical-align:top}"
        ".bad{color:#c0392b;font-weight:bold}.ok{color:#27ae60;font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Rushline demo at {html.escape(report['site'])}</h1>",
        f"<p>{report['orders']['posted']} orders, {report['real_seconds']} s real time, "
        f"simulated {html.escape(report['clock']['start'])} to "
        f"{html.escape(report['clock']['end'])} at rate {report['clock']['rate']}.</p>",
    ]
    bad = {k: v for k, v in report["invariants"].items() if v}
    parts.append(
        f"<p class='bad'>Invariants failed: {html.escape(json.dumps(bad))}</p>"
        if bad
        else "<p class='ok'>Invariants hold: no op lost, none applied twice, "
        "every label matches its order.</p>"
    )
    analytics = report.get("analytics") or {}
    if analytics.get("html"):
        parts.append(
            f"<p>Stage durations per level, queues, bottleneck and throughput: "
            f"<a href='{html.escape(analytics['html'])}'>analytics report</a>.</p>"
        )
    elif analytics.get("error"):
        parts.append(f"<p>{html.escape(analytics['error'])}</p>")
    parts.append("<h2>Ops: devices vs central</h2>")
    parts.append(
        _table(
            [
                ("recorded on devices (outbox history)", ops["recorded_on_devices"]),
                ("applied at central", ops["applied_at_central"]),
                ("rejected at central (acknowledged)", ops["rejected_at_central"]),
                ("duplicates absorbed", ops["duplicates_absorbed"]),
                ("lost", ops["lost"]),
            ]
        )
    )
    parts.append(
        _grid(
            ["device", "recorded", "acked", "rejected", "pending", "duplicates absorbed", "kinds"],
            [
                [
                    d,
                    v["recorded"],
                    v["states"].get("acked", 0),
                    v["states"].get("rejected", 0),
                    v["states"].get("pending", 0),
                    v["duplicates_absorbed"],
                    ", ".join(f"{k} {n}" for k, n in sorted(v["kinds"].items())),
                ]
                for d, v in ops["devices"].items()
            ],
        )
    )
    parts.append("<h2>Orders</h2>")
    parts.append(_table(sorted(report["orders"]["by_status"].items())))
    kinds = ("on_time", "late", "open_not_late", "open_late")
    pairs = report.get("urgent_first") or {}
    if pairs.get("pairs"):
        parts.append(
            "<p>Urgent packed before a standard order that arrived with it or within the "
            "minute after: "
            f"{pairs['urgent_first']} of {pairs['pairs']} pairs.</p>"
        )
    lanes = totes_by_lane(report)
    if lanes:
        parts.append(
            f"<p>Totes by lane (express / standard / exception): {html.escape(lanes)}.</p>"
        )
    claims = report.get("task_claims") or {}
    if claims:
        parts.append(
            f"<p>Tasks opened on two handhelds at once: {claims['taken_first']} (the later "
            "picker left each before picking); tasks picked on two handhelds: "
            f"{len(claims['picked_on_two_handhelds'])}.</p>"
        )
        parts.append(
            f"<p>Handhelds off the air halfway through a task: "
            f"{claims.get('dropped_off_air', 0)}; tasks taken over meanwhile and handed "
            f"over (the units picked in a tote of their own): {claims.get('handed_over', 0)}; "
            "order lines picked beyond the order: "
            f"{len(claims.get('units_picked_twice') or [])}.</p>"
        )
    parts.append(
        _grid(
            [f"{report['site']} orders", "on time", "late", "open, not late yet", "open and late"],
            [[g, *(v[k] for k in kinds)] for g, v in report["on_time"].items()],
        )
    )
    for title, png in charts(report):
        parts.append(
            f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' "
            f"src='data:image/png;base64,{png}'>"
        )
    parts.append("<h2>Carriers used and why</h2>")
    parts.append(_table(sorted(report["carriers"]["by_service"].items())))
    parts.append(
        _table(
            [
                (f"{e['order']} ({e['level']}) {e['service']}", e["why"])
                for e in report["carriers"]["examples"]
            ]
        )
    )
    parts.append("<h2>Outage and disruption</h2>")
    parts.append(
        _table(
            [
                ("outage", json.dumps(report.get("outage"))),
                ("disruption", json.dumps(report.get("disruption"), default=str)),
            ]
        )
    )
    if report["notes"]:
        parts.append(
            "<h2>Notes</h2><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in report["notes"])
            + "</ul>"
        )
    previews = label_previews(out)
    if previews:
        parts.append(f"<h2>Label previews (first {len(previews)})</h2>")
        parts += [
            f"<pre title='{html.escape(name)}'>{html.escape(text)}</pre>" for name, text in previews
        ]
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
