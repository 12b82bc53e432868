"""The Jinja2 environment over ``central/templates`` (HTML autoescaped, text not)."""

from __future__ import annotations

from functools import lru_cache

import jinja2


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One shared environment; templates are package data of ``central.templates``."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("central", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
