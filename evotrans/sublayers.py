"""Sublayer orders: parse, validate, canonicalize, generate, count parameters.

Letters: ``s`` self-attention, ``f`` feed-forward, ``c`` encoder-decoder
attention (translation decoders only). The canonical form is lowercase letters
without separators. Input may be a literal (``sssfsfsfff``; the sandwich
paper's dotted two-slot form ``s.sfsf.f`` is accepted and the dots dropped) or
a generator:

- ``sandwich:N:K`` → ``s``×K + ``sf``×(N−K) + ``f``×K (0 ≤ K ≤ N; K=0 is the
  interleaved baseline),
- ``interleaved:N`` = ``sandwich:N:0``,
- ``random:N:SEED`` → a uniformly random order of exactly N ``s`` and N ``f``,
  the same for the same SEED on every machine.

Pure Python: no torch, no fairseq.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from evotrans.errors import EvotransError

ROLES = ("lm", "encoder", "decoder")
LETTERS = {"lm": "sf", "encoder": "sf", "decoder": "scf"}
GENERATORS = ("sandwich", "interleaved", "random")
MAX_PAIRS = 10_000


def _show(text: str, limit: int = 40) -> str:
    """``text`` for a one-line message: control characters escaped, long input cut."""
    short = text if len(text) <= limit else text[:limit] + "…"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in short)


def _error(text: str, message: str) -> EvotransError:
    return EvotransError(f'sublayer order "{_show(text)}": {message}')


def parse_order(text: str, role: str = "lm", auto_cross: bool = False) -> str:
    """The canonical order of ``text`` for a stack of the given ``role``.

    ``role``: ``lm`` (decoder-only LM) and ``encoder`` take ``s``/``f``;
    ``decoder`` (translation decoder) also ``c``. With ``auto_cross`` a
    decoder order without any ``c`` gets one right after every ``s``.
    Raises :class:`EvotransError` naming the bad position and letter.
    """
    if role not in ROLES:
        raise EvotransError(f"sublayer role {role!r} is not one of {', '.join(ROLES)}")
    if not isinstance(text, str):
        raise EvotransError(f"sublayer order must be a string, not {type(text).__name__}")
    if ":" in text:
        order = _generate(text)
    else:
        order = _literal(text, role)
    if "s" not in order:
        raise _error(text, "needs at least one self-attention sublayer 's'")
    if auto_cross and role == "decoder":
        order = with_auto_cross(order)
    return order


def _literal(text: str, role: str) -> str:
    if not text:
        raise EvotransError("sublayer order is empty")
    allowed = LETTERS[role]
    letters = []
    for position, char in enumerate(text, start=1):
        lower = char.lower()
        if char == ".":
            continue
        if lower not in allowed:
            what = "s, f (c only in a translation decoder)" if role != "decoder" else "s, c, f"
            raise _error(text, f"position {position} {char!r} is not one of {what}")
        letters.append(lower)
    if not letters:
        raise _error(text, "has no sublayers")
    return "".join(letters)


def _integer(text: str, name: str, value: str, minimum: int, maximum: int | None = None) -> int:
    if not value.isascii() or not value.isdigit():
        raise _error(text, f"{name}={value!r} is not a non-negative integer")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise _error(text, f"{name}={number} must be {bound}")
    return number


def _generate(text: str) -> str:
    name, *fields = text.split(":")
    name = name.lower()
    expected = {"sandwich": 2, "interleaved": 1, "random": 2}
    if name not in expected:
        raise _error(text, f"unknown generator {name!r} (use {', '.join(GENERATORS)})")
    if len(fields) != expected[name]:
        usage = {"sandwich": "sandwich:N:K", "interleaved": "interleaved:N",
                 "random": "random:N:SEED"}[name]
        raise _error(text, f"expected {usage}")
    n = _integer(text, "N", fields[0], 1, MAX_PAIRS)
    if name == "interleaved":
        return sandwich(n, 0)
    if name == "sandwich":
        return sandwich(n, _integer(text, "K", fields[1], 0, n))
    return random_order(n, _integer(text, "SEED", fields[1], 0))


def sandwich(n_pairs: int, k: int) -> str:
    """``s``×k + ``sf``×(n−k) + ``f``×k: the Sandwich Transformer's order."""
    if not 0 <= k <= n_pairs:
        raise EvotransError(f"sandwich coefficient {k} must be between 0 and {n_pairs}")
    return "s" * k + "sf" * (n_pairs - k) + "f" * k


def random_order(n_pairs: int, seed: int) -> str:
    """A uniformly random order with exactly ``n_pairs`` ``s`` and ``f`` (reproducible)."""
    letters = list("s" * n_pairs + "f" * n_pairs)
    random.Random(seed).shuffle(letters)
    return "".join(letters)


def with_auto_cross(order: str) -> str:
    """One ``c`` right after every ``s``, unless the order already has a ``c``."""
    return order if "c" in order else order.replace("s", "sc")


def counts(order: str) -> dict[str, int]:
    return {letter: order.count(letter) for letter in "scf"}


def sandwich_coefficient(order: str) -> int | None:
    """K if ``order`` is ``sandwich:N:K`` for its N, else None."""
    c = counts(order)
    if c["s"] != c["f"] or c["c"]:
        return None
    n = c["s"]
    for k in range(n + 1):
        if sandwich(n, k) == order:
            return k
    return None


@dataclass(frozen=True)
class ParamReport:
    """Exact parameter counts of a stack, fairseq's layout (biases and LayerNorms included)."""

    self_attention: int
    cross_attention: int
    feed_forward: int
    final_norm: int
    embeddings: int
    positions: int
    output_projection: int

    @property
    def sublayers(self) -> int:
        return self.self_attention + self.cross_attention + self.feed_forward

    @property
    def total(self) -> int:
        return (self.sublayers + self.final_norm + self.embeddings + self.positions
                + self.output_projection)


def attention_params(d: int, kv_dim: int | None = None) -> int:
    """q, k, v, out projections with biases (k/v from ``kv_dim``) + LayerNorm(d)."""
    kv = d if kv_dim is None else kv_dim
    return (d * d + d) + 2 * (kv * d + d) + (d * d + d) + 2 * d


def ffn_params(d: int, ffn: int) -> int:
    """fc1 (d→ffn) and fc2 (ffn→d) with biases + LayerNorm(d)."""
    return (d * ffn + ffn) + (ffn * d + d) + 2 * d


def parameter_count(
    order: str,
    *,
    d: int,
    ffn: int,
    vocab: int = 0,
    shared_output: bool = True,
    normalize_before: bool = False,
    learned_positions: bool = False,
    max_positions: int = 1024,
    padding_idx: int = 1,
) -> ParamReport:
    """Parameters of one fairseq stack with this order (``vocab`` 0: no embeddings).

    Embeddings: ``vocab``×d; learned positions ``(max_positions + padding_idx + 1)``×d
    (sinusoidal: none); an unshared output projection ``vocab``×d without bias;
    a final LayerNorm (2d) when pre-norm.
    """
    c = counts(order)
    return ParamReport(
        self_attention=c["s"] * attention_params(d),
        cross_attention=c["c"] * attention_params(d),
        feed_forward=c["f"] * ffn_params(d, ffn),
        final_norm=2 * d if normalize_before else 0,
        embeddings=vocab * d,
        positions=(max_positions + padding_idx + 1) * d if learned_positions and vocab else 0,
        output_projection=0 if shared_output or not vocab else vocab * d,
    )
