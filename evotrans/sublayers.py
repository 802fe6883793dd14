"""Sublayer orders: parse, validate, canonicalize, generate, count parameters.

Letters: ``s`` self-attention, ``f`` feed-forward, ``c`` encoder-decoder (cross)
attention, allowed only in a translation decoder. The canonical form is lowercase
letters without separators. Roles: ``lm`` (decoder-only LM: s, f), ``encoder``
(s, f), ``decoder`` (translation decoder: s, f, c).

Input is a literal (``sssfsfsfff``; uppercase is lowercased; the sandwich paper's
two-slot form ``s.sfsf.f`` is accepted and its dots dropped) or a generator:

- ``sandwich:N:K`` -> ``s``*K + ``sf``*(N-K) + ``f``*K (0 <= K <= N; K=0 is the
  interleaved baseline),
- ``interleaved:N`` = ``sandwich:N:0``,
- ``random:N:SEED`` -> a uniformly random order of exactly N ``s`` and N ``f``,
  the same for the same SEED on every machine and Python version.

Every bad input raises :class:`EvotransError` with a one-line message naming the
bad part. Pure Python: no torch, no fairseq.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from evotrans.errors import EvotransError

ROLES = ("lm", "encoder", "decoder")
LETTERS = {"lm": "sf", "encoder": "sf", "decoder": "scf"}
GENERATORS = ("sandwich", "interleaved", "random")
MAX_PAIRS = 10_000
MAX_SEED = 2**64 - 1
_SHOWN = 40  # characters of a bad input quoted in an error message


def _show(text: str, limit: int = _SHOWN) -> str:
    """``text`` for a one-line message: long input cut, non-printable characters escaped."""
    short = text if len(text) <= limit else text[:limit] + "…"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in short)


def _error(text: str, message: str) -> EvotransError:
    return EvotransError(f'sublayer order "{_show(text)}": {message}')


def parse_order(text: str, role: str = "lm", auto_cross: bool = False) -> str:
    """The canonical order of ``text`` (a literal or a generator) for a ``role`` stack.

    ``role``: ``lm`` and ``encoder`` take ``s``/``f``; ``decoder`` (translation
    decoder) also ``c``. With ``auto_cross`` a decoder order without any ``c`` gets
    one right after every ``s`` (ignored for other roles). Every order needs at
    least one ``s``. Raises :class:`EvotransError` naming the bad part.
    """
    if role not in ROLES:
        raise EvotransError(f"sublayer role {_show(str(role))!r} is not one of {', '.join(ROLES)}")
    if not isinstance(text, str):
        raise EvotransError(f"sublayer order must be a string, not {type(text).__name__}")
    order = _generate(text) if ":" in text else _literal(text, role)
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
        if char == ".":  # empty slot of the two-slot form
            continue
        if char not in allowed + allowed.upper():
            what = "s, c, f" if role == "decoder" else "s, f (c only in a translation decoder)"
            raise _error(text, f"position {position} {char!r} is not one of {what}")
        letters.append(char.lower())
    if not letters:
        raise _error(text, "has no sublayers")
    return "".join(letters)


def _integer(text: str, name: str, value: str, minimum: int, maximum: int, bound: str) -> int:
    """Field ``name`` of a generator: a decimal integer in [minimum, maximum]."""
    if not (value.isascii() and value.isdigit()):
        raise _error(text, f"{name}={_show(value, 12)!r} is not a non-negative integer")
    if len(value.lstrip("0")) > len(str(maximum)) or not minimum <= int(value) <= maximum:
        shown = _show(value.lstrip("0") or "0", 12)
        raise _error(text, f"{name}={shown} must be between {minimum} and {bound}")
    return int(value)


_USAGE = {"sandwich": "sandwich:N:K", "interleaved": "interleaved:N", "random": "random:N:SEED"}


def _generate(text: str) -> str:
    name, *fields = text.split(":")
    name = name.lower()
    if name not in _USAGE:
        usage = ", ".join(_USAGE.values())
        raise _error(text, f"unknown generator {_show(name, 20)!r} (use {usage})")
    if len(fields) != _USAGE[name].count(":"):
        raise _error(text, f"expected {_USAGE[name]}")
    n = _integer(text, "N", fields[0], 1, MAX_PAIRS, str(MAX_PAIRS))
    if name == "interleaved":
        return sandwich(n, 0)
    if name == "sandwich":
        return sandwich(n, _integer(text, "K", fields[1], 0, n, f"N={n}"))
    return random_order(n, _integer(text, "SEED", fields[1], 0, MAX_SEED, "2**64-1"))


def sandwich(n_pairs: int, k: int) -> str:
    """``s``*k + ``sf``*(n_pairs-k) + ``f``*k: the Sandwich Transformer's order."""
    if not 0 <= k <= n_pairs:
        raise EvotransError(f"sandwich: K={k} must be between 0 and N={n_pairs}")
    return "s" * k + "sf" * (n_pairs - k) + "f" * k


