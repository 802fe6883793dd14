"""``genome_lm``: a decoder-only language model from a genome's decoder cell (its
encoder attention removed), and ``evolved_transformer_lm``: the published ET
decoder cell written out block by block, for language modelling.

Their options are ``transformer_lm``'s (adaptive input/softmax, shared embeddings,
positions, dropouts) and ``--genome``; ``sublayer_lm``'s order flags do not apply.
Checkpoints saved when the config still carried them (``decoder_sublayer_order``,
``sandwich_coef``, always None) load as before: fairseq drops a checkpoint's keys the
model's config does not have.
"""

# no `from __future__ import annotations`: fairseq reads the dataclass field types

from dataclasses import dataclass, field
from typing import Optional

from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import TransformerConfig
from fairseq.models.transformer_lm import (
    TransformerLanguageModelConfig,
    base_lm_architecture,
)
from fairseq.utils import safe_getattr

from evotrans.genome import from_compact, without_encoder_attention
from fairseq_plugins.genomes import resolve_genome
from fairseq_plugins.models.sublayer_lm import (
    SublayerLanguageModel,
    default_max_target_positions,
    sublayer_lm_tiny,
)
from fairseq_plugins.modules.evolved_transformer import EvolvedDecoder
from fairseq_plugins.modules.genome_cell import GenomeDecoder


@dataclass
class GenomeLanguageModelConfig(TransformerLanguageModelConfig):
    genome: Optional[str] = field(
        default=None,
        metadata={
            "help": "JSON file, compact genome or seed name (transformer, "
            "evolved_transformer); its decoder cell is used"
        },
    )


def _prepare(args) -> None:
    args.decoder_normalize_before = True
    default_max_target_positions(args)


@register_model("genome_lm", dataclass=GenomeLanguageModelConfig)
class GenomeLanguageModel(SublayerLanguageModel):
    """Decoder-only LM: ``--decoder-layers`` is replaced by the genome's cell count.
    (A :class:`SublayerLanguageModel` for its token embeddings, not for its flags.)"""

    @classmethod
    def build_model(cls, args, task):
        _prepare(args)
        _, args.genome = resolve_genome(
            safe_getattr(args, "genome", None) or "transformer",
            d=args.decoder_embed_dim,
            heads=args.decoder_attention_heads,
            lm=True,
        )
        cell = without_encoder_attention(from_compact(args.genome).decoder)
        embed_tokens = cls.build_lm_embedding(args, task)
        decoder = GenomeDecoder(
            TransformerConfig.from_namespace(args),
            task.target_dictionary,
            embed_tokens,
            cell,
            no_encoder_attn=True,
        )
        return cls(decoder)


@register_model("evolved_transformer_lm", dataclass=GenomeLanguageModelConfig)
class EvolvedTransformerLanguageModel(SublayerLanguageModel):
    """The ET decoder cell stacked ``--decoder-layers`` times, without encoder attention."""

    @classmethod
    def build_model(cls, args, task):
        _prepare(args)
        embed_tokens = cls.build_lm_embedding(args, task)
        decoder = EvolvedDecoder(
            TransformerConfig.from_namespace(args),
            task.target_dictionary,
            embed_tokens,
            no_encoder_attn=True,
        )
        return cls(decoder)


@register_model_architecture("genome_lm", "genome_lm_tiny")
def genome_lm_tiny(args):
    """``sublayer_lm_tiny``'s sizes: d=64, 2 heads, shared input/output embeddings
    (cells and widths come from the genome; the ET LM stacks 2 cells)."""
    sublayer_lm_tiny(args)


@register_model_architecture("evolved_transformer_lm", "evolved_transformer_lm_tiny")
def evolved_transformer_lm_tiny(args):
    """2 ET decoder cells, d=64, 2 heads (tests, demo)."""
    args.decoder_layers = safe_getattr(args, "decoder_layers", 2)
    genome_lm_tiny(args)


@register_model_architecture("evolved_transformer_lm", "evolved_transformer_lm_base")
def evolved_transformer_lm_base(args):
    """4 ET decoder cells, d=512, 8 heads."""
    args.decoder_layers = safe_getattr(args, "decoder_layers", 4)
    args.decoder_embed_dim = safe_getattr(args, "decoder_embed_dim", 512)
    args.decoder_attention_heads = safe_getattr(args, "decoder_attention_heads", 8)
    base_lm_architecture(args)
