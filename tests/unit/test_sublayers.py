"""Sublayer orders: generators, compatibility, errors, roles, parameter accounting."""

from __future__ import annotations

import pytest

from evotrans.errors import EvotransError
from evotrans.sublayers import (
    SublayerOrder,
    attention_params,
    counts,
    describe,
    ffn_params,
    interleaved,
    is_equal_parameter,
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
    assert parse_order("SANDWICH:2:1") == "ssff"
    assert sandwich(16, 6) == "s" * 6 + "sf" * 10 + "f" * 6
    assert interleaved(3) == "sfsfsf"


def test_random_orders_are_reproducible_with_exact_counts():
    a = parse_order("random:8:3")
    assert a == parse_order("random:8:3") == random_order(8, 3)
    assert counts(a) == {"s": 8, "f": 8, "c": 0}
    draws = {parse_order(f"random:8:{seed}") for seed in range(20)}
    assert len(draws) > 15  # different seeds differ
    assert random_order(3, 0) == "fsssff"  # pinned: same on every machine and Python
    assert all(counts(random_order(n, n)) == {"s": n, "f": n, "c": 0} for n in range(1, 30))


def test_dotted_two_slot_form_and_case():
    assert parse_order("s.sfsf.f") == "ssfsff"
    assert parse_order("SFsf") == "sfsf"
    assert parse_order("S.SF.f", role="decoder") == "ssff"


def test_error_names_position_and_letter():
    with pytest.raises(EvotransError) as err:
        parse_order("ssxf")
    assert str(err.value) == (
        "sublayer order \"ssxf\": position 3 'x' is not one of s, f "
        "(c only in a translation decoder)"
    )


def test_generator_error_text():
    with pytest.raises(EvotransError) as err:
        parse_order("sandwich:4:9")
    assert str(err.value) == 'sublayer order "sandwich:4:9": K=9 must be between 0 and N=4'


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("ffff", "at least one self-attention"),
        ("sandwich:4", "expected sandwich:N:K"),
        ("interleaved:4:1", "expected interleaved:N"),
        ("random:4", "expected random:N:SEED"),
        ("sandwich:x:1", "N='x' is not a non-negative integer"),
        ("sandwich:4:-1", "K='-1' is not a non-negative integer"),
        ("sandwich::1", "N=''"),
        ("random:0:1", "N=0 must be between 1 and"),
        ("random:2:x", "SEED='x'"),
        ("random:2:" + "9" * 5000, "SEED=999999999999…"),  # no int() digit-limit crash
        ("interleaved:" + "9" * 5000, "N=999999999999…"),
        ("interleaved:٣", "N='٣'"),  # non-ASCII digits
        ("zigzag:3", "unknown generator 'zigzag'"),
        ("s f", "position 2 ' '"),
        ("sf\n", "position 3 '\\n'"),
        ("...", "has no sublayers"),
    ],
)
def test_bad_orders(text, fragment):
    with pytest.raises(EvotransError) as err:
        parse_order(text)
    assert fragment in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_long_inputs_are_truncated_in_the_message():
    with pytest.raises(EvotransError) as err:
        parse_order("s" * 500 + "x")
    assert len(str(err.value)) < 200 and "position 501 'x'" in str(err.value)
    assert '"' + "s" * 40 + '…"' in str(err.value)
    with pytest.raises(EvotransError) as err:
        parse_order("z" * 500 + ":1")
    assert len(str(err.value)) < 200


def test_roles_and_auto_cross():
    with pytest.raises(EvotransError, match="position 2 'c' is not one of s, f"):
        parse_order("scf", role="lm")
    with pytest.raises(EvotransError, match="position 2 'c'"):
        parse_order("scf", role="encoder")
    with pytest.raises(EvotransError, match="position 1 'x' is not one of s, c, f"):
        parse_order("x", role="decoder")
    with pytest.raises(EvotransError, match="role 'tgt'"):
        parse_order("sf", role="tgt")
    assert parse_order("scf", role="decoder") == "scf"
    assert parse_order("cfs", role="decoder") == "cfs"  # c anywhere in a decoder
    assert parse_order("ssff", role="decoder", auto_cross=True) == "scscff"
    assert parse_order("sandwich:2:1", role="decoder", auto_cross=True) == "scscff"
    assert parse_order("sscff", role="decoder", auto_cross=True) == "sscff"  # c written: kept
    assert with_auto_cross("sfsf") == "scfscf"
    assert parse_order("ssff", role="lm", auto_cross=True) == "ssff"
    with pytest.raises(EvotransError, match="at least one self-attention"):
        parse_order("cf", role="decoder")


