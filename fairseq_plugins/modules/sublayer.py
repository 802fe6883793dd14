"""One Transformer sublayer as a module: self-attention, cross-attention or FFN.

Each class is the matching third of fairseq's ``TransformerEncoderLayerBase`` /
``TransformerDecoderLayerBase`` (fairseq/modules/transformer_layer.py): the
same ``MultiheadAttention``, ``LayerNorm``, ``FairseqDropout`` and
``quant_noise`` modules, built in the same order, applied with the same
pre-/post-norm residual. A layer ``s f`` of these equals fairseq's layer, and
parameters are drawn from the RNG in the same order, so a stack ``sf``*n
initialises and trains exactly like fairseq's ``transformer``.

Modules follow the call signature of the stacks they sit in, so fairseq's own
``TransformerEncoderBase`` / ``TransformerDecoderBase`` drive them unchanged:
encoder ``layer(x, encoder_padding_mask=...) -> x``; decoder
``layer(x, enc, enc_padding_mask, incremental_state, ...) -> (x, attn, None)``.
"""

from __future__ import annotations

import torch.nn as nn
from fairseq import utils
from fairseq.modules import LayerNorm, MultiheadAttention
from fairseq.modules.fairseq_dropout import FairseqDropout
from fairseq.modules.quant_noise import quant_noise
from torch import Tensor

IncrementalState = dict[str, dict[str, Tensor | None]] | None

UNSUPPORTED_OPTIONS = ("scale_attn", "scale_heads", "scale_fc", "scale_resids")


def check_supported(cfg) -> None:
    """Reject fairseq options whose extra modules live inside a fixed s-c-f layer."""
    for name in UNSUPPORTED_OPTIONS:
        if utils.safe_getattr(cfg, name, False):
            raise ValueError(f"--{name.replace('_', '-')} is not supported by sublayer models")
    if utils.safe_getattr(cfg, "cross_self_attention", False):
        raise ValueError("--cross-self-attention is not supported by sublayer models")


class ResidualSublayer(nn.Module):
    """Pre-/post-norm residual wrapper shared by all sublayers (fairseq's rule)."""

    def __init__(self, cfg, embed_dim: int, normalize_before: bool) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.normalize_before = normalize_before
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=self.__class__.__name__)
        self.quant_noise = cfg.quant_noise.pq
        self.quant_noise_block_size = cfg.quant_noise.pq_block_size

    def build_layer_norm(self, cfg) -> nn.Module:
        return LayerNorm(self.embed_dim, export=cfg.export)

    def pre(self, x: Tensor) -> Tensor:
        return self.layer_norm(x) if self.normalize_before else x

    def post(self, x: Tensor, residual: Tensor) -> Tensor:
        x = residual + self.dropout_module(x)
        return x if self.normalize_before else self.layer_norm(x)

    def upgrade_state_dict_named(self, state_dict, name: str) -> None:
        """Nothing to upgrade: these modules have no pre-0.12 checkpoint layout."""


class SelfAttentionSublayer(ResidualSublayer):
    """``s``: multi-head self-attention (causal in a decoder, via the stack's mask)."""

    letter = "s"

    def __init__(self, cfg, *, decoder: bool) -> None:
        side = cfg.decoder if decoder else cfg.encoder
        super().__init__(cfg, side.embed_dim, side.normalize_before)
        self.decoder = decoder
        self.self_attn = MultiheadAttention(
            self.embed_dim,
            side.attention_heads,
            dropout=cfg.attention_dropout,
            self_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
            xformers_att_config=side.xformers_att_config,
        )
        self.layer_norm = self.build_layer_norm(cfg)

    def forward(
        self,
        x: Tensor,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        self_attn_mask: Tensor | None = None,
        self_attn_padding_mask: Tensor | None = None,
        need_attn: bool = False,
        need_head_weights: bool = False,
        **unused,
    ):
        residual = x
        x = self.pre(x)
        if not self.decoder:  # encoder call: layer(x, encoder_padding_mask=mask) -> x
            x, _ = self.self_attn(
                query=x, key=x, value=x, key_padding_mask=encoder_padding_mask, need_weights=False
            )
            return self.post(x, residual)
        x, _ = self.self_attn(
            query=x,
            key=x,
            value=x,
            key_padding_mask=self_attn_padding_mask,
            incremental_state=incremental_state,
            need_weights=False,
            attn_mask=self_attn_mask,
        )
        return self.post(x, residual), None, None


