"""The report as one self-contained HTML page: headline figures, the charts as embedded
PNGs, and the detail tables."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path
from typing import Any

from rushline.report.format import LEVEL_NAMES, dur, levels_in, pct, statuses

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1.1rem;min-width:160px}
.card .v{font-size:1.6rem;font-weight:600} .card .k{color:#666;font-size:.85rem}
.card.bad .v{color:#c0392b} .card.good .v{color:#27ae60}
.alert{background:#fff4e5;border-left:4px solid #e67e22;padding:.6rem 1rem;margin:1rem 0}
img{max-width:100%;display:block;margin:1rem 0 2rem}
table{border-collapse:collapse;margin:.5rem 0 2rem;font-size:.9rem}
th,td{border-bottom:1px solid #eee;padding:.3rem .7rem;text-align:right}
th:first-child,td:first-child{text-align:left}
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _card(value: str, label: str, tone: str = "") -> str:
    return (
        f'<div class="card {tone}"><div class="v">{html.escape(value)}</div>'
        f'<div class="k">{html.escape(label)}</div></div>'
    )


def _tone(rate: float | None) -> str:
    """Green at or above the 90% on-time target, red below, plain before any delivery."""
    if rate is None:
        return ""
    return "good" if rate >= 0.9 else "bad"


def _when(text: str) -> str:
    """``2026-11-25 18:18 UTC`` from ISO text (the text itself if it is not ISO)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    zone = f" {moment.tzname()}" if moment.tzinfo else ""
    return f"{moment:%Y-%m-%d %H:%M}{zone}"


def _detail_tables(summary: dict[str, Any]) -> str:
    levels = levels_in(summary)
    stage_rows = []
    for stage in summary["stages"]:
        overall = stage["overall"]
        row = [stage["stage"], str(overall["count"]) if overall else "0"]
        row.append(f"{dur(overall['p50_s'])} / {dur(overall['p90_s'])}" if overall else "-")
        for level in levels:
            s = stage["by_level"].get(level)
            row.append(f"{dur(s['p50_s'])} / {dur(s['p90_s'])}" if s else "-")
        stage_rows.append(row)
    on = summary["on_time"]
    lanes = [
        [f"{c['service']} -> {c['country']}", str(c["on_time"]), str(c["total"]), pct(c["rate"])]
        for c in on["by_lane"]
    ]
    queues = [
        [q["stage"], str(q["waiting"]), dur(q["p90_age_s"]), dur(q["oldest_s"])]
        for q in summary["queues"]
    ]
    stations = [
        [t["name"], t["kind"], str(t["ops"]), str(t["units"]), f"{t['per_hour']:.1f}"]
        for t in summary["stations"]
    ]
    pickers = [
        [t["name"], str(t["ops"]), str(t["units"]), f"{t['per_hour']:.1f}"]
        for t in summary["operators"]
    ]
    return "".join(
        [
            "<h2>Stage durations (median / p90)</h2>",
            _table(
                ["stage", "orders", "all", *[LEVEL_NAMES.get(lv, lv) for lv in levels]], stage_rows
            ),
            "<h2>Waiting now</h2>",
            _table(["stage", "orders", "p90 wait", "oldest"], queues),
            "<h2>On-time by lane</h2>",
            _table(["service -> country", "on time", "delivered", "rate"], lanes),
            "<h2>Stations</h2>",
            _table(["device", "work", "ops", "units", "per hour"], stations),
            "<h2>Pickers</h2>",
            _table(["operator", "pick lines", "units", "per hour"], pickers),
            "<h2>Orders by status</h2>",
            _table(
                ["status", "orders"],
                [[s, str(n)] for s, n in statuses(summary["orders"]["by_status"])],
            ),
        ]
    )


def render_html(summary: dict[str, Any], charts: list[tuple[str, bytes]]) -> str:
    """The page for ``summary`` with ``charts`` given as (alt text, PNG bytes)."""
    on = summary["on_time"]
    bottleneck = summary.get("bottleneck")
    open_orders = sum(q["waiting"] for q in summary["queues"] if q["stage"] != "deliver")
    cards = "".join(
        [
            _card(str(summary["orders"]["total"]), "orders"),
            _card(str(open_orders), "still on the floor"),
            _card(
                pct(on["urgent"]["rate"]),
                f"urgent on time ({on['urgent']['total']} delivered)",
                _tone(on["urgent"]["rate"]),
            ),
            _card(
                pct(on["standard"]["rate"]),
                f"standard on time ({on['standard']['total']} delivered)",
                _tone(on["standard"]["rate"]),
            ),
            _card(bottleneck["stage"] if bottleneck else "-", "bottleneck stage"),
        ]
    )
    alert = (
        f'<div class="alert"><b>Bottleneck:</b> {html.escape(bottleneck["reason"])}</div>'
        if bottleneck
        else ""
    )
    notes = "".join(f'<p class="sub">{html.escape(n)}</p>' for n in summary.get("notes") or [])
    images = "".join(
        f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        for alt, png in charts
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Rushline report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Rushline report</h1>"
        f'<p class="sub">generated {html.escape(_when(summary["generated_at"]))}</p>'
        f'<div class="cards">{cards}</div>{alert}{notes}{images}{_detail_tables(summary)}'
        "</body></html>"
    )


def write_html(summary: dict[str, Any], out_dir: str | Path, keep_png: bool = False) -> Path:
    """Write ``report.html`` (charts embedded) into ``out_dir``; with ``keep_png`` each
    chart is also written as ``<name>.png``. Returns the page's path."""
    from rushline.report.charts import CHARTS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts = []
    for stem, alt, render in CHARTS:
        png = render(summary)
        charts.append((alt, png))
        if keep_png:
            (out / f"{stem}.png").write_bytes(png)
    page = out / "report.html"
    page.write_text(render_html(summary, charts), encoding="utf-8")
    return page
