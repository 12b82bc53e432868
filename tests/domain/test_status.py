"""Order state machine: transitions, cancel/hold rules, and merge as a lattice join."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import DomainError, ExceptionKind, OrderStatus
from domain.status import (
    PATH,
    OrderState,
    add_exception,
    advance,
    cancel,
    hold,
    is_open,
    merge,
    release,
    status_rank,
)

S = OrderStatus
CAS = ExceptionKind.CANCEL_AFTER_SHIP


def test_path_is_the_documented_order() -> None:
    assert [s.value for s in PATH] == [
        "received",
        "allocated",
        "picking",
        "picked",
        "packed",
        "shipped",
        "delivered",
    ]
    assert [status_rank(s) for s in PATH] == sorted(status_rank(s) for s in PATH)


def test_advance_moves_forward_and_absorbs_late_and_duplicate_events() -> None:
    state = advance(OrderState(), S.PICKED)
    assert state.status is S.PICKED
    assert advance(state, S.ALLOCATED) == state  # late
    assert advance(state, S.PICKED) == state  # duplicate
    assert advance(state, S.PACKED).status is S.PACKED


def test_cancel_before_ship_cancels() -> None:
    state = cancel(advance(OrderState(), S.PACKED))
    assert state.status is S.CANCELLED
    assert CAS not in state.exceptions
    assert advance(state, S.PICKED).status is S.CANCELLED


@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED])
def test_cancel_after_ship_becomes_exception(status: OrderStatus) -> None:
    state = cancel(OrderState(status))
    assert state.status is status
    assert state.exceptions == {CAS}


def test_shipment_reported_after_cancel_wins_with_exception() -> None:
    state = advance(cancel(OrderState()), S.SHIPPED)
    assert state.status is S.SHIPPED
    assert CAS in state.exceptions


def test_advance_to_cancelled_or_on_hold_delegates() -> None:
    assert advance(OrderState(), S.CANCELLED).status is S.CANCELLED
    assert advance(OrderState(S.PICKING), S.ON_HOLD).status is S.ON_HOLD


def test_hold_keeps_place_and_release_resumes() -> None:
    held = hold(OrderState(S.PICKING))
    assert held.status is S.ON_HOLD and held.held and held.position is S.PICKING
    assert not is_open(S.SHIPPED) and is_open(S.ON_HOLD)
    assert hold(held) == held
    # A pick that physically happened while held still moves the place forward.
    held = advance(held, S.PICKED)
    assert held.status is S.ON_HOLD and held.position is S.PICKED
    resumed = release(held)
    assert resumed.status is S.PICKED and not resumed.held
    assert release(held, S.PACKED).status is S.PACKED
    assert release(held, S.RECEIVED).status is S.PICKED  # never backwards


def test_hold_on_closed_order_is_ignored() -> None:
    assert hold(OrderState(S.SHIPPED)) == OrderState(S.SHIPPED)
    assert hold(OrderState(S.CANCELLED)).status is S.CANCELLED


def test_cancel_while_held_cancels() -> None:
    assert cancel(hold(OrderState(S.ALLOCATED))).status is S.CANCELLED


def test_shipping_a_held_order_shows_shipped() -> None:
    assert advance(hold(OrderState(S.PACKED)), S.SHIPPED).status is S.SHIPPED


def test_release_to_non_path_status_is_rejected() -> None:
    with pytest.raises(DomainError, match="path status"):
        release(hold(OrderState()), S.ON_HOLD)


def test_later_release_beats_earlier_hold_in_merge() -> None:
    held = hold(OrderState(S.ALLOCATED))
    released = release(held)
    assert merge(held, released).status is S.ALLOCATED
    assert merge(released, held).status is S.ALLOCATED
    # Re-held after the release: newest decision wins again.
    assert merge(hold(released), held).status is S.ON_HOLD


def test_add_exception_unites() -> None:
    state = add_exception(
        add_exception(OrderState(), ExceptionKind.SHORT_PICK), ExceptionKind.DAMAGED
    )
    assert state.exceptions == {ExceptionKind.SHORT_PICK, ExceptionKind.DAMAGED}
    assert add_exception(state, ExceptionKind.DAMAGED) is state


def test_on_hold_construction_is_normalised() -> None:
    state = OrderState(S.ON_HOLD)
    assert state.held_from is S.RECEIVED and state.hold_seq % 2 == 1
    with pytest.raises(DomainError):
        OrderState(S.ON_HOLD, held_from=S.SHIPPED)


# --- properties ------------------------------------------------------------------------

statuses = st.sampled_from(list(OrderStatus))
exception_sets = st.frozensets(st.sampled_from(list(ExceptionKind)), max_size=3)
states = st.builds(
    OrderState,
    status=statuses,
    exceptions=exception_sets,
    held_from=st.sampled_from([None, *PATH[:5]]),
    hold_seq=st.integers(0, 5),
)
events = st.one_of(
    st.tuples(st.just("advance"), st.sampled_from(PATH)),
    st.tuples(st.just("cancel"), st.none()),
    st.tuples(st.just("hold"), st.none()),
    st.tuples(st.just("release"), st.sampled_from(PATH)),
    st.tuples(st.just("exception"), st.sampled_from(list(ExceptionKind))),
)


def _apply(state: OrderState, event: tuple[str, object]) -> OrderState:
    kind, arg = event
    if kind == "advance":
        assert isinstance(arg, OrderStatus)
        return advance(state, arg)
    if kind == "cancel":
        return cancel(state)
    if kind == "hold":
        return hold(state)
    if kind == "release":
        assert isinstance(arg, OrderStatus)
        return release(state, arg)
    assert isinstance(arg, ExceptionKind)
    return add_exception(state, arg)


@settings(max_examples=200, deadline=None)
@given(states, states)
def test_merge_is_commutative(a: OrderState, b: OrderState) -> None:
    assert merge(a, b) == merge(b, a)


@settings(max_examples=200, deadline=None)
@given(states, states, states)
def test_merge_is_associative(a: OrderState, b: OrderState, c: OrderState) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@settings(max_examples=100, deadline=None)
@given(states)
def test_merge_is_idempotent(a: OrderState) -> None:
    assert merge(a, a) == a


@settings(max_examples=150, deadline=None)
@given(states, states)
def test_merge_never_moves_position_back(a: OrderState, b: OrderState) -> None:
    merged = merge(a, b)
    assert status_rank(merged.position) >= max(status_rank(a.position), status_rank(b.position))
    assert merged.exceptions >= a.exceptions | b.exceptions


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=12))
def test_status_never_regresses_under_any_event_sequence(seq: list[tuple[str, object]]) -> None:
    state = OrderState()
    for event in seq:
        before = state
        state = _apply(state, event)
        assert status_rank(state.position) >= status_rank(before.position)
        assert state.exceptions >= before.exceptions
        if not is_open(before.status) and before.status is not S.CANCELLED:
            assert state.status in (S.SHIPPED, S.DELIVERED)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_replicas_agree_whatever_the_merge_order(
    seq: list[tuple[str, object]], rnd: object
) -> None:
    # Each event produces a state on some device; merging them in any order converges.
    snapshots = []
    state = OrderState()
    for event in seq:
        state = _apply(state, event)
        snapshots.append(state)
    shuffled = list(snapshots)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    forward = functools.reduce(merge, snapshots)
    backward = functools.reduce(merge, shuffled)
    assert forward == backward
    assert forward == merge(forward, state)
    assert status_rank(forward.position) >= status_rank(state.position)
