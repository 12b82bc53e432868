"""`rushline report`: the analytics report as terminal tables and an HTML page."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rushline.errors import UserError


def register(subparsers: Any) -> None:
    """Add ``report``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="analytics report (terminal tables + HTML with charts)",
        description="Stage durations per priority level, queues and the bottleneck stage, "
        "on-time rates (urgent vs standard, per carrier and lane), throughput per station "
        "and picker. Reads the central database (--db) or a running central server "
        "(--url with an admin --token or $RUSHLINE_TOKEN); writes DIR/report.html.",
    )
    parser.add_argument("--db", help="central database URL (default: the data dir's central.db)")
    parser.add_argument("--url", help="a running central server instead of --db")
    parser.add_argument("--token", help="admin token for --url (default: $RUSHLINE_TOKEN)")
    parser.add_argument(
        "--out", default=".", metavar="DIR", help="where report.html goes (default .)"
    )
    parser.add_argument("--png", action="store_true", help="also write each chart as a PNG")
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON instead of tables"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the summary, print it, write the HTML page."""
    from rushline.report import (
        ReportError,
        print_summary,
        summary_from_db,
        summary_from_server,
        write_html,
    )

    if args.url and args.db:
        raise UserError("give either --db or --url, not both")
    try:
        if args.url:
            token = args.token or os.environ.get("RUSHLINE_TOKEN")
            if not token:
                raise UserError("--url needs an admin --token (or $RUSHLINE_TOKEN)")
            summary = summary_from_server(args.url, token)
        else:
            summary = summary_from_db(args.db)
    except ReportError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rich.console import Console

        print_summary(summary, Console(width=max(110, _terminal_width())))
    try:
        page = write_html(summary, args.out, keep_png=args.png)
    except OSError as exc:
        raise UserError(f"{args.out}: cannot write the report: {exc.strerror or exc}") from exc
    print(f"report written to {page}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 110
