"""``primer_ez_lm``: fairseq's ``transformer_lm`` as Primer-EZ (So et al. 2021).

Primer-EZ is the Transformer with its two most effective changes
(``primer/gin/models/medium_primer_ez.gin``): squared-ReLU feed-forwards
(``DenseReluDense.activation = ["squared_relu"]``, L12) and Multi-DConv-Head Attention in
every self-attention (``layers = [MDHA, DenseReluDense]``, L16-19). Here that is
``transformer_lm`` with ``--activation-fn relu_squared`` by default and each decoder
layer's ``MultiheadAttention`` replaced by
:class:`~fairseq_plugins.modules.mdha.MultiDConvHeadAttention` (built where fairseq builds
its own, with the same arguments: same parameter names, initialisation and RNG draws).
Every ``transformer_lm`` option applies (``--cross-self-attention`` is an error: MDHA is
self-attention). ``genome_lm --genome primer_ez`` is the same model (tested).
"""

# no `from __future__ import annotations`: fairseq reads the dataclass field types

from dataclasses import dataclass, field

from fairseq import utils
from fairseq.dataclass import ChoiceEnum
from fairseq.distributed import fsdp_wrap
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import TransformerConfig, TransformerDecoderBase
from fairseq.models.transformer_lm import (
    TransformerLanguageModel,
    TransformerLanguageModelConfig,
    base_lm_architecture,
)
from fairseq.modules.checkpoint_activations import checkpoint_wrapper
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase
from fairseq.utils import safe_getattr

from fairseq_plugins.models.sublayer_lm import (
    SublayerLanguageModel,
    default_max_target_positions,
    sublayer_lm_tiny,
)
from fairseq_plugins.modules.mdha import MultiDConvHeadAttention


class PrimerDecoderLayer(TransformerDecoderLayerBase):
    """fairseq's decoder layer with MDHA as its (causal) self-attention."""

    def build_self_attention(self, embed_dim, cfg, add_bias_kv=False, add_zero_attn=False):
        if cfg.cross_self_attention:
            raise ValueError("--cross-self-attention is not supported by primer_ez_lm (MDHA)")
        return MultiDConvHeadAttention(
            embed_dim,
            cfg.decoder.attention_heads,
            causal=True,
            dropout=cfg.attention_dropout,
            add_bias_kv=add_bias_kv,
            add_zero_attn=add_zero_attn,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
            xformers_att_config=cfg.decoder.xformers_att_config,
        )


class PrimerDecoder(TransformerDecoderBase):
    """fairseq's Transformer decoder of :class:`PrimerDecoderLayer` layers."""

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        """``TransformerDecoderBase.build_decoder_layer`` with this layer class."""
        layer = PrimerDecoderLayer(cfg, no_encoder_attn)
        checkpoint = cfg.checkpoint_activations
        if checkpoint:
            layer = checkpoint_wrapper(layer, offload_to_cpu=cfg.offload_activations)
        min_params_to_wrap = cfg.min_params_to_wrap if not checkpoint else 0
        return fsdp_wrap(layer, min_num_params=min_params_to_wrap)


#: ``--activation-fn`` values: fairseq's choices and its ``relu_squared`` (relu(x)²), which
#: ``fairseq.utils.get_activation_fn`` implements but the choice list leaves out.
ACTIVATIONS = [*utils.get_available_activation_fns(), "relu_squared"]


@dataclass
class PrimerLanguageModelConfig(TransformerLanguageModelConfig):
    activation_fn: ChoiceEnum(ACTIVATIONS) = field(  # type: ignore[valid-type]
        default="relu_squared",
        metadata={"help": "activation function to use (Primer-EZ: relu_squared)"},
    )


@register_model("primer_ez_lm", dataclass=PrimerLanguageModelConfig)
class PrimerLanguageModel(TransformerLanguageModel):
    """``transformer_lm`` with MDHA self-attention (and, by the architectures' defaults,
    squared-ReLU feed-forwards)."""

    @classmethod
    def build_model(cls, args, task):
        """``TransformerLanguageModel.build_model`` with :class:`PrimerDecoder`."""
        if args.decoder_layers_to_keep:
            args.decoder_layers = len(args.decoder_layers_to_keep.split(","))
        default_max_target_positions(args)
        embed_tokens = SublayerLanguageModel.build_lm_embedding(args, task)
        decoder = PrimerDecoder(
            TransformerConfig.from_namespace(args),
            task.target_dictionary,
            embed_tokens,
            no_encoder_attn=True,
        )
        return cls(decoder)


def _squared_relu(args) -> None:
    args.activation_fn = safe_getattr(args, "activation_fn", "relu_squared")


def primer_ez_lm(args):
    """``base_lm_architecture`` (``transformer_lm``'s sizes, pre-norm) with relu(x)²
    feed-forwards. (``--arch primer_ez_lm`` itself is the config's defaults, as
    ``--arch transformer_lm`` is fairseq's.)"""
    _squared_relu(args)
    base_lm_architecture(args)


@register_model_architecture("primer_ez_lm", "primer_ez_lm_tiny")
def primer_ez_lm_tiny(args):
    """``sublayer_lm_tiny``'s sizes (2 layers, d=64, FFN 256, 2 heads; tests, demo)."""
    _squared_relu(args)
    sublayer_lm_tiny(args)


@register_model_architecture("primer_ez_lm", "primer_ez_lm_small")
def primer_ez_lm_small(args):
    """Primer's "small" (LM1B) size, ``primer/gin/models/small_defaults.gin``:L2-5
    (``d_model = 512``, ``num_layers = 6``, ``d_ff = 2048``, ``num_heads = 8``), which are
    ``transformer_lm``'s defaults."""
    args.decoder_embed_dim = safe_getattr(args, "decoder_embed_dim", 512)
    args.decoder_layers = safe_getattr(args, "decoder_layers", 6)
    args.decoder_ffn_embed_dim = safe_getattr(args, "decoder_ffn_embed_dim", 2048)
    args.decoder_attention_heads = safe_getattr(args, "decoder_attention_heads", 8)
    primer_ez_lm(args)


__all__ = [
    "ACTIVATIONS",
    "PrimerDecoder",
    "PrimerDecoderLayer",
    "PrimerLanguageModel",
    "PrimerLanguageModelConfig",
]
