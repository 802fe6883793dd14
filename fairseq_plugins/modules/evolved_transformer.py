"""The Evolved Transformer (So, Liang & Le, ICML 2019), written out block by block.

As tensor2tensor's ``evolved_transformer.py`` does: one readable module per
cell, every width visible (d = embedding dim, h = heads). Pre-norm residual
blocks; each stack ends with a LayerNorm (fairseq's ``normalize_before``
stacks). Parallel branches read one shared LayerNorm of their input, as the
reference's single ``layer_preprocess`` per step (encoder conv branches
evolved_transformer.py:182, decoder attentions :342, decoder conv branches :410).
The decoder's wide self-attention has ``max(min(2h, 16), h)`` heads
(``_capped_double_heads``, :50-63).

The branch layers are the same modules the genome builder uses, built in the
same order, so this model and the ``evolved_transformer`` seed genome built by
:mod:`.genome_cell` are the same model (tested: parameters and losses) wherever
the capped double heads are the seed's 16 (h = 8 or 16: base and big) and
``--activation-dropout`` equals ``--dropout``.

Dropout: ``--dropout`` (t2t's ``layer_prepostprocess_dropout``) on every sublayer
output and on the FFN's hidden activation (:262-263, :616-617);
``--attention-dropout`` inside attention.
"""

from __future__ import annotations

import copy

import torch.nn as nn
import torch.nn.functional as F
from fairseq.models.transformer import TransformerDecoderBase, TransformerEncoderBase
from fairseq.modules import LayerNorm
from fairseq.modules.fairseq_dropout import FairseqDropout
from torch import Tensor

from fairseq_plugins.modules.et_layers import build_branch_layer


def _pad(x: Tensor, width: int) -> Tensor:
    """Zero-pad the channel dimension to ``width``."""
    return F.pad(x, (0, width - x.size(-1)))


def capped_double_heads(heads: int, cap: int = 16) -> int:
    """Heads of the decoder's wide self-attention: twice h, at most ``cap``, at least h
    (t2t evolved_transformer.py:50-63)."""
    return max(min(heads * 2, cap), heads)


def _dropout(cfg) -> FairseqDropout:
    return FairseqDropout(cfg.dropout, module_name="EvolvedTransformer")