def interleaved(n_pairs: int) -> str:
    """``sf``*n_pairs: the standard Transformer's order (``sandwich(n_pairs, 0)``)."""
    return sandwich(n_pairs, 0)


def random_order(n_pairs: int, seed: int) -> str:
    """A uniformly random order of exactly ``n_pairs`` ``s`` and ``f``, fixed by ``seed``."""
    letters = list("s" * n_pairs + "f" * n_pairs)
    random.Random(seed).shuffle(letters)
    return "".join(letters)


def with_auto_cross(order: str) -> str:
    """One ``c`` right after every ``s``, unless the order already has a ``c``."""
    return order if "c" in order else order.replace("s", "sc")


def counts(order: str) -> dict[str, int]:
    """``{"s": .., "f": .., "c": ..}`` for a canonical order."""
    return {letter: order.count(letter) for letter in "sfc"}


def is_equal_parameter(order: str, n_pairs: int) -> bool:
    """Whether ``order`` has the sublayers, hence the parameters, of ``interleaved:n_pairs``.

    That is ``n_pairs`` each of ``s`` and ``f``, and no ``c`` (LM, encoder, or a
    decoder without cross attention) or ``n_pairs`` of them (the translation
    decoder's baseline ``scf``*n_pairs).
    """
    c = counts(order)
    return c["s"] == c["f"] == n_pairs and c["c"] in (0, n_pairs)


def sandwich_coefficient(order: str) -> int | None:
    """K if ``order`` is ``sandwich:N:K`` for its own N, else None.

    ``sandwich:N:N-1`` and ``sandwich:N:N`` are the same order; the smaller K is returned.
    """
    n = order.count("s")
    leading = len(order) - len(order.lstrip("s"))
    for k in (leading - 1, leading):
        if 0 <= k <= n and sandwich(n, k) == order:
            return k
    return None


def describe(order: str) -> str:
    """A short name: ``interleaved:N``, ``sandwich:N:K`` (``+ auto-cross`` when each ``s``
    is followed by a ``c`` and no other ``c`` exists), or the counts, e.g. ``5 s, 3 f``."""
    without_c = order.replace("c", "")
    if "c" in order and without_c and with_auto_cross(without_c) == order:
        return describe(without_c) + " + auto-cross"
    k = sandwich_coefficient(order)
    if k is not None:
        n = order.count("s")
        return f"interleaved:{n}" if k == 0 else f"sandwich:{n}:{k}"
    c = counts(order)
    return ", ".join(f"{c[letter]} {letter}" for letter in "sfc" if c[letter])


@dataclass(frozen=True)
class SublayerOrder:
    """A validated canonical order for a role; build it with :meth:`parse`."""

    text: str
    role: str = "lm"

    def __post_init__(self) -> None:
        if parse_order(self.text, self.role) != self.text:
            raise _error(self.text, "is not in canonical form (lowercase letters, no dots)")

    @classmethod
    def parse(cls, text: str, role: str = "lm", auto_cross: bool = False) -> SublayerOrder:
        return cls(parse_order(text, role, auto_cross), role)

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.text)

    def __str__(self) -> str:
        return self.text


