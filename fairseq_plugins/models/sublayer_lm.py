"""``sublayer_lm``: fairseq's ``transformer_lm`` with any sublayer order.

Accepts every ``transformer_lm`` option plus ``--decoder-sublayer-order``
(a literal such as ``sssfsfff``, or ``sandwich:N:K``, ``interleaved:N``,
``random:N:SEED``) and ``--sandwich-coef K``. Without an order it is exactly
``transformer_lm`` with ``--decoder-layers`` layers (same parameters, same
initialisation, same losses).
"""

# no `from __future__ import annotations`: fairseq reads the dataclass field types

import ast
from dataclasses import dataclass, field
from typing import Optional

from fairseq import options
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import TransformerConfig
from fairseq.models.transformer_lm import (
    DEFAULT_MAX_TARGET_POSITIONS,
    TransformerLanguageModel,
    TransformerLanguageModelConfig,
    base_lm_architecture,
    transformer_lm_baevski_wiki103,
)
from fairseq.modules import AdaptiveInput, CharacterTokenEmbedder
from fairseq.utils import safe_getattr

from fairseq_plugins.modules.stacks import SublayerDecoder
from fairseq_plugins.orders import lm_decoder_order


@dataclass
class SublayerLanguageModelConfig(TransformerLanguageModelConfig):
    decoder_sublayer_order: Optional[str] = field(
        default=None,
        metadata={
            "help": "decoder sublayer order: letters s (self-attention) and f (feed-forward), "
            "e.g. sssfsfff, or sandwich:N:K, interleaved:N, random:N:SEED "
            "(default: sf repeated --decoder-layers times)"
        },
    )
    sandwich_coef: Optional[int] = field(
        default=None,
        metadata={
            "help": "sandwich coefficient K: order = sandwich:--decoder-layers:K "
            "(K s first, K f last; 0 = interleaved baseline)"
        },
    )


def default_max_target_positions(args) -> None:
    """``--max-target-positions`` defaults to ``--tokens-per-sample``, as in fairseq's
    ``TransformerLanguageModel.build_model`` (every LM architecture of the plugin)."""
    if safe_getattr(args, "max_target_positions", None) is None:
        args.max_target_positions = safe_getattr(
            args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS
        )


@register_model("sublayer_lm", dataclass=SublayerLanguageModelConfig)
class SublayerLanguageModel(TransformerLanguageModel):
    """A decoder-only Transformer LM whose sublayer order is a string."""

    @classmethod
    def build_model(cls, args, task):
        order = lm_decoder_order(args)
        args.decoder_sublayer_order = order
        default_max_target_positions(args)
        embed_tokens = cls.build_lm_embedding(args, task)
        decoder = SublayerDecoder(
            TransformerConfig.from_namespace(args),
            task.target_dictionary,
            embed_tokens,
            order,
            no_encoder_attn=True,
        )
        return cls(decoder)

    @classmethod
    def build_lm_embedding(cls, args, task):
        """Token embeddings exactly as ``TransformerLanguageModel.build_model`` makes them."""
        if args.character_embeddings:
            return CharacterTokenEmbedder(
                task.source_dictionary,
                ast.literal_eval(args.character_filters),
                args.character_embedding_dim,
                args.decoder_embed_dim,
                args.char_embedder_highway_layers,
            )
        if args.adaptive_input:
            if args.tie_adaptive_weights:
                assert args.adaptive_input_factor == args.adaptive_softmax_factor
                assert args.adaptive_softmax_cutoff == args.adaptive_input_cutoff
                assert args.decoder_input_dim == args.decoder_output_dim
            return AdaptiveInput(
                len(task.source_dictionary),
                task.source_dictionary.pad(),
                args.decoder_input_dim,
                args.adaptive_input_factor,
                args.decoder_embed_dim,
                options.eval_str_list(args.adaptive_input_cutoff, type=int),
                args.quant_noise_pq,
                args.quant_noise_pq_block_size,
            )
        return cls.build_embedding(args, task.source_dictionary, args.decoder_input_dim)


@register_model_architecture("sublayer_lm", "sublayer_lm_tiny")
def sublayer_lm_tiny(args):
    """Tests and the demo: 2 s/f pairs, d=64, FFN 256, 2 heads, pre-norm."""
    args.decoder_embed_dim = safe_getattr(args, "decoder_embed_dim", 64)
    args.decoder_ffn_embed_dim = safe_getattr(args, "decoder_ffn_embed_dim", 256)
    args.decoder_layers = safe_getattr(args, "decoder_layers", 2)
    args.decoder_attention_heads = safe_getattr(args, "decoder_attention_heads", 2)
    args.share_decoder_input_output_embed = safe_getattr(
        args, "share_decoder_input_output_embed", True
    )
    base_lm_architecture(args)


@register_model_architecture("sublayer_lm", "sublayer_lm_wiki103")
def sublayer_lm_wiki103(args):
    """Baevski & Auli's adaptive-input WikiText-103 LM (fairseq ``transformer_lm_wiki103``):
    16 s/f pairs, d=1024, FFN 4096, 8 heads, adaptive input/softmax."""
    transformer_lm_baevski_wiki103(args)


@register_model_architecture("sublayer_lm", "sandwich_lm_wiki103")
def sandwich_lm_wiki103(args):
    """``sublayer_lm_wiki103`` with the order ``sandwich:16:K`` from ``--sandwich-coef K``
    (the Sandwich Transformer's WikiText-103 setting; K=0 is the baseline)."""
    args.sandwich_coef = safe_getattr(args, "sandwich_coef", 0)
    sublayer_lm_wiki103(args)
