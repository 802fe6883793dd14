"""The Evolved Transformer search space: every gene's values (So et al., 2019).

Widths are relative to the model dimension d (``1/2``, ``1``, ``2``, ``4``).
Layers whose output keeps the input width (identity, attention, attention to
the encoder, gated linear unit) ignore the output-dim gene (canonical value:
``1``); depthwise convolutions need an output width that is a multiple of
the input width.
"""

from __future__ import annotations

import re
from fractions import Fraction

NORMS = ("layer_norm", "none")
ACTIVATIONS = ("swish", "relu", "leaky_relu", "none")
COMBINERS = ("add", "concat", "multiply")
OUTPUT_DIMS = (Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4))

LAYERS = (
    "identity",
    "dead_branch",
    "standard_conv_1x1",
    "standard_conv_3x1",
    "standard_conv_5x1",
    *(f"separable_conv_{k}x1" for k in (3, 5, 7, 9, 11, 13, 15)),
    *(f"depthwise_conv_{k}x1" for k in (3, 5, 7)),
    "dilated_conv_3x1",
    "dilated_conv_5x1",
    *(f"lightweight_conv_{k}x1_r_{r}" for k in (3, 5, 7, 15) for r in (1, 4, 16)),
    "gated_linear_unit",
    "standard_attention",
    "attention_4_heads",
    "attention_16_heads",
    "attention_32_heads",
    "attend_to_encoder",
)
DECODER_ONLY_LAYERS = ("attend_to_encoder",)
WIDTH_PRESERVING = (
    "identity",
    "gated_linear_unit",
    "standard_attention",
    "attention_4_heads",
    "attention_16_heads",
    "attention_32_heads",
    "attend_to_encoder",
)
_KERNEL = re.compile(r"_(\d+)x1")


def parse_dim(text: str | int | float | Fraction) -> Fraction:
    """``"1/2"`` / ``0.5`` / ``2`` → Fraction; ValueError when not a width of the space."""
    value = Fraction(str(text)) if not isinstance(text, Fraction) else text
    if value not in OUTPUT_DIMS:
        raise ValueError(str(text))
    return value


def format_dim(value: Fraction) -> str:
    return str(value)  # "1/2", "1", "2", "4"


def is_attention(layer: str) -> bool:
    return layer == "standard_attention" or layer.startswith("attention_")


def heads(layer: str, model_heads: int) -> int | None:
    """Attention heads of a layer (``standard_attention`` and attend-to-encoder: the model's)."""
    if layer in ("standard_attention", "attend_to_encoder"):
        return model_heads
    if layer.startswith("attention_"):
        return int(layer.split("_")[1])
    return None


def kernel_width(layer: str) -> int | None:
    match = _KERNEL.search(layer)
    return int(match.group(1)) if match else None


def dilation(layer: str) -> int:
    return 2 if layer.startswith("dilated_conv") else 1


def lightweight_r(layer: str) -> int | None:
    return int(layer.rsplit("_", 1)[1]) if layer.startswith("lightweight_conv") else None


def has_parameters(layer: str) -> bool:
    return layer not in ("identity", "dead_branch")
