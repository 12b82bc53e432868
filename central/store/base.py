"""The central store's interface: a ``Store`` hands out transactions (``Tx``) whose typed
methods are the only way the services touch the database.

A backend (SQLite now, PostgreSQL by URL later) provides ``Store`` and a ``Dialect``;
the portable SQL lives in ``central.store.sqltx.SqlTx`` and works over any DB-API
connection whose dialect it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


class StoreError(Exception):
    """Root of the store's errors: the database cannot be opened or is not ours."""


class DuplicateOps(StoreError):
    """``record_ops`` met op ids recorded before: the transaction must not stand."""


JsonDoc = dict[str, Any]


# Meta key: a random token replaced whenever master data changes (see ``upsert_master``),
# so parsed master data can be kept between transactions while it is unchanged.
MASTERS_VERSION = "masters_version"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored API token (only its hash is kept)."""

    token_hash: str
    role: str  # "admin" | "device"
    device: str | None
    site: str | None


# A row type written by the thousand per push, made from a whole tuple of its fields:
# what the named tuple's generated ``__new__`` does after binding them by name, in a
# third of the time (every field given, in order).
make_row = tuple.__new__


class MovementRow(NamedTuple):
    """One ledger row; ``seq`` is the ledger position (0 before it is written).

    Row types written by the thousand per push are named tuples: built in a fraction
    of a frozen dataclass's time, and handed to the driver without being rebuilt."""

    op_id: str
    warehouse: str
    location: str
    sku: str
    delta: int
    reason: str
    at: str
    lot: str = ""
    expiry: str | None = None
    seq: int = 0


