"""Search spaces: OrderSpace validation and mutation (counts preserved, always a change)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.search.spaces import OrderSpace, SearchSpace, space_from_config


def test_order_space_is_a_search_space():
    space = OrderSpace(3)
    assert isinstance(space, SearchSpace)
    assert space.spec_kind == "order" and space.seed == "sfsfsf"
    assert space.params("sfsfsf") is None


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("sfsf", "sfsf"),
        ("SSFF", "ssff"),
        ("s.sf.f", "ssff"),
        ("sandwich:2:1", "ssff"),
        ("interleaved:2", "sfsf"),
    ],
)
def test_validate_canonicalizes(text, canonical):
    assert OrderSpace(2).validate(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ssxf", "position 3 'x'"),
        ("sssf", "3 s and 1 f"),
        ("sfsfsf", "2 of each"),
        ("scff", "implied"),
        ("bogus:1", "."),  # the message is the generator parser's
    ],
)
def test_validate_errors_name_the_problem(text, message):
    with pytest.raises(EvotransError, match=message):
        OrderSpace(2).validate(text)


def test_mt_role_orders_both_sides():
    space = OrderSpace(2, role="mt")
    assert space.seed == "sfsf|sfsf"
    assert space.validate("ssff|fssf") == "ssff|fssf"
    with pytest.raises(EvotransError, match="ENC|DEC"):
        space.validate("ssff")
    rng = random.Random(0)
    sides = Counter()
    for _ in range(200):
        child, what = space.mutate("ssff|ssff", rng)
        enc, dec = child.split("|")
        assert (enc != "ssff") != (dec != "ssff")  # exactly one side changed
        sides[what.split(":")[0]] += 1
        assert sorted(enc) == sorted(dec) == list("ffss")
    assert sides["encoder"] > 60 and sides["decoder"] > 60


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 12),
    seed=st.integers(0, 2**32),
    operator=st.sampled_from([("swap",), ("move",), ("flip",), ("swap", "move", "flip")]),
)
def test_mutation_keeps_counts_and_always_changes(n, seed, operator):
    space = OrderSpace(n, operators=operator)
    rng = random.Random(seed)
    parent = space.random(rng)
    child, description = space.mutate(parent, rng)
    assert child != parent
    assert child.count("s") == child.count("f") == n
    assert space.validate(child) == child
    assert description.split()[0] in operator
    if description.startswith("flip"):  # an adjacent pair
        diff = [i for i in range(2 * n) if child[i] != parent[i]]
        assert len(diff) == 2 and diff[1] == diff[0] + 1


def test_operators_are_drawn_uniformly_and_deterministically():
    space = OrderSpace(8)
    rng = random.Random(1)
    used = Counter(space.mutate(space.seed, rng)[1].split()[0] for _ in range(3000))
    assert set(used) == {"swap", "move", "flip"}
    for count in used.values():
        assert 850 < count < 1150
    a = [space.mutate(space.seed, random.Random(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]


def test_random_and_seed_individuals():
    space = OrderSpace(4)
    rng = random.Random(3)
    orders = {space.random(rng) for _ in range(200)}
    assert len(orders) > 40 and all(o.count("s") == 4 for o in orders)
    seeds = space.seed_individuals(random.Random(0), 5)
    assert seeds[0] == ("sfsfsfsf", None)
    assert all(m is not None and s != "sfsfsfsf" for s, m in seeds[1:])
    assert space.hash("ssffsfsf") == space.hash("ssffsfsf") != space.hash("sfsfssff")


def test_space_from_config_errors():
    assert isinstance(
        space_from_config({"kind": "order", "n_pairs": 2, "seed": "ssff"}), OrderSpace
    )
    with pytest.raises(EvotransError, match="space.kind"):
        space_from_config({"kind": "tree"})
    with pytest.raises(EvotransError, match="space.n_pairs: missing"):
        space_from_config({"kind": "order"})
    with pytest.raises(EvotransError, match="space.colour: unknown key"):
        space_from_config({"kind": "order", "n_pairs": 2, "colour": 1})
    with pytest.raises(EvotransError, match="space.role"):
        OrderSpace(2, role="encoder-decoder")
    with pytest.raises(EvotransError, match="n_pairs"):
        OrderSpace(0)
