"""Table definitions, one list of statements per migration, in portable SQL.

``{autoinc_pk}`` and ``{json}`` are filled from the backend's ``Dialect``; nothing else
is backend-specific (upserts use ``ON CONFLICT``, which SQLite and PostgreSQL share).
"""

from __future__ import annotations

INITIAL = [
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    """CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        device TEXT,
        site TEXT,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE masters (
        entity TEXT NOT NULL,
        key TEXT NOT NULL,
        doc {json} NOT NULL,
        PRIMARY KEY (entity, key))""",
    """CREATE TABLE ledger (
        seq {autoinc_pk},
        op_id TEXT NOT NULL UNIQUE,
        warehouse TEXT NOT NULL,
        location TEXT NOT NULL,
        sku TEXT NOT NULL,
        lot TEXT NOT NULL DEFAULT '',
        expiry TEXT,
        delta INTEGER NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL)""",
    "CREATE INDEX ledger_bin ON ledger (sku, warehouse, location, lot)",
    # The ledger's running sum per bin and lot, kept in the same transaction as the
    # movements, so reading stock never sums the whole history.
    """CREATE TABLE stock_bins (
        sku TEXT NOT NULL,
        warehouse TEXT NOT NULL,
        location TEXT NOT NULL,
        lot TEXT NOT NULL DEFAULT '',
        expiry TEXT,
        on_hand INTEGER NOT NULL,
        ledger_seq INTEGER NOT NULL,
        received_at TEXT,
        PRIMARY KEY (sku, warehouse, location, lot))""",
    """CREATE TABLE reservations (
        order_id TEXT NOT NULL,
        warehouse TEXT NOT NULL,
        location TEXT NOT NULL,
        sku TEXT NOT NULL,
        lot TEXT NOT NULL DEFAULT '',
        qty INTEGER NOT NULL,
        level TEXT NOT NULL,
        picking INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (order_id, warehouse, location, sku, lot))""",
    "CREATE INDEX reservations_sku ON reservations (sku, warehouse)",
    """CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        warehouse TEXT NOT NULL,
        status TEXT NOT NULL,
        level TEXT NOT NULL,
        score REAL NOT NULL,
        deadline TEXT NOT NULL,
        tote TEXT,
        tracking_token TEXT NOT NULL UNIQUE,
        body_hash TEXT NOT NULL,
        doc {json} NOT NULL)""",
    "CREATE INDEX orders_status ON orders (status, level)",
    "CREATE INDEX orders_tote ON orders (tote)",
    """CREATE TABLE timeline (
        id {autoinc_pk},
        order_id TEXT NOT NULL,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT NOT NULL)""",
    "CREATE INDEX timeline_order ON timeline (order_id, id)",
    """CREATE TABLE ops (
        op_id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        data {json} NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        received_at TEXT NOT NULL)""",
    "CREATE INDEX ops_rejected ON ops (received_at) WHERE status = 'rejected'",
    """CREATE TABLE devices (
        device TEXT PRIMARY KEY,
        acked_seq INTEGER NOT NULL)""",
    """CREATE TABLE feed (
        entity TEXT NOT NULL,
        id TEXT NOT NULL,
        seq INTEGER NOT NULL UNIQUE,
        site TEXT,
        data {json},
        PRIMARY KEY (entity, id))""",
    """CREATE TABLE transfers (
        id {autoinc_pk},
        order_id TEXT NOT NULL,
        doc {json} NOT NULL)""",
    "CREATE INDEX transfers_order ON transfers (order_id)",
    """CREATE TABLE disruptions (
        id TEXT PRIMARY KEY,
        doc {json} NOT NULL)""",
    """CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        warehouse TEXT NOT NULL,
        status TEXT NOT NULL,
        doc {json} NOT NULL)""",
    """CREATE TABLE task_orders (
        task_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (task_id, order_id))""",
    "CREATE INDEX task_orders_order ON task_orders (order_id)",
]
