"""One cell of a genome as a module, and fairseq's stacks built from cells.

A cell keeps a list of hidden states (0 = the cell input). Each block reads
two of them, applies its branches (the layer on the state — LayerNormed first
when the ``norm`` gene says so —, the activation, dropout) and combines them:
``add`` zero-pads and ``multiply`` one-pads the narrower branch, ``concat``
concatenates. The cell output is the sum (zero-padded) of the block outputs
no later block reads. As tensor2tensor's ``apply_nas_layers``
(nas_model.py:546-754):

- a hidden state read by several ``layer_norm`` branches is normalized once, by
  one LayerNorm, and shared (nas_model.py:508-515);
- ``leaky_relu`` is ``tf.nn.leaky_relu`` (slope 0.2), ``swish`` is SiLU, Primer's
  ``squared_relu`` is fairseq's ``relu_squared`` (``relu(x) ** 2``, what
  ``--activation-fn relu_squared`` computes);
- widths follow :mod:`evotrans.genome.widths`: the copies of a cell are chained,
  copy n reading copy n-1's output whatever its width (nas_model.py:649-652), so each
  copy is built for its own input width; the encoder stack's final LayerNorm is over
  its output width, which ``attend_to_encoder`` projects keys/values from; a decoder
  stack whose output is not d wide ends with the reference's resize: LayerNorm,
  dense to d with dropout, LayerNorm (nas_model.py:915-939).

Dropout follows fairseq's Transformer layer so that the Transformer genome
*is* fairseq's Transformer: every branch except ``identity`` gets dropout on its
output (t2t's ``relu_dropout`` of every non-identity branch, nas_layers.py:160-161,
nas_model.py:525): ``--dropout``, except an activated branch whose sibling is dead
(an inner hidden layer, like the FFN's ReLU layer), which gets
``--activation-dropout`` (fairseq's FFN; the search recipes set both to the same
value). Genome models are pre-norm, each stack ends with a LayerNorm (fairseq's
``normalize_before`` stacks).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models.transformer import TransformerDecoderBase, TransformerEncoderBase
from fairseq.modules import LayerNorm
from fairseq.modules.fairseq_dropout import FairseqDropout
from fairseq.utils import relu_squared
from torch import Tensor

from evotrans.genome import space
from evotrans.genome.types import Branch, Cell
from evotrans.genome.widths import (
    branch_output_width,
    cell_output_width,
    copy_widths,
    stack_output_width,
    state_widths,
    unused_outputs,
)
from fairseq_plugins.modules.et_layers import build_branch_layer

LEAKY_RELU_SLOPE = 0.2  # tf.nn.leaky_relu's default alpha (nas_model.py:57)
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor] | None] = {
    "none": None,
    "relu": F.relu,
    "swish": F.silu,
    "leaky_relu": partial(F.leaky_relu, negative_slope=LEAKY_RELU_SLOPE),
    "squared_relu": relu_squared,
}


def _pad_to(x: Tensor, width: int, value: float) -> Tensor:
    return x if x.size(-1) == width else F.pad(x, (0, width - x.size(-1)), value=value)


class GenomeBranch(nn.Module):
    """layer → activation → dropout, for one branch of a block (its input's LayerNorm,
    if any, is the cell's shared one for that state)."""

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
        self.normed = branch.norm == "layer_norm"
        self.layer_name = branch.layer
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

    def forward(self, states: list[Tensor], inputs: Callable[[GenomeBranch], Tensor], context):
        outs = [b(inputs(b), **context) for b in (self.left, self.right) if b is not None]
        if len(outs) == 1:
            return _pad_to(outs[0], self.width, 0.0)
        if self.combiner == "concat":
            return torch.cat(outs, dim=-1)
        if self.combiner == "multiply":
            return _pad_to(outs[0], self.width, 1.0) * _pad_to(outs[1], self.width, 1.0)
        return _pad_to(outs[0], self.width, 0.0) + _pad_to(outs[1], self.width, 0.0)


class GenomeCell(nn.Module):
    """One copy of a cell (one "layer" of the stack) whose input is ``input_width`` × d
    wide; call signature of fairseq's encoder or decoder layers, so fairseq's own stacks
    drive it. ``encoder_dim``: the encoder output width (default the encoder's d)."""

    def __init__(
        self,
        cell: Cell,
        cfg,
        *,
        decoder: bool,
        input_width: Fraction = Fraction(1),
        encoder_dim: int | None = None,
    ):
        super().__init__()
        side = cfg.decoder if decoder else cfg.encoder
        d, heads = side.embed_dim, side.attention_heads
        encoder_dim = cfg.encoder.embed_dim if encoder_dim is None else encoder_dim
        self.decoder = decoder
        widths = state_widths(cell, input_width)
        self.outputs = unused_outputs(cell)
        self.blocks = nn.ModuleList()
        # one LayerNorm per hidden state read through layer_norm, shared by its readers
        self.norms = nn.ModuleDict()
        for index, block in enumerate(cell.blocks, start=1):
            branches = []
            for branch, other in ((block.left, block.right), (block.right, block.left)):
                if branch.layer == "dead_branch":
                    branches.append(None)
                    continue
                width_in = widths[branch.input] * d
                out = branch_output_width(branch, widths[branch.input])
                assert out is not None
                key = str(branch.input)
                if branch.norm == "layer_norm" and key not in self.norms:
                    self.norms[key] = LayerNorm(int(width_in))
                branches.append(
                    GenomeBranch(
                        branch,
                        int(width_in),
                        int(out * d),
                        cfg=cfg,
                        heads=heads,
                        decoder=decoder,
                        encoder_dim=encoder_dim,
                        sibling_dead=other.layer == "dead_branch",
                    )
                )
            self.blocks.append(
                GenomeBlock(branches[0], branches[1], block.combiner, int(widths[index] * d))
            )
        self.embed_dim = d
        self.input_dim = int(widths[0] * d)
        self.output_dim = int(cell_output_width(cell, widths) * d)

    def run(self, x: Tensor, context: dict) -> Tensor:
        states = [x]
        normed: dict[int, Tensor] = {}

        def inputs(branch: GenomeBranch) -> Tensor:
            source = branch.source
            if not branch.normed:
                return states[source]
            if source not in normed:
                normed[source] = self.norms[str(source)](states[source])
            return normed[source]

        for block in self.blocks:
            states.append(block(states, inputs, context))
        out = _pad_to(states[self.outputs[0]], self.output_dim, 0.0)
        for i in self.outputs[1:]:
            out = out + _pad_to(states[i], self.output_dim, 0.0)
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


class ResizeOutput(nn.Module):
    """The decoder output of a cell stack that is not d wide (nas_model.py:915-939):
    the stack's final LayerNorm over its width, a dense layer to d (dropout on its
    output, as every non-identity branch) and a LayerNorm over d."""

    def __init__(self, width: int, d: int, cfg, final_norm: bool = True):
        super().__init__()
        self.norm = LayerNorm(width) if final_norm else None
        self.dense = build_branch_layer("standard_conv_1x1", width, d, heads=1, causal=True)
        self.dropout = FairseqDropout(float(cfg.dropout), module_name=self.__class__.__name__)
        self.out_norm = LayerNorm(d) if final_norm else None

    def forward(self, x: Tensor) -> Tensor:
        if self.norm is not None:
            x = self.norm(x)
        x = self.dropout(self.dense(x))
        return self.out_norm(x) if self.out_norm is not None else x


def _genome_cfg(cfg, side: str, cell: Cell):
    cfg = copy.deepcopy(cfg)
    getattr(cfg, side).layers = cell.num_cells
    getattr(cfg, side).normalize_before = True  # genome models are pre-norm, final LayerNorm
    return cfg


class GenomeEncoder(TransformerEncoderBase):
    """fairseq's Transformer encoder with genome cells as its layers (each copy built for
    its input width); the final LayerNorm is over the stack's output width."""

    def __init__(self, cfg, dictionary, embed_tokens, cell: Cell):
        self._cell = cell
        self._copies = iter(copy_widths(cell))
        super().__init__(_genome_cfg(cfg, "encoder", cell), dictionary, embed_tokens)
        width = int(stack_output_width(cell) * cfg.encoder.embed_dim)
        self.output_dim = width
        if self.layer_norm is not None and width != cfg.encoder.embed_dim:
            self.layer_norm = LayerNorm(width)

    def build_encoder_layer(self, cfg):
        widths = next(self._copies)
        return GenomeCell(self._cell, cfg, decoder=False, input_width=widths[0])


class GenomeDecoder(TransformerDecoderBase):
    """fairseq's Transformer decoder with genome cells as its layers (each copy built for
    its input width), resized to d at the end when the stack's output is not d wide.
    ``encoder_dim``: the encoder stack's output width (default the encoder's d)."""

    def __init__(
        self,
        cfg,
        dictionary,
        embed_tokens,
        cell: Cell,
        no_encoder_attn: bool = False,
        encoder_dim: int | None = None,
    ):
        self._cell = cell
        self._copies = iter(copy_widths(cell))
        self._encoder_dim = encoder_dim
        super().__init__(
            _genome_cfg(cfg, "decoder", cell),
            dictionary,
            embed_tokens,
            no_encoder_attn=no_encoder_attn,
        )
        d = cfg.decoder.embed_dim
        width = int(stack_output_width(cell) * d)
        if width != d:
            self.layer_norm = ResizeOutput(width, d, cfg, final_norm=self.layer_norm is not None)

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        widths = next(self._copies)
        return GenomeCell(
            self._cell,
            cfg,
            decoder=True,
            input_width=widths[0],
            encoder_dim=self._encoder_dim,
        )
