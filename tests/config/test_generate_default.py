"""The default site generator is deterministic and matches the shipped files."""

from __future__ import annotations

from pathlib import Path

from config.generate_default import write_default
from config.loader import default_site_path, load_site


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    write_default(tmp_path)
    shipped = default_site_path().parent
    for name in ("site.toml", "masterdata.toml"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name


def test_another_seed_gives_other_stock_but_loads(tmp_path: Path) -> None:
    write_default(tmp_path, seed=99)
    site = load_site(tmp_path / "site.toml")
    assert (tmp_path / "masterdata.toml").read_bytes() != (
        default_site_path().parent / "masterdata.toml"
    ).read_bytes()
    assert len(site.skus) == 200
