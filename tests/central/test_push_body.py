"""Reading a sync push body: msgspec's fast path accepts exactly what pydantic's schema
does, with the same values, and pydantic makes the error for anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from central.api.schemas import PUSH, read_push

# JSON values as a device might put in ``data`` (and as a broken one might put anywhere).
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Each field is usually right and sometimes wrong in a way one of the two might treat
# differently: empty or too long, a number as text, a float for an int, zero, null.
texts = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["", "x" * 40, "x" * 41, "x" * 80, "x" * 81, "7", "\u00e9" * 40]),
    values,
)
seqs = st.one_of(
    st.integers(min_value=1, max_value=2**40),
    st.sampled_from([0, -1, "7", "x", 7.0, 7.5, True, None, 2**64]),
)
ops = st.fixed_dictionaries(
    {"op_id": texts, "seq": seqs, "kind": texts, "at": texts, "data": values},
    optional={"extra": values},
)
bodies = st.one_of(
    st.fixed_dictionaries({"device": texts, "ops": st.lists(ops, max_size=3)}),
    values,
)


def outcome(read: Any, body: bytes) -> Any:
    try:
        return read(body)
    except ValidationError:
        return "invalid"


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_the_fast_reader_agrees_with_the_schema(body: Any) -> None:
    raw = json.dumps(body).encode()
    assert outcome(read_push, raw) == outcome(PUSH.validate_json, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"device": "HH-1", "ops": [{"op_id": "a", "seq": 1, "kind": "k", "at": "t"}]}',
        b'{"device": "HH-1", "ops": [{"op_id": "a", "seq": 0, "kind": "k", "at": "t", "data": {}}]}',
        b'{"device": "", "ops": []}',
        b'{"device": "HH-1", "ops": {}}',
        b'{"device": "HH-1", "ops": [], "device": "HH-2"',
    ],
)
def test_a_body_the_schema_refuses_gets_pydantics_error(raw: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        read_push(raw)
    with pytest.raises(ValidationError) as expected:
        PUSH.validate_json(raw)
    assert caught.value.errors() == expected.value.errors()


def test_a_lax_value_the_schema_accepts_is_accepted() -> None:
    """``"seq": "7"`` is refused by msgspec and taken by pydantic's lax rules, as before."""
    raw = b'{"device": "HH-1", "ops": [{"op_id": "a", "seq": "7", "kind": "k", "at": "t", "data": {}}]}'
    assert read_push(raw)["ops"][0]["seq"] == 7
