"""Carrier performance and the analytics report: the queries that feed
``domain.analytics`` and the carrier events that measure on-time delivery."""
