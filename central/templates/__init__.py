"""Jinja2 templates of the central server (tracking page, e-mails); package data."""
