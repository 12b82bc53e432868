"""The sync client: push the outbox, then pull the change feed (SYNC_CONTRACT).

``run_once`` does one round; ``start``/``stop`` run rounds on a background thread: after a
good round it waits ``interval`` (woken early when an op is recorded), after a failed one
a capped exponential backoff with jitter. The pull only runs after every pending op was
acknowledged, so a pulled row never contains an op the store still counts as pending.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sync.errors import SyncError
from sync.store import LocalStore

log = logging.getLogger(__name__)

EPOCH_HEADER = "X-Rushline-Epoch"


class RoundError(SyncError):
    """A round stopped early; ``kind`` is offline|unauthorized|server|protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SyncRound:
    """The outcome of one round. ``error`` is None when it completed; ``error_kind`` is
    offline (central unreachable), unauthorized (401/403), server (5xx) or protocol."""

    pushed: int = 0
    acked: int = 0
    rejected: int = 0
    pulled: int = 0
    cursor: int = 0
    pending: int = 0
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        """True when the round pushed everything and pulled to the end of the feed."""
        return self.error is None


@dataclass(frozen=True)
class SyncStatus:
    """What a UI shows: reachable or not, ops waiting, last success, last error."""

    online: bool
    pending: int
    last_success_at: datetime | None
    last_error: str | None
    last_round: SyncRound | None = None


def _require_ok(response: httpx.Response, what: str) -> None:
    """Refuse an answer other than 200, quoting the start of its body."""
    if response.status_code != 200:
        raise RoundError(
            "protocol", f"{what} answered {response.status_code}: {response.text[:300]}"
        )


