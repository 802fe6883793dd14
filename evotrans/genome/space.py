"""The Evolved Transformer search space: every gene's values and what a layer name means.

Values as in So, Liang & Le (2019) and ``ET_SPEC.md`` §2. Widths are relative
to the model dimension d and kept as :class:`~fractions.Fraction` (JSON and
the compact form write them as ``"1/2"``, ``"1"``, ``"2"``, ``"4"``, so they
round-trip exactly).

Width conventions (see :mod:`evotrans.genome.widths`): ``identity``, every
attention and the gated linear unit output their input width and ignore the
``output_dim`` gene (which must still be one of :data:`OUTPUT_DIMS`; its
canonical value is ``1``); every other layer outputs ``output_dim`` × d;
``depthwise_conv_*`` needs an output width that is a multiple of its input width.
"""

from __future__ import annotations

import re
from fractions import Fraction

ROLES = ("encoder", "decoder")
NORMS = ("layer_norm", "none")
ACTIVATIONS = ("swish", "relu", "leaky_relu", "none")
COMBINERS = ("add", "concat", "multiply")
OUTPUT_DIMS = (Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4))

SELF_ATTENTION_LAYERS = (
    "standard_attention",  # the model's h heads
    "attention_4_heads",
    "attention_16_heads",
    "attention_32_heads",
)
LAYERS = (
    "identity",
    "dead_branch",
    "standard_conv_1x1",  # a dense (position-wise linear) layer
    "standard_conv_3x1",
    "standard_conv_5x1",
    *(f"separable_conv_{k}x1" for k in (3, 5, 7, 9, 11, 13, 15)),
    *(f"depthwise_conv_{k}x1" for k in (3, 5, 7)),
    "dilated_conv_3x1",  # dilation 2
    "dilated_conv_5x1",
    *(f"lightweight_conv_{k}x1_r_{r}" for k in (3, 5, 7, 15) for r in (1, 4, 16)),
    "gated_linear_unit",
    *SELF_ATTENTION_LAYERS,
    "attend_to_encoder",  # decoder only: queries from the branch, keys/values from the encoder
)
DECODER_ONLY_LAYERS = ("attend_to_encoder",)
WIDTH_PRESERVING = ("identity", "gated_linear_unit", *SELF_ATTENTION_LAYERS, "attend_to_encoder")

_KERNEL = re.compile(r"_(\d+)x1")


def layers_for(role: str, *, lm: bool = False) -> tuple[str, ...]:
    """The layer values of an ``encoder`` or ``decoder`` cell (``lm``: a language model's
    decoder, which has no encoder to attend to)."""
    if role == "decoder" and not lm:
        return LAYERS
    return tuple(x for x in LAYERS if x not in DECODER_ONLY_LAYERS)


def parse_dim(text: str | int | float | Fraction) -> Fraction:
    """``"1/2"`` / ``0.5`` / ``2`` -> Fraction; ValueError when not one of :data:`OUTPUT_DIMS`."""
    if isinstance(text, bool):
        raise ValueError(str(text))
    try:
        value = text if isinstance(text, Fraction) else Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(str(text)) from None
    if value not in OUTPUT_DIMS:
        raise ValueError(str(text))
    return value


def format_dim(value: Fraction) -> str:
    """Fraction -> ``"1/2"``, ``"1"``, ``"2"``, ``"4"``."""
    return str(value)


def is_width_preserving(layer: str) -> bool:
    """Output width = input width (the ``output_dim`` gene is ignored)."""
    return layer in WIDTH_PRESERVING


def is_attention(layer: str) -> bool:
    """A self-attention layer (``standard_attention``, ``attention_{4,16,32}_heads``)."""
    return layer in SELF_ATTENTION_LAYERS


def is_encoder_attention(layer: str) -> bool:
    return layer == "attend_to_encoder"


def heads(layer: str, model_heads: int) -> int | None:
    """Attention heads of a layer (``standard_attention`` and ``attend_to_encoder``: the
    model's h); None for layers that are not attention."""
    if layer in ("standard_attention", "attend_to_encoder"):
        return model_heads
    if is_attention(layer):
        return int(layer.split("_")[1])
    return None


def kernel_width(layer: str) -> int | None:
    """k of a ``…_kx1`` convolution (1 for ``standard_conv_1x1``); None for other layers."""
    match = _KERNEL.search(layer)
    return int(match.group(1)) if match else None


def dilation(layer: str) -> int:
    return 2 if layer.startswith("dilated_conv") else 1


def lightweight_r(layer: str) -> int | None:
    """r of ``lightweight_conv_kx1_r_R``: consecutive channels sharing one kernel."""
    return int(layer.rsplit("_", 1)[1]) if layer.startswith("lightweight_conv") else None


def context(layer: str) -> int | None:
    """Earlier positions a causal (decoder) layer reads besides the current one:
    ``(k - 1) * dilation`` for convolutions, 0 for position-wise layers, None
    (unbounded) for self-attention. ``attend_to_encoder`` reads only the encoder: 0."""
    if is_attention(layer):
        return None
    k = kernel_width(layer)
    return 0 if k is None else (k - 1) * dilation(layer)


def mixes_positions(layer: str) -> bool:
    """The layer combines several target positions (a convolution wider than 1, self-attention)."""
    return context(layer) != 0


def is_causal(layer: str, role: str) -> bool:
    """The layer must be masked/left-padded to be causal: it mixes positions in a decoder."""
    return role == "decoder" and mixes_positions(layer)


def has_parameters(layer: str) -> bool:
    return layer not in ("identity", "dead_branch")
