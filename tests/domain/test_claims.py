"""Task claims: which claim holds a task, on every device the same."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from domain.claims import Claim, ClaimBook, claim_from_payload, progress_of

EARLY = "2026-11-25T10:00:00.100000+00:00"
LATE = "2026-11-25T10:00:00.200000+00:00"


def test_the_earliest_claim_holds_the_task_then_the_device_id() -> None:
    book = ClaimBook("hh-2")
    late, early = Claim("T", "hh-3", "ben", LATE), Claim("T", "hh-1", "anna", EARLY)
    book.heard("T", "hh-3", late)
    assert book.holding("T") == late
    book.heard("T", "hh-1", early)
    assert book.holding("T") == book.holder("T") == early
    tie = Claim("T", "hh-0", "cem", EARLY)
    book.heard("T", "hh-0", tie)
    assert book.holding("T") == tie  # same time: the lower device id
    assert book.claimants("T") == [tie, early, late]
    assert book.holding("other") is None


def test_an_offline_device_holds_nothing_and_a_cleared_claim_is_gone() -> None:
    book = ClaimBook("hh-2")
    book.heard("T", "hh-1", Claim("T", "hh-1", "anna", EARLY))
    book.heard("T", "hh-3", Claim("T", "hh-3", "ben", LATE))
    book.device_state("hh-1", False)
    held = book.holding("T")
    assert held is not None and held.device == "hh-3"
    book.device_state("hh-1", True)
    held = book.holding("T")
    assert held is not None and held.device == "hh-1"
    book.heard("T", "hh-1", None)
    book.heard("T", "hh-3", None)
    assert book.holding("T") is None and book.claimants("T") == []


def test_a_finished_task_stays_held_while_its_handheld_is_off_the_air() -> None:
    book = ClaimBook("hh-2")
    done = Claim("T", "hh-1", "anna", EARLY, done=True)
    book.heard("T", "hh-1", done)
    book.device_state("hh-1", False)
    assert book.holder("T") == done  # the units are picked, whoever is on the air
    assert claim_from_payload("T", "hh-1", {**done.body(), "at": EARLY}) == done
    book.forget("T")  # the task closed
    assert book.claimants("T") == [] and book.holding("T") is None


def test_a_devices_own_claim_is_never_a_holder_against_itself() -> None:
    book = ClaimBook("hh-1")
    mine = Claim("T", "hh-1", "anna", EARLY)
    book.heard("T", "hh-1", mine)
    assert book.holding("T") == mine and book.holder("T") is None
    assert book.own("T") == mine and book.own_tasks() == ["T"]
    book.heard("T", "hh-2", Claim("T", "hh-2", "ben", LATE))
    assert book.holder("T") is None  # mine is earlier
    book.heard("U", "hh-2", Claim("U", "hh-2", "ben", LATE))
    assert book.holder("U") is not None and book.own_tasks() == ["T"]


def test_payloads_that_are_not_claims_hold_nothing() -> None:
    good = {"task_id": "T", "device": "hh-1", "operator": "anna", "at": EARLY, "seq": 4}
    assert claim_from_payload("T", "hh-1", good) == Claim("T", "hh-1", "anna", EARLY)
    assert claim_from_payload("T", "hh-1", {"at": EARLY}) == Claim("T", "hh-1", "", EARLY)
    for bad in (None, {}, [], {"task_id": "U", "at": EARLY}, {"device": "hh-9", "at": EARLY}):
        assert claim_from_payload("T", "hh-1", bad) is None
    assert claim_from_payload("T", "hh-1", {"task_id": "T", "operator": "anna"}) is None


def test_a_claim_carries_its_pickers_progress_and_a_released_one_holds_nothing() -> None:
    units = {("O-1", "SKU-BAG", "A01-01-1"): 2, ("O-2", "SKU-PEN", "B02-05-2"): 1}
    claim = Claim("T", "hh-1", "anna", EARLY, progress=progress_of(units))
    body = {**claim.body(), "at": EARLY}
    assert body["progress"][0] == {
        "order_id": "O-1",
        "sku": "SKU-BAG",
        "location": "A01-01-1",
        "qty": 2,
    }
    assert claim_from_payload("T", "hh-1", body) == claim and claim.units() == units
    book = ClaimBook("hh-2")
    book.heard("T", "hh-1", claim)
    assert book.holder("T") == claim
    released = Claim("T", "hh-1", "anna", EARLY, released=True, progress=claim.progress)
    assert claim_from_payload("T", "hh-1", {**released.body(), "at": EARLY}) == released
    book.heard("T", "hh-1", released)
    assert book.holding("T") is None and book.claimants("T") == [released]
    # Another picker's units count for this device; its own do not.
    book.heard(
        "T",
        "hh-3",
        Claim("T", "hh-3", "cem", LATE, progress=progress_of({("O-1", "SKU-BAG", "A01-01-1"): 1})),
    )
    book.heard(
        "T",
        "hh-2",
        Claim("T", "hh-2", "ben", LATE, progress=progress_of({("O-2", "SKU-PEN", "B02-05-2"): 1})),
    )
    assert book.done_elsewhere("T") == {
        ("O-1", "SKU-BAG", "A01-01-1"): 3,
        ("O-2", "SKU-PEN", "B02-05-2"): 1,
    }
    assert book.done_elsewhere("other") == {}


def test_a_later_claim_with_units_picked_took_the_task_over() -> None:
    book = ClaimBook("hh-1")
    mine = Claim("T", "hh-1", "anna", EARLY, progress=progress_of({("O", "S", "A"): 2}))
    book.heard("T", "hh-1", mine)
    assert book.taken_over("T") is None
    later = Claim("T", "hh-2", "ben", LATE)
    book.heard("T", "hh-2", later)
    assert book.taken_over("T") is None  # opened it, picked nothing: the race rule applies
    picked = Claim("T", "hh-2", "ben", LATE, progress=progress_of({("O", "P", "B"): 1}))
    book.heard("T", "hh-2", picked)
    assert book.taken_over("T") == picked
    book.device_state("hh-2", False)
    assert book.taken_over("T") is None  # off the air and not done: nobody is on it
    done = Claim("T", "hh-2", "ben", LATE, done=True, progress=picked.progress)
    book.heard("T", "hh-2", done)
    assert book.taken_over("T") == done
    book.heard(
        "T", "hh-2", Claim("T", "hh-2", "ben", LATE, released=True, progress=picked.progress)
    )
    assert book.taken_over("T") is None
    # A claim made before this device's is the race, not a take-over.
    book.heard("T", "hh-0", Claim("T", "hh-0", "cem", "2026-11-25T09:00:00+00:00", done=True))
    assert book.taken_over("T") is None
    # This device finished or gave up the task: nothing is taken from it.
    book.heard("T", "hh-3", Claim("T", "hh-3", "dan", LATE, progress=picked.progress))
    assert book.taken_over("T") is not None
    book.heard("T", "hh-1", Claim("T", "hh-1", "anna", EARLY, released=True))
    assert book.taken_over("T") is None
    assert book.taken_over("other") is None


def test_progress_entries_that_are_not_units_count_nothing() -> None:
    good = {"order_id": "O-1", "sku": "S", "location": "A", "qty": 2}
    entries = [
        good,
        {**good, "qty": 0},
        {**good, "qty": -1},
        {**good, "qty": 1.5},
        {**good, "qty": True},
        {**good, "sku": ""},
        {**good, "location": 7},
        {"order_id": "O-1"},
        "O-1",
        {**good, "qty": 3},  # the same bin twice: the units add up
    ]
    claim = claim_from_payload("T", "hh-1", {"at": EARLY, "progress": entries})
    assert claim is not None and claim.units() == {("O-1", "S", "A"): 5}
    claim = claim_from_payload("T", "hh-1", {"at": EARLY, "progress": {"O-1": 2}})
    assert claim is not None and claim.progress == ()


claims = st.lists(
    st.tuples(
        st.sampled_from(["hh-1", "hh-2", "hh-3"]),
        st.sampled_from([EARLY, LATE, "2026-11-25T10:00:01+00:00"]),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda c: c[0],
)


@given(claims, st.sets(st.sampled_from(["hh-1", "hh-2", "hh-3"])))
def test_every_device_settles_the_same_holder_whatever_order_it_hears_them(
    made: list[tuple[str, str]], offline: set[str]
) -> None:
    holders = set()
    for order in itertools.permutations(made):
        for me in ("hh-1", "hh-2", "dispatch-1"):
            book = ClaimBook(me)
            for device in offline:
                book.device_state(device, False)
            for device, at in order:
                book.heard("T", device, Claim("T", device, "", at))
            holders.add(book.holding("T"))
    assert len(holders) == 1
    live = [(at, d) for d, at in made if d not in offline]
    (holder,) = holders
    assert (holder is None) == (not live)
    if holder is not None:
        assert (holder.at, holder.device) == min(live)
