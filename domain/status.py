"""The order state machine (DESIGN.md §3) as a join-semilattice.

Status moves along ``PATH`` and never backwards: every transition is a ``merge`` with the
state the event implies, so late, duplicated or reordered events are absorbed and any
two replicas that saw the same events agree, whatever the order they saw them in.

Merge order of positions: received < allocated < picking < picked < packed < cancelled <
shipped < delivered. A cancel that meets a shipped (or delivered) order loses to the
physical fact and leaves a ``CANCEL_AFTER_SHIP`` exception for a person to handle.

``ON_HOLD`` is a side state, not a position: an order on hold keeps its place on the path
in ``held_from`` (floor facts such as a pick that already happened still move that place
forward) and reports ``status == ON_HOLD`` while it is open. Holds are counted in
``hold_seq`` (odd = held): ``hold`` and ``release`` each bump it, merge takes the maximum,
so a later release beats an earlier hold and two concurrent holds are one hold. Once an
order is shipped, delivered or cancelled a hold no longer shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.models import DomainError, ExceptionKind, OrderStatus

PATH: tuple[OrderStatus, ...] = (
    OrderStatus.RECEIVED,
    OrderStatus.ALLOCATED,
    OrderStatus.PICKING,
    OrderStatus.PICKED,
    OrderStatus.PACKED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)

_RANK: dict[OrderStatus, int] = {
    OrderStatus.ON_HOLD: -1,
    OrderStatus.RECEIVED: 0,
    OrderStatus.ALLOCATED: 1,
    OrderStatus.PICKING: 2,
    OrderStatus.PICKED: 3,
    OrderStatus.PACKED: 4,
    OrderStatus.CANCELLED: 5,
    OrderStatus.SHIPPED: 6,
    OrderStatus.DELIVERED: 7,
}
_CLOSED = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED})
_OPEN_PATH = frozenset(PATH[:5])


def status_rank(status: OrderStatus) -> int:
    """Position in the merge order (received 0 .. packed 4, cancelled 5, shipped 6,
    delivered 7); ``ON_HOLD`` alone has no position and ranks -1."""
    return _RANK[status]


def is_open(status: OrderStatus) -> bool:
    """True while the warehouse still has work to do: not shipped, delivered or cancelled."""
    return status not in _CLOSED


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order's status and exception set; ``held_from``/``hold_seq`` carry a hold.

    Inconsistent combinations are normalised on construction (``ON_HOLD`` without a
    place is held from ``RECEIVED``; an even ``hold_seq`` with ``ON_HOLD`` becomes odd).
    """

    status: OrderStatus = OrderStatus.RECEIVED
    exceptions: frozenset[ExceptionKind] = frozenset()
    held_from: OrderStatus | None = None
    hold_seq: int = 0

    def __post_init__(self) -> None:
        if self.hold_seq < 0:
            raise DomainError(f"hold_seq must be >= 0, got {self.hold_seq}")
        if not isinstance(self.exceptions, frozenset):
            object.__setattr__(self, "exceptions", frozenset(self.exceptions))
        if self.status is OrderStatus.ON_HOLD:
            held_from = self.held_from or OrderStatus.RECEIVED
            if held_from not in _OPEN_PATH:
                raise DomainError(f"held_from must be an open path status, got {held_from}")
            object.__setattr__(self, "held_from", held_from)
            if self.hold_seq % 2 == 0:
                object.__setattr__(self, "hold_seq", self.hold_seq + 1)
        else:
            object.__setattr__(self, "held_from", None)
            if self.status not in _CLOSED and self.hold_seq % 2 == 1:
                # An open order that is not ON_HOLD has been released.
                object.__setattr__(self, "hold_seq", self.hold_seq + 1)

    @property
    def position(self) -> OrderStatus:
        """Where the order is on its path (the held place while on hold)."""
        return self.held_from if self.held_from is not None else self.status

    @property
    def held(self) -> bool:
        """True while the order is open and on hold."""
        return self.status is OrderStatus.ON_HOLD


def _build(
    position: OrderStatus, exceptions: frozenset[ExceptionKind], hold_seq: int
) -> OrderState:
    if hold_seq % 2 == 1 and position in _OPEN_PATH:
        return OrderState(OrderStatus.ON_HOLD, exceptions, position, hold_seq)
    return OrderState(position, exceptions, None, hold_seq)


def merge(a: OrderState, b: OrderState) -> OrderState:
    """Join two views of one order: furthest position wins, exceptions unite, the later
    hold/release wins; cancelled against shipped/delivered keeps the shipment and adds
    ``CANCEL_AFTER_SHIP``."""
    pa, pb = a.position, b.position
    position = pa if _RANK[pa] >= _RANK[pb] else pb
    exceptions = a.exceptions | b.exceptions
    if _RANK[position] > _RANK[OrderStatus.CANCELLED] and OrderStatus.CANCELLED in (pa, pb):
        exceptions = exceptions | {ExceptionKind.CANCEL_AFTER_SHIP}
    return _build(position, exceptions, max(a.hold_seq, b.hold_seq))


def advance(state: OrderState, to: OrderStatus) -> OrderState:
    """Record that the order reached ``to``; a late or duplicated event changes nothing.
    ``to=CANCELLED`` cancels and ``to=ON_HOLD`` holds."""
    if to is OrderStatus.CANCELLED:
        return cancel(state)
    if to is OrderStatus.ON_HOLD:
        return hold(state)
    return merge(state, OrderState(to))


def cancel(state: OrderState) -> OrderState:
    """Before shipping the order becomes CANCELLED; at or after SHIPPED its status stays
    and a ``CANCEL_AFTER_SHIP`` exception is added."""
    return merge(state, OrderState(OrderStatus.CANCELLED))


def hold(state: OrderState) -> OrderState:
    """Put an open order on hold at its current place; closed or already held: unchanged."""
    if state.held or not is_open(state.status):
        return state
    return _build(state.position, state.exceptions, state.hold_seq + 1)


def release(state: OrderState, to: OrderStatus = OrderStatus.RECEIVED) -> OrderState:
    """Lift a hold and resume at the later of the held place and ``to`` (a path status);
    on an order that is not held this is ``advance(state, to)``."""
    if to not in PATH:
        raise DomainError(f"release target must be a path status, got {to.value}")
    if not state.held:
        return advance(state, to)
    released = _build(state.position, state.exceptions, state.hold_seq + 1)
    return merge(released, OrderState(to))


def add_exception(state: OrderState, kind: ExceptionKind) -> OrderState:
    """Attach an exception; the set only grows."""
    if kind in state.exceptions:
        return state
    return _build(state.position, state.exceptions | {kind}, state.hold_seq)
