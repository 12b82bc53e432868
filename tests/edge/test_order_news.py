"""Floor news about an order (``order/{id}/event``) against the device store's row: news
the store already shows is dropped; the rest stays on top of the row."""

from __future__ import annotations

from edge.agents.base import news_covered


def test_a_tote_announced_on_the_bus_is_covered_once_the_store_lists_it() -> None:
    news = {"tote": "TOTE-2"}
    assert not news_covered({"tote": "TOTE-1", "totes": ["TOTE-1"]}, news)
    assert not news_covered(None, news)
    assert news_covered({"tote": "TOTE-2", "totes": ["TOTE-1", "TOTE-2"]}, news)
    # A later tote in the store (a second top-up) covers the older news too.
    assert news_covered({"tote": "TOTE-3", "totes": ["TOTE-1", "TOTE-2", "TOTE-3"]}, news)
    # A row from before the tote list was kept: its current tote.
    assert news_covered({"tote": "TOTE-2"}, news)


def test_a_status_news_is_covered_by_the_same_status_or_one_further_on() -> None:
    news = {"status": "packed", "tracking": "DHL-1"}
    assert not news_covered({"status": "picked"}, news)
    assert news_covered({"status": "packed", "tracking": "DHL-1"}, news)
    assert news_covered({"status": "shipped", "tracking": "DHL-1"}, news)