def _read_page(response: httpx.Response) -> tuple[list[Any], int, bool, str | None]:
    """``(changes, cursor, more, epoch)`` of a pull answer; RoundError when it is not one."""
    _require_ok(response, "pull")
    try:
        page = response.json()
        epoch = page.get("epoch")
        return (
            page["changes"],
            int(page["cursor"]),
            bool(page.get("more")),
            None if epoch is None else str(epoch),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RoundError("protocol", f"pull answer is not the contract's shape: {exc}") from exc


@dataclass
class _Tally:
    pushed: int = 0
    acked: int = 0
    rejected: int = 0
    pulled: int = 0


class SyncClient:
    """Keeps one ``LocalStore`` in sync with the central server at ``base_url``."""

    def __init__(
        self,
        store: LocalStore,
        base_url: str,
        token: str,
        batch_size: int = 500,
        timeout: float = 5.0,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        interval: float = 1.0,
        pull_limit: int = 5000,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise SyncError(f"batch_size must be 1..1000, got {batch_size}")
        self.store = store
        self.batch_size = batch_size
        self.pull_limit = pull_limit
        self.interval = interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self._round_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_round: SyncRound | None = None
        self._last_success_at: datetime | None = None
        self._failures = 0
        self._unsubscribe = store.on_change(self._on_store_change)

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the background loop and close the HTTP client (the store stays open)."""
        self.stop()
        self._unsubscribe()
        self._http.close()

    def _on_store_change(self, entity: str, ids: list[str]) -> None:
        if entity == "outbox":
            self._wake.set()

    def wake(self) -> None:
        """Run the next round now (when idle after a success)."""
        self._wake.set()

    # --- one round -----------------------------------------------------------------

    def run_once(self) -> SyncRound:
        """Push every pending op (in seq order, in batches), then pull until the end."""
        with self._round_lock:
            tally = _Tally()
            error: RoundError | None = None
            try:
                self._push_all(tally)
                self._pull_all(tally)
            except RoundError as exc:
                error = exc
            result = SyncRound(
                pushed=tally.pushed,
                acked=tally.acked,
                rejected=tally.rejected,
                pulled=tally.pulled,
                cursor=self.store.cursor,
                pending=self.store.pending_count(),
                error=None if error is None else str(error),
                error_kind=None if error is None else error.kind,
            )
            self._last_round = result
            if result.ok:
                self._last_success_at = self._clock()
                self._failures = 0
            else:
                self._failures += 1
            return result

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise RoundError(
                "offline", f"central unreachable: {exc.__class__.__name__}: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            raise RoundError(
                "unauthorized",
                f"central refused the token ({response.status_code}): {response.text[:200]}",
            )
        if response.status_code >= 500:
            raise RoundError(
                "server", f"central error {response.status_code}: {response.text[:200]}"
            )
        return response

    def _push_all(self, tally: _Tally) -> None:
        batch = self.batch_size
        # Bounded: ops recorded during the round are pushed too, but never forever.
        for _ in range(10_000):
            ops = self.store.pending(limit=batch)
            if not ops:
                return
            body = {"device": self.store.device_id, "ops": [op.to_wire() for op in ops]}
            response = self._send("POST", "/v1/sync/push", json=body)
            if response.status_code == 413 and batch > 1:
                batch = max(1, batch // 2)  # too big for one push: halve and retry
                continue
            _require_ok(response, "push")
            try:
                answer = response.json()
                results = list(answer.get("results") or [])
                acked_seq = int(answer.get("acked_seq") or 0)
            except (ValueError, TypeError, AttributeError) as exc:
                raise RoundError(
                    "protocol", f"push answer is not the contract's shape: {exc}"
                ) from exc
            tally.pushed += len(ops)
            before = self.store.pending_count()
            self.store.mark_acked(results, acked_seq)
            progressed = before - self.store.pending_count()
            tally.rejected += sum(1 for r in results if r.get("status") == "rejected")
            tally.acked += progressed
            if progressed <= 0:
                raise RoundError(
                    "protocol", f"central acknowledged none of seq {ops[0].seq}..{ops[-1].seq}"
                )
        raise RoundError("protocol", "outbox did not drain")

    def _fetch_page(self, cursor: int, epoch: str | None) -> httpx.Response:
        headers = {} if epoch is None else {EPOCH_HEADER: epoch}
        params = {"cursor": cursor, "limit": self.pull_limit}
        return self._send("GET", "/v1/sync/pull", params=params, headers=headers)

    def _pull_all(self, tally: _Tally) -> None:
        """Pull pages until the end of the feed, each written in its own transaction in
        feed order. While a page is written, the next one is already being fetched (the
        server builds it meanwhile), so a long pull takes about the larger of the two
        times, not their sum. A page fetched ahead is used only after the page before it
        was written; if that write fails, it is dropped."""
        resets = 0
        with ThreadPoolExecutor(1, thread_name_prefix=f"pull-{self.store.device_id}") as ahead:
            fetched: Future[httpx.Response] | None = None
            for _ in range(100_000):
                if fetched is None:
                    response = self._fetch_page(self.store.cursor, self.store.epoch)
                else:
                    response, fetched = fetched.result(), None
                if response.status_code == 409:
                    if resets:
                        raise RoundError(
                            "protocol", "central answered 409 again after a re-snapshot"
                        )
                    resets += 1
                    log.warning("central feed rebuilt (409): dropping the replica and re-pulling")
                    self.store.reset_replica()
                    continue
                changes, cursor, more, epoch = _read_page(response)
                if more:
                    fetched = ahead.submit(self._fetch_page, cursor, epoch)
                tally.pulled += self.store.apply_changes(changes, cursor, epoch, final=not more)
                if not more:
                    return
        raise RoundError("protocol", "change feed did not end")

    # --- background loop -----------------------------------------------------------

    def start(self) -> None:
        """Run rounds on a daemon thread until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"sync-{self.store.device_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop and wait for the current round to end."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)
        self._thread = None

    def backoff_delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed rounds in a row (equal jitter)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** max(failures - 1, 0)))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.run_once()
            except Exception as exc:  # a bug must not kill the loop silently
                log.exception("sync round failed")
                self._failures += 1
                result = SyncRound(error=f"{exc.__class__.__name__}: {exc}", error_kind="bug")
                self._last_round = result
            if result.ok:
                if result.pending:
                    continue  # ops were recorded during the round: go again now
                self._wake.wait(self.interval)
                self._wake.clear()
            else:
                failures = self._failures
                delay = (
                    self.backoff_cap
                    if result.error_kind == "unauthorized"
                    else self.backoff_delay(failures)
                )
                self._stop.wait(delay)

    @property
    def status(self) -> SyncStatus:
        """The current sync state for a UI."""
        last = self._last_round
        return SyncStatus(
            online=last is not None and last.error_kind not in ("offline",),
            pending=self.store.pending_count(),
            last_success_at=self._last_success_at,
            last_error=None if last is None else last.error,
            last_round=last,
        )
