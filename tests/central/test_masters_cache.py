"""Parsed master data is shared between transactions while the database's masters
version is unchanged, and every process sees a master-data change at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central.clock import ManualClock
from central.service.context import Ctx
from central.service.masterdata import import_masterdata
from central.settings import ServerSettings
from central.store import open_store
from central.store.base import Store
from tests.central.conftest import NOW
from tests.support.central import TEST_MASTERDATA


def ctx_skus(store: Store) -> dict[str, object]:
    with store.reader() as tx:
        return Ctx(tx, NOW, ServerSettings()).skus  # type: ignore[return-value]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores on one file: two server processes (workers) of one central."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    first = open_store(url)
    second = open_store(url)
    import_masterdata(first, TEST_MASTERDATA, ManualClock(NOW), ServerSettings())
    yield first, second
    first.close()
    second.close()


def test_unchanged_master_data_is_parsed_once(stores: tuple[Store, Store]) -> None:
    first, second = stores
    assert ctx_skus(first) is ctx_skus(first) is ctx_skus(second)


def test_an_import_through_one_store_is_seen_by_the_next_step_of_another(
    stores: tuple[Store, Store],
) -> None:
    first, second = stores
    before = ctx_skus(second)
    assert "SKU-NEW-1" not in before
    import_masterdata(
        first, {"skus": [{"sku": "SKU-NEW-1", "name": "new"}]}, ManualClock(NOW), ServerSettings()
    )
    after = ctx_skus(second)
    assert "SKU-NEW-1" in after and after is not before
    assert set(before) < set(after)


def test_a_rolled_back_import_leaves_the_shared_copy_as_it_was(
    stores: tuple[Store, Store],
) -> None:
    first, _ = stores
    before = ctx_skus(first)
    with pytest.raises(RuntimeError), first.transaction() as tx:
        tx.upsert_master("sku", "SKU-GONE", {"sku": "SKU-GONE", "name": "rolled back"})
        assert "SKU-GONE" in Ctx(tx, NOW, ServerSettings()).skus  # seen inside its step
        raise RuntimeError("abort the import")
    assert ctx_skus(first) is before
    assert "SKU-GONE" not in before


def test_a_database_without_a_masters_version_is_read_every_step(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        import_masterdata(store, TEST_MASTERDATA, ManualClock(NOW), ServerSettings())
        with store.transaction() as tx:
            tx._run("DELETE FROM meta WHERE key = 'masters_version'")  # type: ignore[attr-defined]
        first, second = ctx_skus(store), ctx_skus(store)
        assert first == second and first is not second
    finally:
        store.close()