class EvolvedEncoderCell(nn.Module):
    """ET encoder cell: GLU; conv branches; self-attention; feed-forward."""

    def __init__(self, cfg):
        super().__init__()
        d, h = cfg.encoder.embed_dim, cfg.encoder.attention_heads
        self.d = d
        layer = dict(heads=h, causal=False, attention_dropout=cfg.attention_dropout)
        # 1. gated linear unit: Linear(d→d) ⊙ sigmoid(Linear(d→d)), pre-LN, residual
        self.glu_norm = LayerNorm(d)
        self.glu = build_branch_layer("gated_linear_unit", d, d, **layer)
        # 2. one LN of x; left: ReLU(Linear d→4d); right: ReLU(conv 3x1 d→d/2)
        #    zero-padded to 4d; sum
        self.conv_norm = LayerNorm(d)
        self.left_dense = build_branch_layer("standard_conv_1x1", d, 4 * d, **layer)
        self.right_conv = build_branch_layer("standard_conv_3x1", d, d // 2, **layer)
        #    LN over 4d; separable conv 9x1 4d→d/2, zero-padded to d; residual
        self.sep_norm = LayerNorm(4 * d)
        self.sep_conv = build_branch_layer("separable_conv_9x1", 4 * d, d // 2, **layer)
        # 3. self-attention, h heads, pre-LN, residual
        self.attn_norm = LayerNorm(d)
        self.attn = build_branch_layer("standard_attention", d, d, **layer)
        # 4. feed-forward: Linear d→4d, ReLU, Linear 4d→d, pre-LN, residual
        self.ffn_norm = LayerNorm(d)
        self.fc1 = build_branch_layer("standard_conv_1x1", d, 4 * d, **layer)
        self.fc2 = build_branch_layer("standard_conv_1x1", 4 * d, d, **layer)
        self.dropout = _dropout(cfg)

    def forward(self, x: Tensor, encoder_padding_mask: Tensor | None = None, **unused) -> Tensor:
        m = {"padding_mask": encoder_padding_mask}
        drop = self.dropout
        x = x + drop(self.glu(self.glu_norm(x), **m))
        normed = self.conv_norm(x)
        left = drop(F.relu(self.left_dense(normed, **m)))
        right = drop(F.relu(self.right_conv(normed, **m)))
        wide = left + _pad(right, 4 * self.d)
        x = _pad(drop(self.sep_conv(self.sep_norm(wide), **m)), self.d) + x
        x = drop(self.attn(self.attn_norm(x), **m)) + x
        hidden = drop(F.relu(self.fc1(self.ffn_norm(x), **m)))
        return drop(self.fc2(hidden, **m)) + x

    def upgrade_state_dict_named(self, state_dict, name: str) -> None:
        """No older checkpoint layout to upgrade."""


class EvolvedDecoderCell(nn.Module):
    """ET decoder cell: two attentions in parallel; causal separable conv branches;
    self-attention; attention to the encoder; swish feed-forward with a LayerNorm
    over its 4d hidden layer. Without an encoder (LM) the encoder attentions drop out."""

    def __init__(self, cfg, no_encoder_attn: bool = False):
        super().__init__()
        d, h = cfg.decoder.embed_dim, cfg.decoder.attention_heads
        self.d = d
        self.has_encoder = not no_encoder_attn
        layer = dict(heads=h, causal=True, attention_dropout=cfg.attention_dropout)
        enc = dict(layer, encoder_dim=cfg.encoder.embed_dim)
        # 1. one LN of x; left: self-attention with max(min(2h, 16), h) heads; right:
        #    attention to the encoder, h heads; both added to the residual
        self.attn_wide_norm = LayerNorm(d)
        wide = dict(layer, heads=capped_double_heads(h))
        self.attn_wide = build_branch_layer("standard_attention", d, d, **wide)
        if self.has_encoder:
            self.enc_attn1 = build_branch_layer("attend_to_encoder", d, d, **enc)
        # 2. one LN of x; left: ReLU(separable conv 11x1 d→2d); right: separable conv
        #    7x1 d→d/2, padded
        self.conv_norm = LayerNorm(d)
        self.left_conv = build_branch_layer("separable_conv_11x1", d, 2 * d, **layer)
        self.right_conv = build_branch_layer("separable_conv_7x1", d, d // 2, **layer)
        #    LN over 2d; separable conv 7x1 2d→d; residual
        self.sep_norm = LayerNorm(2 * d)
        self.sep_conv = build_branch_layer("separable_conv_7x1", 2 * d, d, **layer)
        # 3. self-attention, h heads
        self.attn_norm = LayerNorm(d)
        self.attn = build_branch_layer("standard_attention", d, d, **layer)
        # 4. attention to the encoder, h heads
        if self.has_encoder:
            self.enc_attn2_norm = LayerNorm(d)
            self.enc_attn2 = build_branch_layer("attend_to_encoder", d, d, **enc)
        # 5. feed-forward: swish(Linear d→4d), LN over 4d, Linear 4d→d
        self.ffn_norm = LayerNorm(d)
        self.fc1 = build_branch_layer("standard_conv_1x1", d, 4 * d, **layer)
        self.hidden_norm = LayerNorm(4 * d)
        self.fc2 = build_branch_layer("standard_conv_1x1", 4 * d, d, **layer)
        self.dropout = _dropout(cfg)

    def forward(
        self,
        x,
        encoder_out=None,
        encoder_padding_mask=None,
        incremental_state=None,
        self_attn_mask=None,
        self_attn_padding_mask=None,
        **unused,
    ):
        m = {
            "padding_mask": self_attn_padding_mask,
            "incremental_state": incremental_state,
            "self_attn_mask": self_attn_mask,
        }
        e = {**m, "encoder_out": encoder_out, "encoder_padding_mask": encoder_padding_mask}
        drop = self.dropout
        normed = self.attn_wide_norm(x)
        both = drop(self.attn_wide(normed, **m))
        if self.has_encoder:
            both = both + drop(self.enc_attn1(normed, **e))
        x = both + x
        normed = self.conv_norm(x)
        left = drop(F.relu(self.left_conv(normed, **m)))
        right = drop(self.right_conv(normed, **m))
        wide = left + _pad(right, 2 * self.d)
        x = drop(self.sep_conv(self.sep_norm(wide), **m)) + x
        x = drop(self.attn(self.attn_norm(x), **m)) + x
        if self.has_encoder:
            x = drop(self.enc_attn2(self.enc_attn2_norm(x), **e)) + x
        hidden = drop(F.silu(self.fc1(self.ffn_norm(x), **m)))
        x = drop(self.fc2(self.hidden_norm(hidden), **m)) + x
        return x, None, None

    def upgrade_state_dict_named(self, state_dict, name: str) -> None:
        """No older checkpoint layout to upgrade."""


def _pre_norm(cfg, side: str, cells: int):
    cfg = copy.deepcopy(cfg)
    getattr(cfg, side).layers = cells
    getattr(cfg, side).normalize_before = True
    return cfg


class EvolvedEncoder(TransformerEncoderBase):
    """fairseq's encoder stack of ET encoder cells (``--encoder-layers`` cells)."""

    def __init__(self, cfg, dictionary, embed_tokens):
        super().__init__(_pre_norm(cfg, "encoder", cfg.encoder.layers), dictionary, embed_tokens)

    def build_encoder_layer(self, cfg):
        return EvolvedEncoderCell(cfg)


class EvolvedDecoder(TransformerDecoderBase):
    """fairseq's decoder stack of ET decoder cells (``--decoder-layers`` cells)."""

    def __init__(self, cfg, dictionary, embed_tokens, no_encoder_attn: bool = False):
        super().__init__(
            _pre_norm(cfg, "decoder", cfg.decoder.layers),
            dictionary,
            embed_tokens,
            no_encoder_attn=no_encoder_attn,
        )

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        return EvolvedDecoderCell(cfg, no_encoder_attn)