# Parameter accounting ------------------------------------------------------------
#
# One place for the formulas; they follow fairseq's transformer modules exactly:
# - MultiheadAttention: q_proj, k_proj, v_proj, out_proj are Linear with bias;
#   k_proj/v_proj map kdim/vdim (the encoder's dim for cross attention) to d.
# - Every sublayer has its own LayerNorm(d) (weight + bias = 2d), pre- or post-norm:
#   self_attn_layer_norm, encoder_attn_layer_norm, final_layer_norm of a layer.
# - FFN: fc1 = Linear(d, F), fc2 = Linear(F, d), both with bias.
# - The stack's final LayerNorm(d) exists only with normalize_before (pre-norm).
# - Embedding(vocab, d) counts every row, the padding row included.
# - Learned positions: Embedding(max_positions + padding_idx + 1, d); sinusoidal: none.
# - Unshared output projection: Linear(d, vocab, bias=False).


def layer_norm_params(d: int) -> int:
    """LayerNorm(d): weight and bias."""
    return 2 * d


def attention_params(d: int, kv_dim: int | None = None) -> int:
    """An ``s`` or ``c`` sublayer: q, k, v, out projections with biases + LayerNorm(d).

    ``kv_dim``: input dim of k/v (the encoder's dim for ``c``; default ``d``).
    Equals 4d^2 + 4d + 2d when ``kv_dim == d``.
    """
    kv = d if kv_dim is None else kv_dim
    q_and_out = 2 * (d * d + d)
    k_and_v = 2 * (kv * d + d)
    return q_and_out + k_and_v + layer_norm_params(d)


def ffn_params(d: int, ffn: int) -> int:
    """An ``f`` sublayer: fc1 (d->ffn) and fc2 (ffn->d) with biases + LayerNorm(d)."""
    return (d * ffn + ffn) + (ffn * d + d) + layer_norm_params(d)


def learned_position_params(d: int, max_positions: int, padding_idx: int = 1) -> int:
    """fairseq's LearnedPositionalEmbedding: ``max_positions + padding_idx + 1`` rows of d."""
    return (max_positions + padding_idx + 1) * d


@dataclass(frozen=True)
class ParamReport:
    """Exact parameter counts of one fairseq stack, per kind, and their total."""

    self_attention: int
    cross_attention: int
    feed_forward: int
    final_norm: int
    embeddings: int
    positions: int
    output_projection: int

    @property
    def sublayers(self) -> int:
        """Parameters in the ``s``, ``c`` and ``f`` sublayers."""
        return self.self_attention + self.cross_attention + self.feed_forward

    @property
    def total(self) -> int:
        return (
            self.sublayers
            + self.final_norm
            + self.embeddings
            + self.positions
            + self.output_projection
        )

    def as_dict(self) -> dict[str, int]:
        """Every field plus ``sublayers`` and ``total``."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**fields, "sublayers": self.sublayers, "total": self.total}


def parameter_count(
    order: str,
    *,
    d: int,
    ffn: int,
    vocab: int,
    shared_output: bool = True,
    normalize_before: bool = False,
    learned_positions: bool = False,
    max_positions: int = 1024,
    padding_idx: int = 1,
) -> ParamReport:
    """Parameters of one fairseq stack with this canonical ``order``.

    Per sublayer: ``s`` and ``c`` :func:`attention_params` (encoder dim == ``d``),
    ``f`` :func:`ffn_params`. Plus a final LayerNorm (2d) with ``normalize_before``;
    input embeddings ``vocab``*d (``vocab=0``: leave embeddings out); learned
    positions :func:`learned_position_params` (sinusoidal: 0); and an output
    projection ``vocab``*d, no bias, unless ``shared_output`` with the input embeddings.
    """
    c = counts(order)
    return ParamReport(
        self_attention=c["s"] * attention_params(d),
        cross_attention=c["c"] * attention_params(d),
        feed_forward=c["f"] * ffn_params(d, ffn),
        final_norm=layer_norm_params(d) if normalize_before else 0,
        embeddings=vocab * d,
        positions=learned_position_params(d, max_positions, padding_idx)
        if learned_positions
        else 0,
        output_projection=0 if shared_output else vocab * d,
    )