class CrossAttentionSublayer(ResidualSublayer):
    """``c``: attention from the decoder to the encoder output (translation decoders)."""

    letter = "c"

    def __init__(self, cfg) -> None:
        super().__init__(cfg, cfg.decoder.embed_dim, cfg.decoder.normalize_before)
        self.encoder_attn = MultiheadAttention(
            self.embed_dim,
            cfg.decoder.attention_heads,
            kdim=cfg.encoder.embed_dim,
            vdim=cfg.encoder.embed_dim,
            dropout=cfg.attention_dropout,
            encoder_decoder_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
            xformers_att_config=cfg.encoder.xformers_att_config,
        )
        self.layer_norm = self.build_layer_norm(cfg)
        self.need_attn = True

    def forward(
        self,
        x: Tensor,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        self_attn_mask: Tensor | None = None,
        self_attn_padding_mask: Tensor | None = None,
        need_attn: bool = False,
        need_head_weights: bool = False,
        **unused,
    ):
        if encoder_out is None:  # as fairseq: no encoder, no cross-attention
            return x, None, None
        if need_head_weights:
            need_attn = True
        residual = x
        x, attn = self.encoder_attn(
            query=self.pre(x),
            key=encoder_out,
            value=encoder_out,
            key_padding_mask=encoder_padding_mask,
            incremental_state=incremental_state,
            static_kv=True,
            need_weights=need_attn or (not self.training and self.need_attn),
            need_head_weights=need_head_weights,
        )
        return self.post(x, residual), attn, None

    def make_generation_fast_(self, need_attn: bool = False, **kwargs) -> None:
        self.need_attn = need_attn


class FeedForwardSublayer(ResidualSublayer):
    """``f``: position-wise feed-forward network fc1 -> activation -> fc2."""

    letter = "f"

    def __init__(self, cfg, *, decoder: bool) -> None:
        side = cfg.decoder if decoder else cfg.encoder
        super().__init__(cfg, side.embed_dim, side.normalize_before)
        self.decoder = decoder
        self.activation_fn = utils.get_activation_fn(activation=cfg.activation_fn)
        activation_dropout_p = cfg.activation_dropout
        if activation_dropout_p == 0:  # fairseq's backwards-compatible relu_dropout
            activation_dropout_p = cfg.relu_dropout or 0
        self.activation_dropout_module = FairseqDropout(
            float(activation_dropout_p), module_name=self.__class__.__name__
        )
        self.fc1 = quant_noise(
            nn.Linear(self.embed_dim, side.ffn_embed_dim),
            p=self.quant_noise,
            block_size=self.quant_noise_block_size,
        )
        self.fc2 = quant_noise(
            nn.Linear(side.ffn_embed_dim, self.embed_dim),
            p=self.quant_noise,
            block_size=self.quant_noise_block_size,
        )
        self.layer_norm = self.build_layer_norm(cfg)

    def feed_forward(self, x: Tensor) -> Tensor:
        x = self.activation_fn(self.fc1(x))
        x = self.activation_dropout_module(x)
        return self.fc2(x)

    def forward(self, x: Tensor, *args, **kwargs):
        residual = x
        x = self.post(self.feed_forward(self.pre(x)), residual)
        if self.decoder:
            return x, None, None
        return x


def build_sublayer(letter: str, cfg, *, decoder: bool) -> nn.Module:
    """The module for one letter of a validated sublayer order."""
    if letter == "s":
        return SelfAttentionSublayer(cfg, decoder=decoder)
    if letter == "f":
        return FeedForwardSublayer(cfg, decoder=decoder)
    if letter == "c" and decoder:
        return CrossAttentionSublayer(cfg)
    raise ValueError(f"sublayer {letter!r} is not valid here")


def stack_letters(layers: nn.ModuleList) -> str:
    """The order string of a stack of sublayers (for logs and tests)."""
    return "".join(getattr(_unwrap(m), "letter", "?") for m in layers)


def _unwrap(module: nn.Module) -> nn.Module:
    while hasattr(module, "module") and isinstance(module.module, nn.Module):
        module = module.module
    return module


__all__ = [
    "CrossAttentionSublayer",
    "FeedForwardSublayer",
    "SelfAttentionSublayer",
    "build_sublayer",
    "check_supported",
    "stack_letters",
]
