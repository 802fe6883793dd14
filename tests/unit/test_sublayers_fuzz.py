"""Fuzzing: any string either parses to a canonical order or fails with one clean line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.sublayers import ROLES, parse_order

ALPHABET = "sfcSFC.:0123456789-_ xrandomsandwichinterleaved"
texts = st.one_of(
    st.text(),
    st.text(alphabet=ALPHABET, max_size=40),
    st.builds(
        lambda g, a, b: f"{g}:{a}:{b}",
        st.sampled_from(["sandwich", "random", "interleaved", "Sandwich", "x"]),
        st.integers(-3, 40) | st.text(alphabet="0123456789-+ ", max_size=30),
        st.integers(-3, 40) | st.text(alphabet="0123456789-+ ", max_size=30),
    ),
    st.builds(
        lambda g, a: f"{g}:{a}",
        st.sampled_from(["interleaved", "random", "sandwich"]),
        st.integers(-3, 40),
    ),
)


def _check(text: str, role: str, auto_cross: bool) -> None:
    try:
        order = parse_order(text, role=role, auto_cross=auto_cross)
    except EvotransError as err:
        message = str(err)
        assert message and len(message.splitlines()) == 1 and message == message.strip()
        return
    allowed = "scf" if role == "decoder" else "sf"
    assert order and set(order) <= set(allowed) and "s" in order
    assert parse_order(order, role=role, auto_cross=auto_cross) == order  # fixpoint
    assert parse_order(order, role=role) == order  # canonical as a literal too


@settings(max_examples=500, deadline=None)
@given(text=texts, role=st.sampled_from(ROLES), auto_cross=st.booleans())
def test_parses_or_fails_cleanly(text, role, auto_cross):
    _check(text, role, auto_cross)


@settings(max_examples=200, deadline=None)
@given(
    letters=st.text(alphabet="sfcSFC.", min_size=1, max_size=60),
    role=st.sampled_from(ROLES),
    auto_cross=st.booleans(),
)
def test_letter_strings(letters, role, auto_cross):
    _check(letters, role, auto_cross)
