"""Sublayer orders: generators, compatibility, errors, parameter accounting."""

from __future__ import annotations

import pytest

from evotrans.errors import EvotransError
from evotrans.sublayers import (
    attention_params,
    counts,
    ffn_params,
    parameter_count,
    parse_order,
    random_order,
    sandwich,
    sandwich_coefficient,
    with_auto_cross,
)


def test_sandwich_and_interleaved():
    assert parse_order("sandwich:4:0") == "sfsfsfsf" == parse_order("interleaved:4")
    assert parse_order("sandwich:4:2") == "sssfsfff"
    assert parse_order("sandwich:3:3") == "sssfff"
    assert sandwich(16, 6) == "s" * 6 + "sf" * 10 + "f" * 6


def test_random_orders_are_reproducible_and_equal_parameter():
    a = parse_order("random:8:3")
    assert a == parse_order("random:8:3") == random_order(8, 3)
    assert counts(a) == {"s": 8, "c": 0, "f": 8}
    draws = {parse_order(f"random:8:{seed}") for seed in range(20)}
    assert len(draws) > 15
    assert random_order(3, 0) == "fsssff"  # pinned: same on every machine and Python


def test_dotted_two_slot_form_and_case():
    assert parse_order("s.sfsf.f") == "ssfsff"
    assert parse_order("SFsf") == "sfsf"


def test_error_names_position_and_letter():
    with pytest.raises(EvotransError) as err:
        parse_order("ssxf")
    assert str(err.value) == (
        "sublayer order \"ssxf\": position 3 'x' is not one of s, f "
        "(c only in a translation decoder)"
    )


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("ffff", "at least one self-attention"),
        ("sandwich:4:9", "K=9 must be between 0 and 4"),
        ("sandwich:4", "expected sandwich:N:K"),
        ("sandwich:x:1", "N='x'"),
        ("random:0:1", "N=0"),
        ("zigzag:3", "unknown generator 'zigzag'"),
        ("s f", "position 2 ' '"),
        ("...", "has no sublayers"),
    ],
)
def test_bad_orders(text, fragment):
    with pytest.raises(EvotransError) as err:
        parse_order(text)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_roles_and_auto_cross():
    with pytest.raises(EvotransError, match="position 2 'c'"):
        parse_order("scf", role="lm")
    with pytest.raises(EvotransError, match="position 2 'c'"):
        parse_order("scf", role="encoder")
    assert parse_order("scf", role="decoder") == "scf"
    assert parse_order("ssff", role="decoder", auto_cross=True) == "scscff"
    assert parse_order("sscff", role="decoder", auto_cross=True) == "sscff"  # c written: kept
    assert with_auto_cross("sfsf") == "scfscf"
    assert parse_order("ssff", role="lm", auto_cross=True) == "ssff"


def test_long_input_is_truncated_in_the_message():
    with pytest.raises(EvotransError) as err:
        parse_order("s" * 500 + "x")
    assert len(str(err.value)) < 200 and "position 501" in str(err.value)


def test_sandwich_coefficient():
    assert sandwich_coefficient("sssfsfff") == 2
    assert sandwich_coefficient("sfsf") == 0
    assert sandwich_coefficient("sffs") is None


def test_parameter_formulas_by_hand():
    d, ffn = 8, 32
    assert attention_params(d) == 4 * (d * d + d) + 2 * d
    assert ffn_params(d, ffn) == d * ffn + ffn + ffn * d + d + 2 * d
    report = parameter_count("ssff", d=d, ffn=ffn, vocab=100, normalize_before=True)
    assert report.self_attention == 2 * attention_params(d)
    assert report.feed_forward == 2 * ffn_params(d, ffn)
    assert report.final_norm == 2 * d
    assert report.embeddings == 100 * d and report.output_projection == 0
    assert report.total == 2 * attention_params(d) + 2 * ffn_params(d, ffn) + 2 * d + 800
    unshared = parameter_count("ssff", d=d, ffn=ffn, vocab=100, shared_output=False)
    assert unshared.output_projection == 800
    learned = parameter_count("sf", d=d, ffn=ffn, vocab=100, learned_positions=True,
                              max_positions=64)
    assert learned.positions == (64 + 1 + 1) * d


def test_sandwich_has_the_parameters_of_the_baseline():
    for k in range(5):
        assert (parameter_count(f"sandwich:4:{k}" and sandwich(4, k), d=16, ffn=64).total
                == parameter_count("sfsfsfsf", d=16, ffn=64).total)