class ReservationRow(NamedTuple):
    """Units of one bin (and lot) promised to an order."""

    order_id: str
    warehouse: str
    location: str
    sku: str
    lot: str
    qty: int
    level: str
    picking: bool


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order document (the feed shape) and the hash of the body it was created from."""

    doc: JsonDoc
    body_hash: str


class OpRecord(NamedTuple):
    """A device operation as received, with how it was settled."""

    op_id: str
    device: str
    seq: int
    kind: str
    at: str
    data: JsonDoc
    status: str  # applied | rejected
    reason: str | None
    received_at: str


@dataclass(frozen=True, slots=True)
class FeedRef:
    """Feed data that stays in another table's row of the same id instead of being
    copied into the feed: a page reads it from there (as of the page's snapshot, which
    is the latest change, since every change moves the row to the feed's head)."""

    table: str


# An order's feed data is its row in ``orders`` (no second copy of the document).
ORDER_ROW = FeedRef("orders")


@dataclass(frozen=True, slots=True)
class BinRef:
    """A stock bin's feed data, kept by reference: the row holds the bin's key and a
    page builds its document (on hand, reserved, available, lots) from ``stock_bins``
    and ``reservations`` in the page's snapshot, as an order's row reads ``orders``."""

    warehouse: str
    location: str
    sku: str


# The ``ref`` of a stock bin's feed row (its ``data`` holds the key as a JSON array).
BIN_REF = "stock_bins"

FeedData = JsonDoc | FeedRef | BinRef | None


@dataclass(frozen=True, slots=True)
class FeedChange:
    """One row of the compacted change feed; ``data is None`` means deleted, a ``BinRef``
    is a stock bin whose document the page's reader builds."""

    seq: int
    entity: str
    id: str
    data: JsonDoc | BinRef | None


@dataclass(frozen=True, slots=True)
class StockLine:
    """On-hand of one (warehouse, location, sku, lot) and the last ledger position in it."""

    warehouse: str
    location: str
    sku: str
    lot: str
    expiry: str | None
    on_hand: int
    ledger_seq: int


class Tx(Protocol):
    """One database transaction (read-write from ``Store.transaction``, read-only from
    ``Store.reader``). Documents go in and come out as plain JSON dicts."""

    # meta and tokens
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def add_token(self, record: TokenRecord, created_at: str) -> None: ...
    def find_token(self, token_hash: str) -> TokenRecord | None: ...
    def list_tokens(self) -> list[tuple[TokenRecord, str]]: ...
    def delete_tokens(self, token_hashes: Iterable[str]) -> None: ...

    # master data
    def upsert_master(self, entity: str, key: str, doc: JsonDoc) -> None: ...
    def masters(self, entity: str) -> dict[str, JsonDoc]: ...

    # ledger
    def append_movements(self, rows: Sequence[MovementRow]) -> int: ...
    def movements(self, skus: Iterable[str]) -> list[MovementRow]: ...
    def bin_totals(self, skus: Iterable[str]) -> list[MovementRow]: ...
    def on_hand(
        self, warehouse: str, location: str, sku: str, upto_seq: int | None = None
    ) -> int: ...
    def stock_lines(
        self,
        sku: str | None = None,
        warehouse: str | None = None,
        keys: Iterable[tuple[str, str, str]] | None = None,
    ) -> list[StockLine]: ...
    def max_ledger_seq(self) -> int: ...

    # reservations
    def reservations(
        self, skus: Iterable[str] | None = None, order_ids: Iterable[str] | None = None
    ) -> list[ReservationRow]: ...
    def lock_reservations(self, order_ids: Iterable[str]) -> None: ...

    def replace_reservations(self, order_id: str, rows: Sequence[ReservationRow]) -> None: ...
    def replace_reservations_of(self, held: Mapping[str, Sequence[ReservationRow]]) -> None: ...

    # orders and timeline
    def get_order(self, order_id: str) -> OrderRow | None: ...
    def get_orders(self, order_ids: Iterable[str]) -> dict[str, JsonDoc]: ...
    def insert_order(self, doc: JsonDoc, body_hash: str) -> None: ...
    def update_orders(self, docs: Sequence[JsonDoc]) -> None: ...
    def list_orders(
        self,
        status: str | None = None,
        level: str | None = None,
        limit: int = 100,
        warehouse: str | None = None,
    ) -> list[JsonDoc]: ...
    def orders_waiting_stock(
        self, warehouse: str, statuses: Sequence[str], limit: int
    ) -> list[JsonDoc]: ...
    def open_orders(self) -> list[JsonDoc]: ...
    def order_by_token(self, token: str) -> JsonDoc | None: ...
    def order_by_tote(self, tote: str) -> JsonDoc | None: ...
    def add_timeline(self, entries: Sequence[tuple[str, str, str, str]]) -> None: ...
    def timeline(self, order_id: str) -> list[JsonDoc]: ...

    # device operations
    def known_ops(self, op_ids: Sequence[str]) -> set[str]: ...
    def record_ops(self, ops: Sequence[OpRecord]) -> None: ...
    def device_acked(self, device: str) -> int: ...
    def set_device_acked(self, device: str, seq: int) -> None: ...
    def rejected_ops(self, limit: int = 100) -> list[OpRecord]: ...
    def bin_checks(self, since: str, limit: int = 5000) -> list[OpRecord]: ...

    # change feed
    def feed_put(self, changes: Sequence[tuple[str, str, str | None, FeedData]]) -> None: ...
    def feed_page(self, cursor: int, limit: int, site: str | None) -> list[FeedChange]: ...
    def feed_head(self) -> int: ...

    # transfers, disruptions, pick tasks
    def add_transfer(self, doc: JsonDoc) -> int: ...
    def transfers(self, limit: int = 200, warehouse: str | None = None) -> list[JsonDoc]: ...
    def transfers_of(self, order_id: str) -> list[JsonDoc]: ...
    def upsert_disruption(self, doc: JsonDoc) -> None: ...
    def disruptions(self) -> list[JsonDoc]: ...
    def upsert_tasks(self, docs: Sequence[JsonDoc]) -> None: ...
    def tasks(self, status: str | None = None) -> list[JsonDoc]: ...
    def tasks_of(self, order_id: str) -> list[JsonDoc]: ...
    def waiting_orders(self, warehouse: str | None = None) -> list[JsonDoc]: ...


class Store(Protocol):
    """A database: one writer at a time (``transaction``), many readers (``reader``)."""

    url: str

    def transaction(self) -> AbstractContextManager[Tx]: ...
    def reader(self) -> AbstractContextManager[Tx]: ...
    def close(self) -> None: ...


class Dialect(Protocol):
    """What differs between SQL backends; everything else is shared SQL."""

    @property
    def name(self) -> str: ...
    @property
    def placeholder(self) -> str:  # "?" (sqlite3) or "%s" (psycopg)
        ...
    @property
    def autoinc_pk(self) -> str:  # an auto-incrementing integer primary key column type
        ...
    @property
    def json_type(self) -> str:  # column type holding a JSON document as text
        ...


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Slices of at most ``size`` (SQL parameter lists stay under backend limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (tolerant JSON reads)."""
    return value if isinstance(value, Mapping) else {}
