"""``genome_transformer``: an encoder-decoder built from an Evolved Transformer genome,
and the fixed ``evolved_transformer_{tiny,base,big}`` architectures.

``--genome`` takes a JSON file, a compact genome or a seed name
(``transformer``, ``evolved_transformer``). Widths are relative to the embedding
dimension (a cell may output another width: the encoder keeps it, the decoder
is resized to d, see :mod:`fairseq_plugins.modules.genome_cell`); every other
option is fairseq's ``transformer``'s
(``--share-all-embeddings``, dropouts, positions, …). Genome models are
pre-norm. With ``--genome transformer`` the model is fairseq's pre-norm
``transformer`` with FFN width 4d, parameter for parameter.
"""

from __future__ import annotations

from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerModel,
    base_architecture,
    tiny_architecture,
    transformer_vaswani_wmt_en_de_big,
    transformer_wmt_en_de,
)

from evotrans.genome import from_compact
from evotrans.genome.widths import stack_output_width
from fairseq_plugins.genomes import resolve_genome
from fairseq_plugins.modules.evolved_transformer import EvolvedDecoder, EvolvedEncoder
from fairseq_plugins.modules.genome_cell import GenomeDecoder, GenomeEncoder


@register_model("genome_transformer")
class GenomeTransformerModel(TransformerModel):
    """Encoder and decoder cells from a genome, inside fairseq's Transformer stacks."""

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        parser.add_argument(
            "--genome",
            metavar="GENOME",
            help="JSON file, compact genome, or seed name (transformer, evolved_transformer)",
        )

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        args.encoder_normalize_before = args.decoder_normalize_before = True
        _, args.genome = resolve_genome(
            getattr(args, "genome", None) or "transformer",
            d=args.encoder_embed_dim,
            heads=args.encoder_attention_heads,
            lm=False,
        )
        return super().build_model(args, task)

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        return GenomeEncoder(
            TransformerConfig.from_namespace(args),
            src_dict,
            embed_tokens,
            from_compact(args.genome).encoder,
        )

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        genome = from_compact(args.genome)
        assert genome.encoder is not None
        return GenomeDecoder(
            TransformerConfig.from_namespace(args),
            tgt_dict,
            embed_tokens,
            genome.decoder,
            encoder_dim=int(stack_output_width(genome.encoder) * args.encoder_embed_dim),
        )


@register_model("evolved_transformer")
class EvolvedTransformerModel(TransformerModel):
    """The published Evolved Transformer, written out block by block
    (``fairseq_plugins/modules/evolved_transformer.py``)."""

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        args.encoder_normalize_before = args.decoder_normalize_before = True
        return super().build_model(args, task)

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        return EvolvedEncoder(TransformerConfig.from_namespace(args), src_dict, embed_tokens)

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        return EvolvedDecoder(TransformerConfig.from_namespace(args), tgt_dict, embed_tokens)


def _pre_norm(args) -> None:
    args.encoder_normalize_before = True
    args.decoder_normalize_before = True


@register_model_architecture("genome_transformer", "genome_transformer")
def genome_transformer(args):
    base_architecture(args)
    _pre_norm(args)


@register_model_architecture("genome_transformer", "genome_transformer_tiny")
def genome_transformer_tiny(args):
    """d=64, 2 heads (fairseq's ``transformer_tiny`` sizes); cells from the genome."""
    tiny_architecture(args)
    _pre_norm(args)


def _evolved(args, sizes) -> None:
    args.encoder_layers = 3  # cells; an ET cell is about two Transformer layers deep
    args.decoder_layers = 4
    sizes(args)
    _pre_norm(args)


@register_model_architecture("evolved_transformer", "evolved_transformer_tiny")
def evolved_transformer_tiny(args):
    """d=64, 2 heads (16-head branch: 16 heads of width 4), 3+4 cells (tests, demo)."""
    _evolved(args, tiny_architecture)


@register_model_architecture("evolved_transformer", "evolved_transformer_base")
def evolved_transformer_base(args):
    """``transformer_wmt_en_de`` sizes: d=512, 8 heads, FFN 2048 (4d); 3+4 cells."""
    _evolved(args, transformer_wmt_en_de)


@register_model_architecture("evolved_transformer", "evolved_transformer_big")
def evolved_transformer_big(args):
    """``transformer_vaswani_wmt_en_de_big`` sizes: d=1024, 16 heads, FFN 4096; 3+4 cells."""
    _evolved(args, transformer_vaswani_wmt_en_de_big)
