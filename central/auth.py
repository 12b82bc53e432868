"""API tokens: random, shown once, stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from central.store.base import Store, TokenRecord

ROLES = ("admin", "device")


class AuthError(Exception):
    """A token is missing, unknown or not allowed to do this; ``status`` is 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    store: Store, role: str, device: str | None = None, site: str | None = None
) -> str:
    """Make a token, store its hash and return the token (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "device" and not (device and site):
        raise ValueError("a device token needs --device and --site")
    token = secrets.token_urlsafe(32)
    record = TokenRecord(hash_token(token), role, device if role == "device" else None, site)
    with store.transaction() as tx:
        tx.add_token(record, datetime.now(UTC).isoformat())
    return token


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or AuthError(401)."""
    if not header:
        raise AuthError(401, "missing Authorization: Bearer <token> header")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "Authorization header must be 'Bearer <token>'")
    return token


def cached(header: str | None, known: dict[str, TokenRecord]) -> TokenRecord | None:
    """The record of a token already seen (no database read), else None."""
    return known.get(hash_token(bearer(header)))


def authenticate(
    store: Store, header: str | None, known: dict[str, TokenRecord] | None = None
) -> TokenRecord:
    """The token record for an ``Authorization: Bearer`` header, or AuthError(401).
    ``known`` caches records by hash (a token never changes once made)."""
    wanted = hash_token(bearer(header))
    record = known.get(wanted) if known is not None else None
    if record is None:
        with store.reader() as tx:
            record = tx.find_token(wanted)
    if record is None or not hmac.compare_digest(record.token_hash, wanted):
        raise AuthError(401, "unknown or revoked token")
    if known is not None:
        if len(known) > 10_000:
            known.clear()
        known[wanted] = record
    return record
