"""`rushline demo`: the whole simulated floor (central, broker, agents, pickers, an
outage, a disruption) with its end report; ``--decisions-only`` runs demo v1."""

from __future__ import annotations

import argparse
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from config.loader import load_site
from rushline.commands.config import add_config_argument, default_config_path
from rushline.demo.floor_v1 import DemoOptions, run
from rushline.errors import UserError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run a simulated floor and print its report",
        description="Runs the whole floor on loopback in a fresh --out folder: Mosquitto, the "
        "central server (SQLite), sorter, pack, dock and dispatch agents on simulated "
        "devices, simulated pickers and an order stream, on a fast simulated clock. Midway "
        "it posts a weather disruption and stops the central server for --outage-seconds. "
        "Writes report.json, report.html, label previews and logs; exits 1 when an op was "
        "lost or applied twice, or a label does not match its order.",
    )
    parser.add_argument(
        "--minutes", type=int, default=None, help="simulated minutes of arrivals (default 30)"
    )
    parser.add_argument(
        "--orders", type=int, default=None, help="orders in the stream (default 200)"
    )
    parser.add_argument(
        "--outage-seconds",
        type=int,
        default=None,
        help="real seconds the central server is down midway (default 20, 0 for none)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="new or empty folder for the report, labels and logs (default demo-out/<time>)",
    )
    parser.add_argument("--seed", type=int, default=None, help="order stream seed (default 7)")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="simulated seconds per real second (default: the shift's arrivals in ~25 s)",
    )
    parser.add_argument("--pickers", type=int, default=None, help="simulated pickers (default 6)")
    parser.add_argument(
        "--decisions-only",
        action="store_true",
        help="demo v1: the floor's decisions only, no processes (writes summary.json)",
    )
    add_config_argument(parser)
    parser.set_defaults(func=run_demo)


def _positive(name: str, value: int | None, default: int, minimum: int = 1) -> int:
    if value is None:
        return default
    if value < minimum:
        raise UserError(f"--{name}: must be at least {minimum}, got {value}")
    return value


def fresh_out_dir(base: Path = Path("demo-out")) -> Path:
    """A new folder ``demo-out/<timestamp>`` (suffixed if it already exists)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = base / stamp
    n = 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


def _fresh(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out}: must be a new or empty folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create folder: {exc.strerror or exc}") from exc
    return out.resolve()


def run_demo(args: argparse.Namespace) -> int:
    """Run the whole floor (or demo v1 with ``--decisions-only``)."""
    if args.decisions_only:
        return run_decisions(args)
    from rushline.demo.floor import Floor, FloorOptions
    from rushline.demo.processes import ProcessError

    site = load_site(args.config or default_config_path())
    defaults = site.demo
    minutes = _positive("minutes", args.minutes, defaults.minutes)
    if args.rate is not None and not (math.isfinite(args.rate) and 1 <= args.rate <= 10000):
        raise UserError(f"--rate: must be from 1 to 10000, got {args.rate}")
    outage = _positive("outage-seconds", args.outage_seconds, defaults.outage_seconds, 0)
    if outage > 60:
        raise UserError(f"--outage-seconds: at most 60 (real seconds), got {outage}")
    options = FloorOptions(
        orders=_positive("orders", args.orders, defaults.orders),
        minutes=minutes,
        outage_seconds=float(outage),
        out=_fresh(args.out or fresh_out_dir()),
        seed=args.seed if args.seed is not None else defaults.seed,
        rate=args.rate if args.rate is not None else max(60.0, minutes * 60 / 25),
        start=defaults.start,
        urgent_share=defaults.urgent_share,
        pickers=_positive("pickers", args.pickers, defaults.pickers),
        config=args.config.resolve() if args.config else None,
    )
    console = Console()
    try:
        _, code = Floor(site, options, console).run()
    except ProcessError as exc:
        raise UserError(f"demo: {exc}") from exc
    return code


def run_decisions(args: argparse.Namespace) -> int:
    """Run demo v1 and write ``summary.json``."""
    site = load_site(args.config or default_config_path())
    defaults = site.demo
    options = DemoOptions(
        orders=_positive("orders", args.orders, defaults.orders),
        minutes=_positive("minutes", args.minutes, defaults.minutes),
        seed=args.seed if args.seed is not None else defaults.seed,
        start=defaults.start,
        urgent_share=defaults.urgent_share,
        outage_seconds=_positive("outage-seconds", args.outage_seconds, defaults.outage_seconds, 0),
        batch_size=defaults.batch_size,
    )
    out: Path = args.out or fresh_out_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create folder: {exc.strerror or exc}") from exc
    summary = run(site, options)
    target = out / "summary.json"
    target.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_summary(summary, Console())
    print(f"summary: {target}")
    return 0


def print_summary(summary: dict[str, Any], console: Console) -> None:
    """The end report as rich tables."""
    orders, alloc, pick = summary["orders"], summary["allocation"], summary["picking"]
    table = Table(title=f"Rushline demo: {summary['site']} from {summary['start']}")
    table.add_column("what")
    table.add_column("figure", justify="right")
    levels = ", ".join(f"{k} {v}" for k, v in orders["by_level"].items())
    rows = [
        ("orders", f"{orders['total']} ({levels})"),
        ("allocated in full / short", f"{alloc['complete']} / {alloc['short']}"),
        ("transfers proposed (move fulfilment)",
         f"{summary['transfers']['proposed']} ({summary['transfers']['move_fulfilment']})"),
        ("low-stock alerts", str(summary["low_stock"]["alerts"])),
        ("hot tasks / batches", f"{pick['hot_tasks']} / {pick['batches']}"),
        ("avg route hot / batch (m)", f"{pick['avg_route_m_hot']} / {pick['avg_route_m_batch']}"),
        ("walk saved vs S-shape", f"{pick['saving_vs_s_shape_pct']}%"),
        ("cartons", ", ".join(f"{k} {v}" for k, v in summary["cartons"].items())),
        ("carriers", ", ".join(f"{k} {v}" for k, v in summary["carriers"].items())),
        ("carrier choices at risk", str(summary["carrier_at_risk"])),
    ]  # fmt: skip
    for what, figure in rows:
        table.add_row(what, figure)
    console.print(table)
    why = Table(title="Why these carriers (examples)")
    for column in ("order", "level", "service", "reason"):
        why.add_column(column)
    for ex in summary["carrier_examples"]:
        why.add_row(ex["order"], ex["level"], ex["service"], ex["why"])
    console.print(why)
    for message in summary["transfers"]["examples"][:3]:
        console.print(f"transfer: {message}")
    for message in summary["low_stock"]["examples"][:3]:
        console.print(f"low stock: {message}")
