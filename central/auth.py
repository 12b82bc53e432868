"""API tokens: random, shown once, stored as sha256 hashes; listed by a short id (the
start of the hash) and revoked by that id or by device."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from central.store.base import Store, TokenRecord

ROLES = ("admin", "device")
# A token's listed id: the first characters of its hash (enough to tell tokens apart).
ID_LENGTH = 12
# A revoke names at least this many characters of an id.
MIN_ID_PREFIX = 6
# A server remembers a checked token this long (the default of
# ``ServerSettings.token_cache_seconds``): a revoked token is refused by every server
# process within it.
CACHE_SECONDS = 10.0


class AuthError(Exception):
    """A token is missing, unknown or not allowed to do this; ``status`` is 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


TOKEN_PREFIX = "rl_"


def create_token(
    store: Store, role: str, device: str | None = None, site: str | None = None
) -> str:
    """Make a token, store its hash and return the token (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "device" and not (device and site):
        raise ValueError("a device token needs --device and --site")
    # A fixed prefix: a token that began with "-" could not follow ``--token`` on a
    # command line, and the prefix tells a Rushline token apart in a config file.
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
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


class TokenCache:
    """Token records a server has checked, by hash, each for ``seconds`` (then read again,
    so a revoked token stops working without a restart)."""

    def __init__(
        self,
        seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        limit: int = 10_000,
    ) -> None:
        self.seconds, self._clock, self._limit = seconds, clock, limit
        self._records: dict[str, tuple[TokenRecord, float]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> TokenRecord | None:
        found = self._records.get(token_hash)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def put(self, record: TokenRecord) -> None:
        with self._lock:
            if len(self._records) >= self._limit:
                self._records.clear()
            self._records[record.token_hash] = (record, self._clock() + self.seconds)


def cached(header: str | None, known: TokenCache) -> TokenRecord | None:
    """The record of a token checked lately (no database read), else None."""
    return known.get(hash_token(bearer(header)))


def authenticate(store: Store, header: str | None, known: TokenCache | None = None) -> TokenRecord:
    """The token record for an ``Authorization: Bearer`` header, or AuthError(401).
    ``known`` remembers checked records for a while."""
    wanted = hash_token(bearer(header))
    record = known.get(wanted) if known is not None else None
    if record is None:
        with store.reader() as tx:
            record = tx.find_token(wanted)
    if record is None or not hmac.compare_digest(record.token_hash, wanted):
        raise AuthError(401, "unknown or revoked token")
    if known is not None:
        known.put(record)
    return record


def token_id(record: TokenRecord) -> str:
    """The short id a token is listed and revoked by."""
    return record.token_hash[:ID_LENGTH]


def list_tokens(store: Store) -> list[tuple[str, TokenRecord, str]]:
    """Every token as ``(id, record, created_at)``, oldest first."""
    with store.reader() as tx:
        return [(token_id(r), r, created) for r, created in tx.list_tokens()]


def revoke_tokens(
    store: Store, token_id_prefix: str | None = None, device: str | None = None
) -> list[TokenRecord]:
    """Remove the token whose id starts with ``token_id_prefix`` (one token, at least
    ``MIN_ID_PREFIX`` characters) or every token of ``device``; returns what was removed.
    ``ValueError`` when nothing or more than one token matches (nothing is removed)."""
    if (token_id_prefix is None) == (device is None):
        raise ValueError("name either a token id or a device")
    with store.transaction() as tx:
        tokens = [r for r, _ in tx.list_tokens()]
        if device is not None:
            chosen = [r for r in tokens if r.device == device]
            if not chosen:
                raise ValueError(f"no token for device {device!r}")
        else:
            prefix = (token_id_prefix or "").strip().lower()
            if len(prefix) < MIN_ID_PREFIX:
                raise ValueError(
                    f"a token id has {ID_LENGTH} characters; give at least {MIN_ID_PREFIX}"
                )
            chosen = [r for r in tokens if r.token_hash.startswith(prefix)]
            if not chosen:
                raise ValueError(f"no token with id {prefix!r}")
            if len(chosen) > 1:
                raise ValueError(f"{len(chosen)} tokens have ids starting {prefix!r}: give more")
        tx.delete_tokens([r.token_hash for r in chosen])
    return chosen
