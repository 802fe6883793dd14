"""fairseq's own encoder and decoder stacks, with one module per sublayer.

``SublayerEncoder`` / ``SublayerDecoder`` subclass fairseq's
``TransformerEncoderBase`` / ``TransformerDecoderBase`` and only change what
a "layer" is: instead of ``cfg.*.layers`` fixed ``s (c) f`` layers they build
one module per letter of the sublayer order. Embeddings, positions, masks,
dropout, the final LayerNorm, the output projection, incremental decoding and
beam reordering are fairseq's code, untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from fairseq.distributed import fsdp_wrap
from fairseq.models.transformer import TransformerDecoderBase, TransformerEncoderBase
from fairseq.modules.checkpoint_activations import checkpoint_wrapper

from fairseq_plugins.modules.sublayer import build_sublayer, check_supported


def _wrap(layer, cfg):
    """Activation checkpointing and FSDP wrapping exactly as fairseq's stacks do."""
    checkpoint = cfg.checkpoint_activations
    if checkpoint:
        layer = checkpoint_wrapper(layer, offload_to_cpu=cfg.offload_activations)
    min_params_to_wrap = cfg.min_params_to_wrap if not checkpoint else 0
    return fsdp_wrap(layer, min_num_params=min_params_to_wrap)


def _with_layer_count(cfg, side: str, order: str):
    """A copy of ``cfg`` whose ``side.layers`` is the number of sublayers."""
    cfg = copy.deepcopy(cfg)
    getattr(cfg, side).layers = len(order)
    if getattr(cfg, side).layers_to_keep:
        raise ValueError(f"--{side}-layers-to-keep is not supported by sublayer models")
    check_supported(cfg)
    return cfg


class SublayerEncoder(TransformerEncoderBase):
    """fairseq's Transformer encoder over an ``s``/``f`` sublayer order."""

    def __init__(self, cfg, dictionary, embed_tokens, order: str, return_fc: bool = False):
        self.sublayer_order = order
        self._letters: Iterator[str] = iter(order)
        super().__init__(
            _with_layer_count(cfg, "encoder", order), dictionary, embed_tokens, return_fc
        )
        del self._letters

    def build_encoder_layer(self, cfg):
        return _wrap(build_sublayer(next(self._letters), cfg, decoder=False), cfg)


class SublayerDecoder(TransformerDecoderBase):
    """fairseq's Transformer decoder over an ``s``/``c``/``f`` sublayer order."""

    def __init__(
        self,
        cfg,
        dictionary,
        embed_tokens,
        order: str,
        no_encoder_attn: bool = False,
        output_projection=None,
    ):
        if no_encoder_attn and "c" in order:
            raise ValueError("decoder sublayer order has 'c' but the model has no encoder")
        self.sublayer_order = order
        self._letters: Iterator[str] = iter(order)
        super().__init__(
            _with_layer_count(cfg, "decoder", order),
            dictionary,
            embed_tokens,
            no_encoder_attn=no_encoder_attn,
            output_projection=output_projection,
        )
        del self._letters
        # fairseq returns the attention of layer num_layers-1 for alignment;
        # here that is the last cross-attention sublayer.
        self.alignment_sublayer = order.rfind("c") if "c" in order else None

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        return _wrap(build_sublayer(next(self._letters), cfg, decoder=True), cfg)

    def extract_features(
        self,
        prev_output_tokens,
        encoder_out=None,
        incremental_state=None,
        full_context_alignment: bool = False,
        alignment_layer=None,
        alignment_heads=None,
    ):
        if alignment_layer is None and self.alignment_sublayer is not None:
            alignment_layer = self.alignment_sublayer
        return super().extract_features(
            prev_output_tokens,
            encoder_out,
            incremental_state,
            full_context_alignment=full_context_alignment,
            alignment_layer=alignment_layer,
            alignment_heads=alignment_heads,
        )
