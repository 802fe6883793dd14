"""Fuzzing: any string either parses to a canonical order or fails cleanly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.sublayers import ROLES, parse_order

ALPHABET = "sfcSFC.:0123456789-_ xrandomsandwichinterleaved"
texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=ALPHABET, max_size=40),
    st.builds(lambda g, a, b: f"{g}:{a}:{b}", st.sampled_from(["sandwich", "random", "x"]),
              st.integers(-3, 40), st.integers(-3, 40)),
)


@settings(max_examples=400, deadline=None)
@given(text=texts, role=st.sampled_from(ROLES), auto_cross=st.booleans())
def test_parses_or_fails_cleanly(text, role, auto_cross):
    try:
        order = parse_order(text, role=role, auto_cross=auto_cross)
    except EvotransError as err:
        message = str(err)
        assert message and "\n" not in message
        return
    allowed = "scf" if role == "decoder" else "sf"
    assert order and set(order) <= set(allowed) and "s" in order
    assert parse_order(order, role=role, auto_cross=auto_cross) == order  # fixpoint
