"""The analytics report outside the server: fetch the summary (from a database or a
running central server), print it as terminal tables, write it as an HTML page with
charts."""

from rushline.report.html import write_html
from rushline.report.source import ReportError, summary_from_db, summary_from_server
from rushline.report.tables import print_summary

__all__ = ["ReportError", "print_summary", "summary_from_db", "summary_from_server", "write_html"]
