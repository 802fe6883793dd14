"""The space of sublayer orders: a fixed number of self-attention (``s``) and
feed-forward (``f``) sublayers, equal counts, so every individual has the baseline's
parameter count. A spec is the order's canonical text."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evotrans import schema
from evotrans.errors import EvotransError
from evotrans.schema import setting
from evotrans.search.spaces.base import seed_and_mutants
from evotrans.sublayers import MAX_PAIRS

ROLES = ("lm", "encoder", "decoder", "mt")
OPERATORS = ("swap", "move", "flip")


@dataclass(frozen=True)
class OrderTable:
    """The keys of ``[space] kind = "order"``; :class:`OrderSpace` checks their values
    (and gives the defaults of absent ones)."""

    n_pairs: int = setting(help="s and f sublayers of every order")
    role: str | None = setting(None, help=", ".join(ROLES))
    seed: str | None = setting(None, help="the seed order (default: interleaved)")
    operators: tuple[str, ...] | None = setting(
        None,
        check=schema.as_tuple(f"must be a list of {', '.join(OPERATORS)}"),
        help="mutation operators drawn from",
    )


class OrderSpace:
    """Sublayer orders with ``n_pairs`` ``s`` and ``n_pairs`` ``f`` letters.

    ``role``: ``lm`` (a decoder-only LM), ``encoder``, ``decoder`` (a
    translation decoder written without ``c``: one encoder attention follows
    every ``s``, the plugin's auto-cross rule) — specs like ``sfsfsf`` — or
    ``mt``: an encoder and a decoder order, ``ssff|sfsf``, both evolved.

    Mutation applies one operator, drawn uniformly from ``operators``:

    - ``swap``: exchange two positions holding different letters,
    - ``move``: take one sublayer out and insert it elsewhere,
    - ``flip``: exchange an adjacent ``sf``/``fs`` pair.

    Every operator keeps the letter counts (so the parameter count) and
    always changes the order.
    """

    spec_kind = "order"

    def __init__(
        self,
        n_pairs: int,
        role: str = "lm",
        seed: str | None = None,
        operators: tuple[str, ...] = OPERATORS,
    ):
        is_int = isinstance(n_pairs, int) and not isinstance(n_pairs, bool)
        if not is_int or not 1 <= n_pairs <= MAX_PAIRS:
            raise EvotransError(
                f"space.n_pairs: must be an integer from 1 to {MAX_PAIRS}, got {n_pairs!r}"
            )
        if role not in ROLES:
            raise EvotransError(f"space.role: {role!r} is not one of {', '.join(ROLES)}")
        operators = tuple(operators)
        if not operators or any(op not in OPERATORS for op in operators):
            raise EvotransError(f"space.operators: choose from {', '.join(OPERATORS)}")
        self.n_pairs = n_pairs
        self.role = role
        self.operators = operators
        interleaved = "sf" * n_pairs
        default = f"{interleaved}|{interleaved}" if role == "mt" else interleaved
        self.seed = self.validate(seed) if seed is not None else default

    @classmethod
    def from_config(cls, table: Mapping[str, Any], where: str = "space") -> OrderSpace:
        """The space of a ``[space]`` table (without its ``kind``)."""
        return cls(**schema.checked(OrderTable, table, where))

    def __repr__(self) -> str:
        return f"OrderSpace(n_pairs={self.n_pairs}, role={self.role!r}, seed={self.seed!r})"

    # -- the protocol ---------------------------------------------------------------------------

    def seed_individuals(self, rng: random.Random, n: int) -> list[tuple[str, str | None]]:
        return seed_and_mutants(self, self.seed, rng, n)

    def random(self, rng: random.Random) -> str:
        def one() -> str:
            letters = list("s" * self.n_pairs + "f" * self.n_pairs)
            rng.shuffle(letters)
            return "".join(letters)

        if self.role == "mt":
            return f"{one()}|{one()}"
        return one()

    def mutate(self, spec: str, rng: random.Random) -> tuple[str, str]:
        spec = self.validate(spec)
        if self.role == "mt":
            encoder, decoder = spec.split("|")
            if rng.random() < 0.5:
                child, what = _mutate_order(encoder, rng, self.operators)
                return f"{child}|{decoder}", f"encoder: {what}"
            child, what = _mutate_order(decoder, rng, self.operators)
            return f"{encoder}|{child}", f"decoder: {what}"
        return _mutate_order(spec, rng, self.operators)

    def hash(self, spec: str) -> str:
        return hashlib.sha256(f"order:{spec}".encode()).hexdigest()[:16]

    def validate(self, spec: str) -> str:
        if not isinstance(spec, str):
            raise EvotransError(f"sublayer order {spec!r}: must be a string")
        if self.role == "mt":
            parts = spec.split("|")
            if len(parts) != 2:
                raise EvotransError(
                    f"sublayer orders {spec!r}: write the encoder and decoder orders as ENC|DEC"
                )
            return "|".join(
                self._validate_one(p, r) for p, r in zip(parts, ("encoder", "decoder"), strict=True)
            )
        return self._validate_one(spec, self.role)

    def params(self, spec: str) -> int | None:
        return None  # constant within the space; the trial reports the exact count

    # -- helpers --------------------------------------------------------------------------------

    def _validate_one(self, text: str, role: str) -> str:
        order = _expand(text.strip(), role)
        for i, letter in enumerate(order if order.strip("sf") else ""):  # (fast when clean)
            if letter not in "sf":
                extra = " (encoder attention is implied after every s)" if letter == "c" else ""
                raise EvotransError(
                    f"sublayer order {text!r}: position {i + 1} {letter!r} is not one of s, f"
                    f"{extra}"
                )
        n_s, n_f = order.count("s"), order.count("f")
        if n_s != self.n_pairs or n_f != self.n_pairs:
            raise EvotransError(
                f"sublayer order {text!r}: has {n_s} s and {n_f} f; this search space needs "
                f"{self.n_pairs} of each (equal parameter count)"
            )
        return order


def _expand(text: str, role: str) -> str:
    """Canonical letters of a literal (dots of the two-slot form dropped) or a generator."""
    if ":" not in text:
        return text.lower().replace(".", "")
    try:  # one parser for generators when the sublayers module is there
        from evotrans.sublayers import parse_order
    except ImportError:
        parse_order = None
    if parse_order is not None:
        try:
            order = parse_order(text, role=role)
        except TypeError:  # a parser without roles
            order = parse_order(text)
        return str(order).replace("c", "")  # decoders: encoder attention is implied
    parts = text.lower().split(":")
    try:
        if parts[0] == "interleaved" and len(parts) == 2:
            return "sf" * int(parts[1])
        if parts[0] == "sandwich" and len(parts) == 3:
            n, k = int(parts[1]), int(parts[2])
            if 0 <= k <= n:
                return "s" * k + "sf" * (n - k) + "f" * k
    except ValueError:
        pass
    raise EvotransError(
        f"sublayer order {text!r}: unknown generator (sandwich:N:K, interleaved:N; "
        "random:N:SEED needs evotrans.sublayers)"
    )


def _mutate_order(order: str, rng: random.Random, operators: tuple[str, ...]) -> tuple[str, str]:
    op = operators[rng.randrange(len(operators))]
    letters = list(order)
    n = len(letters)
    if op == "swap":
        i = rng.randrange(n)
        others = [j for j in range(n) if letters[j] != letters[i]]
        j = others[rng.randrange(len(others))]
        letters[i], letters[j] = letters[j], letters[i]
        a, b = sorted((i, j))
        return "".join(letters), f"swap {a}<->{b} ({order[a]}{order[b]})"
    if op == "flip":
        pairs = [i for i in range(n - 1) if letters[i] != letters[i + 1]]
        i = pairs[rng.randrange(len(pairs))]
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
        return "".join(letters), f"flip {i},{i + 1} {order[i : i + 2]}->{order[i + 1]}{order[i]}"
    # move: take position i out, insert so that it lands at position j (result must differ)
    while True:
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j:
            continue
        rest = letters[:i] + letters[i + 1 :]
        child = rest[:j] + [letters[i]] + rest[j:]
        if child != letters:
            return "".join(child), f"move {letters[i]} {i}->{j}"