def test_sandwich_coefficient_and_describe():
    assert sandwich_coefficient("sssfsfff") == 2
    assert sandwich_coefficient("sfsf") == 0
    assert sandwich_coefficient("sf") == 0 and sandwich_coefficient("s") is None
    assert sandwich_coefficient("sffs") is None
    assert sandwich_coefficient(sandwich(10_000, 9_999)) == 9_999
    assert describe("sfsf") == "interleaved:2"
    assert sandwich(3, 3) == sandwich(3, 2) == "sssfff"
    assert sandwich_coefficient("sssfff") == 2 and describe("sssfff") == "sandwich:3:2"
    assert describe("ssfff") == "2 s, 3 f"
    assert describe("scfscf") == "interleaved:2 + auto-cross"
    assert describe("sscff") == "2 s, 2 f, 1 c"


def test_is_equal_parameter():
    assert is_equal_parameter("sssfff", 3) and is_equal_parameter(random_order(5, 1), 5)
    assert not is_equal_parameter("sssff", 3) and not is_equal_parameter("sfsf", 3)
    assert is_equal_parameter("scfscf", 2) and is_equal_parameter("sfsf", 2)
    assert not is_equal_parameter("scfsf", 2)


def test_sublayer_order_dataclass():
    order = SublayerOrder.parse("s.sfsf.f")
    assert order.text == "ssfsff" and order.role == "lm" and str(order) == "ssfsff"
    assert order.counts == {"s": 3, "f": 3, "c": 0}
    assert SublayerOrder.parse("sf", "decoder", auto_cross=True).text == "scf"
    with pytest.raises(EvotransError, match="canonical"):
        SublayerOrder("SF")


def test_parameter_formulas_by_hand():
    d, ffn = 8, 32
    # s / c: q, k, v, out = 4 * (8*8 + 8) = 288, LayerNorm 16
    assert attention_params(d) == 288 + 16 == 4 * d * d + 4 * d + 2 * d
    assert attention_params(d, kv_dim=4) == 2 * (64 + 8) + 2 * (32 + 8) + 16
    # f: fc1 8*32+32 = 288, fc2 32*8+8 = 264, LayerNorm 16
    assert ffn_params(d, ffn) == 288 + 264 + 16 == 568
    report = parameter_count("ssff", d=d, ffn=ffn, vocab=100, normalize_before=True)
    assert (report.self_attention, report.feed_forward, report.cross_attention) == (608, 1136, 0)
    assert report.final_norm == 16
    assert report.embeddings == 800 and report.output_projection == 0 and report.positions == 0
    assert report.sublayers == 1744
    assert report.total == 608 + 1136 + 16 + 800
    assert report.as_dict()["total"] == report.total
    post = parameter_count("ssff", d=d, ffn=ffn, vocab=100)
    assert post.final_norm == 0 and post.total == report.total - 16
    unshared = parameter_count("ssff", d=d, ffn=ffn, vocab=100, shared_output=False)
    assert unshared.output_projection == 800 and unshared.total == post.total + 800
    learned = parameter_count(
        "sf", d=d, ffn=ffn, vocab=100, learned_positions=True, max_positions=64
    )
    assert learned.positions == (64 + 1 + 1) * d  # max_positions + padding_idx + 1 rows
    decoder = parameter_count("scf", d=d, ffn=ffn, vocab=0)
    assert decoder.cross_attention == 304 and decoder.total == 304 + 304 + 568


def test_fairseq_base_sizes():
    # transformer_lm base (d=512, ffn=2048, 6 layers): 6 * (1,051,648 + 2,100,736)
    report = parameter_count("sf" * 6, d=512, ffn=2048, vocab=0)
    assert report.sublayers == 6 * (1_051_648 + 2_100_736) == 18_914_304


def test_sandwich_has_the_parameters_of_the_baseline():
    for k in range(5):
        assert (
            parameter_count(sandwich(4, k), d=16, ffn=64, vocab=10).total
            == parameter_count("sfsfsfsf", d=16, ffn=64, vocab=10).total
        )
