"""One cell of a genome as a module, and fairseq's stacks built from cells.

A cell keeps a list of hidden states (0 = the cell input). Each block reads
two of them, applies its branches (LayerNorm on the input when the ``norm``
gene says so, the layer, the activation, dropout) and combines them:
``add`` zero-pads and ``multiply`` one-pads the narrower branch, ``concat``
concatenates. The cell output is the sum (zero-padded) of the block outputs
no later block reads.

Dropout follows fairseq's Transformer layer so that the Transformer genome
*is* fairseq's Transformer: a branch with parameters gets ``--dropout`` on its
output, except an activated branch whose sibling is dead (an inner hidden
layer, like the FFN's ReLU layer), which gets ``--activation-dropout``;
identities get none. Genome models are pre-norm, each stack ends with a
LayerNorm (fairseq's ``normalize_before`` stacks).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models.transformer import TransformerDecoderBase, TransformerEncoderBase
from fairseq.modules import LayerNorm
from fairseq.modules.fairseq_dropout import FairseqDropout
from torch import Tensor

from evotrans.genome import space
from evotrans.genome.types import Branch, Cell
from evotrans.genome.validate import branch_output_width, state_widths, unused_outputs
from fairseq_plugins.modules.et_layers import build_branch_layer

ACTIVATIONS = {"none": None, "relu": F.relu, "swish": F.silu, "leaky_relu": F.leaky_relu}


def _pad_to(x: Tensor, width: int, value: float) -> Tensor:
    return x if x.size(-1) == width else F.pad(x, (0, width - x.size(-1)), value=value)


class GenomeBranch(nn.Module):
    """norm → layer → activation → dropout, for one branch of a block."""

    def __init__(
        self,
        branch: Branch,
        width_in: int,
        width_out: int,
        *,
        cfg,
        heads: int,
        decoder: bool,
        encoder_dim: int,
        sibling_dead: bool,
    ):
        super().__init__()
        self.source = branch.input
        self.layer_name = branch.layer
        self.norm = LayerNorm(width_in) if branch.norm == "layer_norm" else None
        self.layer = build_branch_layer(
            branch.layer,
            width_in,
            width_out,
            heads=heads,
            causal=decoder,
            encoder_dim=encoder_dim if branch.layer == "attend_to_encoder" else None,
            attention_dropout=cfg.attention_dropout,
        )
        self.activation = ACTIVATIONS[branch.activation]
        if not space.has_parameters(branch.layer):
            p = 0.0
        elif sibling_dead and branch.activation != "none":
            p = cfg.activation_dropout or getattr(cfg, "relu_dropout", 0.0) or 0.0
        else:
            p = cfg.dropout
        self.dropout = FairseqDropout(float(p), module_name=self.__class__.__name__)

    def forward(self, x: Tensor, **context) -> Tensor:
        if self.norm is not None:
            x = self.norm(x)
        x = self.layer(x, **context)
        if self.activation is not None:
            x = self.activation(x)
        return self.dropout(x)


class GenomeBlock(nn.Module):
    def __init__(
        self, left: GenomeBranch | None, right: GenomeBranch | None, combiner: str, width: int
    ):
        super().__init__()
        self.left, self.right = left, right
        self.combiner = combiner
        self.width = width

    def forward(self, states: list[Tensor], context: dict) -> Tensor:
        outs = [b(states[b.source], **context) for b in (self.left, self.right) if b is not None]
        if len(outs) == 1:
            return _pad_to(outs[0], self.width, 0.0)
        if self.combiner == "concat":
            return torch.cat(outs, dim=-1)
        if self.combiner == "multiply":
            return _pad_to(outs[0], self.width, 1.0) * _pad_to(outs[1], self.width, 1.0)
        return _pad_to(outs[0], self.width, 0.0) + _pad_to(outs[1], self.width, 0.0)


class GenomeCell(nn.Module):
    """A cell (one "layer" of the stack); call signature of fairseq's encoder or
    decoder layers, so fairseq's own stacks drive it."""

    def __init__(self, cell: Cell, cfg, *, decoder: bool):
        super().__init__()
        side = cfg.decoder if decoder else cfg.encoder
        d, heads = side.embed_dim, side.attention_heads
        self.decoder = decoder
        widths = state_widths(cell)
        self.outputs = unused_outputs(cell)
        self.blocks = nn.ModuleList()
        for index, block in enumerate(cell.blocks, start=1):
            branches = []
            for branch, other in ((block.left, block.right), (block.right, block.left)):
                if branch.layer == "dead_branch":
                    branches.append(None)
                    continue
                width_in = widths[branch.input] * d
                width_out = branch_output_width(branch, widths[branch.input]) * d
                branches.append(
                    GenomeBranch(
                        branch,
                        int(width_in),
                        int(width_out),
                        cfg=cfg,
                        heads=heads,
                        decoder=decoder,
                        encoder_dim=cfg.encoder.embed_dim,
                        sibling_dead=other.layer == "dead_branch",
                    )
                )
            self.blocks.append(
                GenomeBlock(branches[0], branches[1], block.combiner, int(widths[index] * d))
            )
        self.embed_dim = d

    def run(self, x: Tensor, context: dict) -> Tensor:
        states = [x]
        for block in self.blocks:
            states.append(block(states, context))
        out = _pad_to(states[self.outputs[0]], self.embed_dim, 0.0)
        for i in self.outputs[1:]:
            out = out + _pad_to(states[i], self.embed_dim, 0.0)
        return out

    def forward(
        self,
        x,
        encoder_out=None,
        encoder_padding_mask=None,
        incremental_state=None,
        self_attn_mask=None,
        self_attn_padding_mask=None,
        need_attn=False,
        need_head_weights=False,
        **unused,
    ):
        if not self.decoder:  # encoder call: layer(x, encoder_padding_mask=mask) -> x
            return self.run(x, {"padding_mask": encoder_padding_mask})
        context = {
            "padding_mask": self_attn_padding_mask,
            "incremental_state": incremental_state,
            "encoder_out": encoder_out,
            "encoder_padding_mask": encoder_padding_mask,
            "self_attn_mask": self_attn_mask,
        }
        return self.run(x, context), None, None

    def upgrade_state_dict_named(self, state_dict, name: str) -> None:
        """Nothing to upgrade: genome cells have no older checkpoint layout."""


def _genome_cfg(cfg, side: str, cell: Cell):
    cfg = copy.deepcopy(cfg)
    getattr(cfg, side).layers = cell.num_cells
    getattr(cfg, side).normalize_before = True  # genome models are pre-norm, final LayerNorm
    return cfg


class GenomeEncoder(TransformerEncoderBase):
    """fairseq's Transformer encoder with genome cells as its layers."""

    def __init__(self, cfg, dictionary, embed_tokens, cell: Cell):
        self._cell = cell
        super().__init__(_genome_cfg(cfg, "encoder", cell), dictionary, embed_tokens)

    def build_encoder_layer(self, cfg):
        return GenomeCell(self._cell, cfg, decoder=False)


class GenomeDecoder(TransformerDecoderBase):
    """fairseq's Transformer decoder with genome cells as its layers."""

    def __init__(self, cfg, dictionary, embed_tokens, cell: Cell, no_encoder_attn: bool = False):
        self._cell = cell
        super().__init__(
            _genome_cfg(cfg, "decoder", cell),
            dictionary,
            embed_tokens,
            no_encoder_attn=no_encoder_attn,
        )

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        return GenomeCell(self._cell, cfg, decoder=True)
